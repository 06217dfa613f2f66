"""Emulator side of issue 12: for the calls the client makes, the emulator answers with the documented element
tree (names, nesting, which elements repeat) and the documented semantics, through the official SDK over HTTP.

The samples are tests/contract/samples/* (each names its source and the date it was read)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from qcloud_cos.cos_auth import CosS3Auth

from handlers.report import main_handler
from tests.contract.support import Tree, sample
from tests.emulator.factories import job_body, png, workflow_body, workflow_job_body
from tests.support.events import REPORT_TIMER, timer_event
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator

CST = timezone(timedelta(hours=8))
T = datetime(2026, 11, 28, 16, 0, 0, tzinfo=timezone.utc)  # a tick; records are created 0.4 s into its second
CREATED = T + timedelta(milliseconds=400)
# Elements the emulator sends beyond the API pages' samples, each with the published source that names it:
BATCH_JOB_EXTRAS = {
    "Response/JobsDetail/Tag",  # Go SDK ci_media.go InventoryTriggerJobDetail.Tag
    "Response/JobsDetail/QueueId",  # Go SDK ci_media.go InventoryTriggerJobDetail.QueueId
    "Response/JobsDetail/Operation/Tag",  # the request's own Operation.Tag (1045/50369), echoed
}


@pytest.fixture(autouse=True)
def bucket_created_at_created(emulator):
    """Every test here reads jobs the emulator's BUCKET holds, created at CREATED."""
    emulator.backend.create_bucket(BUCKET)
    emulator.backend.set_clock(lambda: CREATED)


def ci_raw(sdk_client, path, params):
    """A signed CI GET, as lib/client.py sends `GET /jobs`; the raw XML bytes."""
    url = sdk_client._conf.uri(bucket=BUCKET, path=path, endpoint=sdk_client._conf._endpoint_ci)
    return sdk_client.send_request(method="GET", url=url, bucket=BUCKET, auth=CosS3Auth(sdk_client._conf, path,
                                                                                        params=params),
                                   params=params, headers={}, ci_request=True).content


def cst(moment):
    return moment.astimezone(CST).strftime("%Y-%m-%dT%H:%M:%S+0800")


def image_job(sdk_client, emulator, name="autopilot-contract-job"):
    job_id = sdk_client.ci_create_inventory_trigger_jobs(Bucket=BUCKET, JobBody=job_body(name=name))[
        "JobsDetail"][0]["JobId"]
    emulator.backend.run_pending()
    return job_id


def workflow_job(sdk_client, emulator):
    wid = sdk_client.ci_create_workflow(Bucket=BUCKET, Body=workflow_body())["MediaWorkflow"]["WorkflowId"]
    job_id = sdk_client.ci_create_inventory_trigger_jobs(Bucket=BUCKET, JobBody=workflow_job_body(wid))[
        "JobsDetail"][0]["JobId"]
    emulator.backend.run_pending()
    return wid, job_id


def two_images(emulator):
    for key in ("a.png", "b.png"):
        emulator.backend.put_object(BUCKET, key, png())


# --- element trees -----------------------------------------------------------------------------------------

def test_workflow_execution_list_has_the_documented_tree_with_repeated_workflow_execution_list(sdk_client, emulator):
    two_images(emulator)
    wid, job_id = workflow_job(sdk_client, emulator)
    served = Tree(ci_raw(sdk_client, "/workflowexecution", {"workflowId": wid, "jobId": job_id}))
    documented = Tree(sample("workflowexecution-list.api-page.xml"))
    assert served.paths <= documented.paths
    assert served.repeated == documented.repeated == {"Response/WorkflowExecutionList"}


def test_queue_list_has_the_documented_tree(sdk_client):
    served = Tree(ci_raw(sdk_client, "/queue", {}))
    documented = Tree(sample("queue-list.xml"))
    assert served.paths <= documented.paths
    assert "Response/QueueList/QueueId" in served.paths


@pytest.mark.parametrize("kind", ["Job", "Workflow"])
def test_batch_job_detail_has_the_documented_tree(sdk_client, emulator, kind):
    two_images(emulator)
    job_id = image_job(sdk_client, emulator) if kind == "Job" else workflow_job(sdk_client, emulator)[1]
    served = Tree(ci_raw(sdk_client, f"/inventorytriggerjob/{job_id}", {}))
    documented = Tree(sample(f"inventorytriggerjob-get.{kind.lower()}.xml"))
    assert served.paths - documented.paths <= BATCH_JOB_EXTRAS
    assert {"Response/JobsDetail/Type", "Response/JobsDetail/CreationTime"} <= served.paths


# --- point 4: the queue the client finds is the one per-object jobs are listed under ------------------------

def test_per_object_jobs_list_under_the_bucket_queue_and_no_other(sdk_client, emulator):
    two_images(emulator)
    job_id = image_job(sdk_client, emulator)
    queue_id = sdk_client.ci_get_media_queue(Bucket=BUCKET)["QueueList"][0]["QueueId"]
    query = {"tag": "ImageInspect", "inventoryTriggerJobId": job_id}
    assert Tree(ci_raw(sdk_client, "/jobs", {**query, "queueId": queue_id})).repeated == {"Response/JobsDetail"}
    assert "Response/JobsDetail" not in Tree(ci_raw(sdk_client, "/jobs", {**query, "queueId": "p" + "0" * 32})).paths


def test_the_report_handler_sends_the_queue_it_found_once(sdk_client, emulator, env, monkeypatch):
    monkeypatch.setenv("COS_EMULATOR_URL", emulator.url)
    monkeypatch.setenv("TENCENTCLOUD_SECRETID", emulator.secret_id)
    monkeypatch.setenv("TENCENTCLOUD_SECRETKEY", emulator.secret_key)
    monkeypatch.delenv("TENCENTCLOUD_SESSIONTOKEN")
    two_images(emulator)
    image_job(sdk_client, emulator, "autopilot-contract-1")
    image_job(sdk_client, emulator, "autopilot-contract-2")
    queue_id = sdk_client.ci_get_media_queue(Bucket=BUCKET)["QueueList"][0]["QueueId"]
    emulator.request_log.clear()
    tick = timer_event("2026-11-29T00:00:00Z", name=REPORT_TIMER)
    summary = main_handler(tick, {"request_id": "r-q"})["summary"]
    assert summary["objects"]["inspected"] == 4
    assert len(emulator.request_log.filter(path="/queue")) == 1
    assert [r.query.get("queueId") for r in emulator.request_log.filter(path="/jobs")] == [queue_id, queue_id]


# --- point 5: time bounds as the API pages word them ----------------------------------------------------------
# Batch-job list (436/71518) and workflow executions (436/80048): 大于等于 / 小于等于, both inclusive.
# GET /jobs (1545/65273): 大于 / 小于, both strict. CreationTime has whole seconds, so bounds compare at seconds.
SECOND = timedelta(seconds=1)
BOUNDS = [  # (start, end) around the record's second T, and whether an inclusive / a strict list returns it
    ((T, T + SECOND), True, False),  # created on the start second
    ((T - SECOND, T), True, False),  # created on the end second (0.4 s after it)
    ((T - SECOND, T + SECOND), True, True),  # strictly inside
    ((T + SECOND, T + 2 * SECOND), False, False),  # before start
    ((T - 2 * SECOND, T - SECOND), False, False),  # after end
]


@pytest.mark.parametrize(("bounds", "inclusive", "strict"), BOUNDS)
def test_batch_job_list_includes_both_bounds(sdk_client, emulator, bounds, inclusive, strict):
    image_job(sdk_client, emulator)
    listed = sdk_client.ci_list_inventory_trigger_jobs(Bucket=BUCKET, Type="Job", StartCreationTime=cst(bounds[0]),
                                                       EndCreationTime=cst(bounds[1]))
    assert len(listed.get("JobsDetail", [])) == (1 if inclusive else 0)


@pytest.mark.parametrize(("bounds", "inclusive", "strict"), BOUNDS)
def test_workflow_execution_list_includes_both_bounds(sdk_client, emulator, bounds, inclusive, strict):
    emulator.backend.put_object(BUCKET, "a.png", png())
    wid, job_id = workflow_job(sdk_client, emulator)
    listed = sdk_client.ci_list_workflowexecution(Bucket=BUCKET, WorkflowId=wid, BatchJobId=job_id,
                                                  StartCreationTime=cst(bounds[0]), EndCreationTime=cst(bounds[1]))
    assert ("WorkflowExecutionList" in listed) == inclusive


@pytest.mark.parametrize(("bounds", "inclusive", "strict"), BOUNDS)
def test_per_object_job_list_excludes_both_bounds(sdk_client, emulator, bounds, inclusive, strict):
    emulator.backend.put_object(BUCKET, "a.png", png())
    job_id = image_job(sdk_client, emulator)
    served = Tree(ci_raw(sdk_client, "/jobs", {"tag": "ImageInspect", "inventoryTriggerJobId": job_id,
                                               "startCreationTime": cst(bounds[0]), "endCreationTime": cst(bounds[1])}))
    assert ("Response/JobsDetail" in served.paths) == strict
