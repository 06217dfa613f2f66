"""What the official SDK's own tests and demos exercise on CI (ImageInspect, batch jobs, per-object jobs,
workflows), through the unmodified SDK over HTTP.

Yardstick: tencentyun/cos-python-sdk-v5 at cc3bdf0 (read 2026-12-01), ``ut/test.py`` and ``demo/ci_media.py`` /
``demo/ci_image.py``; each test names the function it mirrors. ut/test.py sends
``kwargs = {"CacheControl": "no-cache", "ResponseCacheControl": "no-cache"}`` on every CI call, so every call here
does too (``NO_CACHE``): CI ignores the ``response-cache-control`` parameter it does not use. Wire facts: trigger
workflow https://www.tencentcloud.com/zh/document/product/1045/50340; Go SDK ci_media.go (UpdateMediaWorkflow,
TriggerWorkflow); CI error codes https://cloud.tencent.com.cn/document/product/436/53983 (all read 2026-12-01).
"""
from __future__ import annotations

import json

import pytest
from qcloud_cos import CosServiceError

from tests.emulator.factories import png, suspicious_png
from tests.support.emulator import ci_get
from tests.support.settings import REGION

pytestmark = pytest.mark.emulator

NO_CACHE = {"CacheControl": "no-cache", "ResponseCacheControl": "no-cache"}
JOB_BODY = {  # ut/test.py test_ci_create_inventory_trigger_jobs
    "Name": "image-inspect-auto-move-batch-process", "Type": "Job", "Input": {"Object": "test.png"},
    "Operation": {"Tag": "ImageInspect", "JobParam": {"ImageInspect": {"AutoProcess": "false"}}}}


def _workflow(process_type: str, state: str = "Paused") -> dict:
    """ut/test.py test_ci_workflow's body: Start (prefix, notify config, ext filter) → ImageInspectNode → End."""
    return {"MediaWorkflow": {"Name": "image-inspect", "State": state, "Topology": {
        "Dependencies": {"Start": "ImageInspectNode", "ImageInspectNode": "End"},
        "Nodes": {
            "Start": {"Type": "Start", "Input": {
                "ObjectPrefix": "test",
                "NotifyConfig": {"Type": "Url", "Url": "http://www.callback.com", "Event": "WorkflowFinish,TaskFinish",
                                 "ResultFormat": ""},
                "ExtFilter": {"State": "On", "Image": "true"}}},
            "ImageInspectNode": {"Type": "ImageInspect", "Operation": {
                "ImageInspect": {"AutoProcess": "true", "ProcessType": process_type}}}}}}}


def _code(err: CosServiceError) -> str:
    """The <Code> of a CI error body (the SDK reports CI errors' code as 'Unknown')."""
    return err.get_origin_msg().split("<Code>", 1)[1].split("</Code>", 1)[0]


def _executions(listed: dict) -> list:
    """Workflow executions of a list answer; issue 12 settles the element name, so accept both spellings."""
    found = listed.get("WorkflowExecutionList", listed.get("WorkflowExecution", []))
    return found if isinstance(found, list) else [found]


def _execution(sdk_client, bucket, run_id) -> dict:
    got = sdk_client.ci_get_workflowexecution(Bucket=bucket, RunId=run_id, **NO_CACHE)["WorkflowExecution"]
    return got[0] if isinstance(got, list) else got


def _create_job(sdk_client, bucket, body=None) -> str:
    created = sdk_client.ci_create_inventory_trigger_jobs(Bucket=bucket, JobBody=body or JOB_BODY,
                                                          ContentType="application/xml", **NO_CACHE)
    return created["JobsDetail"][0]["JobId"]


def test_image_inspect_answers_the_detector_json(sdk_client, bucket):
    # demo/ci_image.py ci_image_inspect: GET <key>?imageInspect, JSON body with "suspicious"
    sdk_client.put_object(Bucket=bucket, Key="heichan.png", Body=suspicious_png())
    sdk_client.put_object(Bucket=bucket, Key="clean.png", Body=png())
    _, data = sdk_client.ci_image_inspect(Bucket=bucket, Key="heichan.png")
    assert json.loads(data)["suspicious"] is True
    _, data = sdk_client.ci_image_inspect(Bucket=bucket, Key="clean.png")
    assert json.loads(data)["suspicious"] is False


def test_create_job_with_response_cache_control_then_poll_until_success(sdk_client, bucket, emulator):
    # ut/test.py test_ci_create_inventory_trigger_jobs (it polls every 5 s; here the test steps the job)
    sdk_client.put_object(Bucket=bucket, Key="test.png", Body=png())
    job_id = _create_job(sdk_client, bucket)
    states = []
    while not states or states[-1] not in ("Success", "Failed"):
        emulator.backend.step()
        states.append(sdk_client.ci_get_inventory_trigger_jobs(Bucket=bucket, JobID=job_id, **NO_CACHE)[
            "JobsDetail"][0]["State"])
    assert states == ["Running", "Success"]


def test_delete_inventory_trigger_job_cancels_it(sdk_client, bucket, emulator):
    # ut/test.py test_ci_delete_inventory_trigger_jobs; demo/ci_media.py ci_delete_inventory_trigger_jobs
    job_id = _create_job(sdk_client, bucket)
    response = sdk_client.ci_delete_inventory_trigger_jobs(Bucket=bucket, JobId=job_id, **NO_CACHE)
    assert response.status_code == 200
    assert emulator.backend.get_job(job_id).state == "Cancel"


def test_list_inventory_trigger_jobs_of_type_job(sdk_client, bucket):
    # ut/test.py test_ci_list_inventory_trigger_jobs; demo/ci_media.py ci_list_inventory_trigger_jobs
    job_id = _create_job(sdk_client, bucket)
    listed = sdk_client.ci_list_inventory_trigger_jobs(Bucket=bucket, Type="Job", **NO_CACHE)
    assert [j["JobId"] for j in listed["JobsDetail"]] == [job_id]


def test_workflow_batch_job_from_the_demo_body_runs_the_workflow(sdk_client, bucket, emulator):
    # demo/ci_media.py ci_create_image_inspect_workflow_batch_jobs (Prefix '/', TimeInterval) on an Active workflow
    sdk_client.put_object(Bucket=bucket, Key="a.png", Body=suspicious_png())
    wid = sdk_client.ci_create_workflow(Bucket=bucket, Body=_workflow("BackupObject", "Active"), **NO_CACHE)[
        "MediaWorkflow"]["WorkflowId"]
    body = {"Name": "image-inspect-auto-move-batch-process", "Type": "Workflow", "Input": {"Prefix": "/"},
            "Operation": {"TimeInterval": {"Start": "2023-05-01T00:00:00+0800", "End": "2099-06-01T00:00:00+0800"},
                          "WorkflowIds": wid}}
    job_id = _create_job(sdk_client, bucket, body)
    emulator.backend.run_pending()
    executions = sdk_client.ci_list_workflowexecution(Bucket=bucket, WorkflowId=wid, BatchJobId=job_id, **NO_CACHE)
    assert [e["Object"] for e in _executions(executions)] == ["a.png"]
    assert sdk_client.object_exists(Bucket=bucket, Key="abnormal_images_backup/a.png")


def test_documented_sample_body_with_all_four_input_children_three_empty_is_accepted(sdk_client, bucket, emulator):
    # the create page (https://cloud.tencent.com/document/api/436/76888) lists all four Input children as optional;
    # issue 13 reports a documented sample with all four present and three empty: accept it, as the service does
    sdk_client.put_object(Bucket=bucket, Key="in/a.png", Body=png())
    sdk_client.put_object(Bucket=bucket, Key="out.png", Body=png())
    body = dict(JOB_BODY, Input={"Manifest": "", "UrlFile": "", "Prefix": "in/", "Object": ""})
    job_id = _create_job(sdk_client, bucket, body)
    emulator.backend.run_pending()
    jobs = ci_get(sdk_client, "/jobs", {"tag": "ImageInspect", "inventoryTriggerJobId": job_id})["JobsDetail"]
    assert [j["Input"]["Object"] for j in jobs] == ["in/a.png"]


def test_input_with_two_filled_children_is_400_naming_them(sdk_client, bucket, emulator):
    # inferred: the create page (436/76888) describes one input source per job; which code refuses two is unstated
    body = dict(JOB_BODY, Input={"Prefix": "in/", "Object": "a.png"})
    with pytest.raises(CosServiceError) as err:
        _create_job(sdk_client, bucket, body)
    assert (err.value.get_status_code(), _code(err.value)) == (400, "InvalidArgument")
    assert "Prefix, Object" in err.value.get_origin_msg()
    assert emulator.backend.jobs == {}


def test_workflow_create_update_state_get_trigger_delete(sdk_client, bucket, emulator):
    # ut/test.py test_ci_workflow and its ci_trigger_workflow; demo/ci_media.py ci_update_workflow,
    # ci_update_workflow_state, ci_get_workflow, ci_trigger_workflow, ci_get_workflowexecution, ci_delete_workflow
    sdk_client.put_object(Bucket=bucket, Key="test.png", Body=suspicious_png())
    wid = sdk_client.ci_create_workflow(Bucket=bucket, Body=_workflow("BackupObject"), ContentType="application/xml",
                                        **NO_CACHE)["MediaWorkflow"]["WorkflowId"]
    updated = sdk_client.ci_update_workflow(Bucket=bucket, WorkflowId=wid, Body=_workflow("SwitchObjectToPrivate"),
                                            ContentType="application/xml", **NO_CACHE)["MediaWorkflow"]
    assert updated["WorkflowId"] == wid
    assert updated["Topology"]["Nodes"]["ImageInspectNode"]["Operation"]["ImageInspect"]["ProcessType"] == \
        "SwitchObjectToPrivate"
    active = sdk_client.ci_update_workflow_state(Bucket=bucket, WorkflowId=wid, UpdateState="active",
                                                 ContentType="application/xml", **NO_CACHE)
    assert active["MediaWorkflow"]["State"] == "Active"
    listed = sdk_client.ci_get_workflow(Bucket=bucket, Ids=wid, Name="image-inspect", ContentType="application/xml",
                                        **NO_CACHE)
    assert listed["MediaWorkflowList"][0]["WorkflowId"] == wid
    paused = sdk_client.ci_update_workflow_state(Bucket=bucket, WorkflowId=wid, UpdateState="paused",
                                                 ContentType="application/xml", **NO_CACHE)
    assert paused["MediaWorkflow"]["State"] == "Paused"
    run_id = sdk_client.ci_trigger_workflow(Bucket=bucket, WorkflowId=wid, Key="test.png", **NO_CACHE)["InstanceId"]
    execution = _execution(sdk_client, bucket, run_id)
    assert (execution["RunId"], execution["Object"], execution["State"]) == (run_id, "test.png", "Success")
    assert emulator.backend.get_object(bucket, "test.png").acl == "private"  # the updated node ran
    assert sdk_client.ci_delete_workflow(Bucket=bucket, WorkflowId=wid, **NO_CACHE)["WorkflowId"] == wid


def test_update_of_an_unknown_workflow_is_404_and_creates_nothing(sdk_client, bucket, emulator):
    # inferred: no page shows updating an unknown id; 404 NoSuchWorkflow is what get/delete answer here
    with pytest.raises(CosServiceError) as err:
        sdk_client.ci_update_workflow(Bucket=bucket, WorkflowId="wmissing", Body=_workflow("BackupObject"))
    assert err.value.get_status_code() == 404
    assert emulator.backend.workflows == {}


def test_trigger_on_a_missing_object_gives_a_failed_execution(sdk_client, bucket):
    # inferred: the trigger page (1045/50340) answers an InstanceId at once and runs later; no page shows the run
    # of a missing object (docs/emulator.md fidelity table: inference)
    wid = sdk_client.ci_create_workflow(Bucket=bucket, Body=_workflow("BackupObject"))["MediaWorkflow"]["WorkflowId"]
    run_id = sdk_client.ci_trigger_workflow(Bucket=bucket, WorkflowId=wid, Key="absent.png")["InstanceId"]
    assert _execution(sdk_client, bucket, run_id)["State"] == "Failed"


def test_trigger_without_object_is_400(sdk_client, bucket):
    # the trigger page (1045/50340, and 436/76863) marks workflowId and object 是否必选: 是; the code is inferred
    wid = sdk_client.ci_create_workflow(Bucket=bucket, Body=_workflow("BackupObject"))["MediaWorkflow"]["WorkflowId"]
    with pytest.raises(CosServiceError) as err:
        sdk_client.ci_trigger_workflow(Bucket=bucket, WorkflowId=wid, Key="")
    assert (err.value.get_status_code(), _code(err.value)) == (400, "InvalidArgument")


def test_list_workflowexecution_with_time_bounds_and_empty_batch_job_id(sdk_client, bucket):
    # ut/test.py test_ci_list_workflowexecution (StartCreationTime/EndCreationTime, BatchJobId='')
    wid = sdk_client.ci_create_workflow(Bucket=bucket, Body=_workflow("BackupObject"))["MediaWorkflow"]["WorkflowId"]
    sdk_client.put_object(Bucket=bucket, Key="test.png", Body=png())
    run_id = sdk_client.ci_trigger_workflow(Bucket=bucket, WorkflowId=wid, Key="test.png", **NO_CACHE)["InstanceId"]
    listed = sdk_client.ci_list_workflowexecution(Bucket=bucket, WorkflowId=wid, StartCreationTime="2020-01-01T00:00:00+0800",
                                                  EndCreationTime="2099-01-01T00:00:00+0800", BatchJobId="", **NO_CACHE)
    assert listed["RequestId"]
    assert [e["RunId"] for e in _executions(listed)] == [run_id]  # an empty BatchJobId filters nothing out


def test_per_object_jobs_are_listed_and_fetched_with_the_sdks_media_job_calls(sdk_client, bucket, emulator):
    # per-object jobs a Job-type batch job spawns, through ci_list_media_jobs (GET /jobs) and ci_get_media_jobs
    # (GET /jobs/<id>), the SDK calls its ut/test.py uses for other tags (test_ci_list_media_pic_jobs, …)
    sdk_client.put_object(Bucket=bucket, Key="test.png", Body=suspicious_png())
    _create_job(sdk_client, bucket)
    emulator.backend.run_pending()
    listed = sdk_client.ci_list_media_jobs(Bucket=bucket, Tag="ImageInspect", **NO_CACHE)["JobsDetail"]
    got = sdk_client.ci_get_media_jobs(Bucket=bucket, JobIDs=listed[0]["JobId"], **NO_CACHE)["JobsDetail"][0]
    result = got["Operation"]["ImageInspectResult"]["ProcessResult"]
    assert (got["Input"]["Object"], result["Suspicious"]) == ("test.png", "true")


@pytest.mark.parametrize("config, code", [({"secret_key": "wrong"}, "SignatureDoesNotMatch"),
                                          ({"secret_id": "AKIDother"}, "InvalidAccessKeyId")])
def test_ci_authentication_failure_is_401_with_ci_error_xml(emulator, bucket, config, code):
    # CI's error-code page (436/53983, intl 1045/43611) lists authentication failures as 401, as issue 13 reads it;
    # COS answers the same failures with 403. The code names are COS's (inferred: the excerpts stop at the 400s)
    sdk_client = emulator.client(region=REGION, **config)
    with pytest.raises(CosServiceError) as err:
        sdk_client.ci_list_inventory_trigger_jobs(Bucket=bucket, Type="Job", **NO_CACHE)
    assert (err.value.get_status_code(), _code(err.value)) == (401, code)
    assert "<Resource>" not in err.value.get_origin_msg()  # CI's error body has no Resource


def test_get_media_queue_lists_the_bucket_queue_as_active(sdk_client, bucket):
    # ut/test.py test_ci_get_media_queue: State="Active" with NO_CACHE, asserts QueueList; API page 436/54045
    (queue,) = sdk_client.ci_get_media_queue(Bucket=bucket, State="Active", **NO_CACHE)["QueueList"]
    assert (queue["State"], queue["Category"], queue["QueueId"][:1], len(queue["QueueId"])) == (
        "Active", "Transcoding", "p", 33)


def test_get_media_queue_names_unknown_ids_under_non_exist_pids(sdk_client, bucket):
    # Go SDK ci_media.go DescribeMediaProcessQueuesResult.NonExistPIDs; queueIds is the Python SDK's QueueIds
    listed = sdk_client.ci_get_media_queue(Bucket=bucket, QueueIds="p" + "0" * 32, **NO_CACHE)
    assert (listed.get("QueueList"), listed["NonExistPIDs"], listed["TotalCount"]) == (None, "p" + "0" * 32, "0")


def test_get_media_queue_in_another_state_lists_nothing(sdk_client, bucket):
    # inferred: the bucket's one queue is Active, so a State=Paused filter (API page 436/54045) leaves none
    listed = sdk_client.ci_get_media_queue(Bucket=bucket, State="Paused", **NO_CACHE)
    assert (listed.get("QueueList"), listed["TotalCount"]) == (None, "0")
