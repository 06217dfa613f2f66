"""Issue 12 points 1 and 5 end to end: the UrlFile the submit handler sends is the manifest's object URL in the SDK
demo's request shape, CI can read it, and consecutive report windows count a job on a boundary second once."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import pytest

from handlers.report import main_handler as report_handler
from handlers.submit import main_handler as submit_handler
from tests.contract.support import Tree, sample
from tests.emulator.factories import job_body, png
from tests.support.events import REPORT_TIMER, load_event, timer_event
from tests.support.settings import BUCKET, REGION

CONTEXT = {"request_id": "req-u1"}
HOST = f"https://{BUCKET}.cos.{REGION}.myqcloud.com/"


def test_upload_job_body_has_the_sdk_demo_tree_and_the_manifest_url(env, ci_wire):
    submit_handler(load_event("cos-upload-multi.json"), CONTEXT)
    (body,) = ci_wire.created_bodies
    sent = Tree(body)
    assert sent.paths == Tree(sample("inventorytriggerjob-create.job-urlfile.request.xml")).paths
    url = ET.fromstring(body).findtext("Input/UrlFile")  # noqa: S314 - our own request body
    assert url.startswith(f"{HOST}autopilot/manifests/") and url.endswith(".txt")
    # CI fetches that URL: the object behind it is the manifest the handler wrote, one object URL per line.
    assert ci_wire.objects[url[len(HOST):]].decode().splitlines()[0].startswith(f"{HOST}uploads/")


@pytest.fixture
def live(emulator, env, monkeypatch):
    """The function's environment pointed at the emulator's bucket."""
    emulator.backend.create_bucket(BUCKET)
    monkeypatch.setenv("COS_EMULATOR_URL", emulator.url)
    monkeypatch.setenv("TENCENTCLOUD_SECRETID", emulator.secret_id)
    monkeypatch.setenv("TENCENTCLOUD_SECRETKEY", emulator.secret_key)
    monkeypatch.delenv("TENCENTCLOUD_SESSIONTOKEN")
    return emulator


@pytest.mark.emulator
def test_ci_reads_the_manifest_the_upload_handler_names(live):
    keys = ["uploads/a.jpg", "uploads/b.png", "uploads/c.gif"]
    for key in keys:
        live.backend.put_object(BUCKET, key, png())
    result = submit_handler(load_event("cos-upload-multi.json"), CONTEXT)
    live.backend.run_pending()
    job = live.backend.get_job(result["jobs"][0]["job_id"])
    assert (job.state, job.code) == ("Success", "Success")
    assert sorted(j.key for j in live.backend.inspect_jobs.values()) == keys


# Point 5: the batch-job list's endCreationTime is inclusive (小于等于, 436/71518), so the list behind the window
# ending at a tick also returns a job created on that tick's second; the report leaves it to the next window.
TICK = datetime(2026, 11, 29, 0, 0, 0, tzinfo=timezone.utc)


@pytest.mark.emulator
@pytest.mark.parametrize("created", [TICK, TICK + timedelta(milliseconds=400), TICK + timedelta(milliseconds=999),
                                     TICK - timedelta(milliseconds=1)])
def test_a_job_created_on_a_boundary_second_is_counted_in_exactly_one_report(live, created):
    live.backend.set_clock(lambda: created)
    client = live.client(region=REGION)
    client.ci_create_inventory_trigger_jobs(Bucket=BUCKET, JobBody=job_body(name="autopilot-boundary"))
    ticks = [TICK - timedelta(days=1), TICK, TICK + timedelta(days=1)]
    totals = [report_handler(timer_event(t, name=REPORT_TIMER), CONTEXT)["summary"]["total_jobs"] for t in ticks]
    assert sum(totals) == 1
    assert totals[2 if created >= TICK else 1] == 1  # the window [tick, tick + 1d) holds the tick's own second
