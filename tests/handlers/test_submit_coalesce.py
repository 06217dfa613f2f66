"""The submit handler in coalescing mode (UPLOAD_BATCH_SECONDS=60), end to end: COS upload events in the published
shape (events/cos-upload-*.json) -> handler -> official SDK -> emulator -> one UrlFile batch job that CI runs."""
from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

from tests.support.emulator import seed_image
from tests.support.entries import submit_entry
from tests.support.events import SAMPLE_EVENT_TIME, cos_event, load_event, timer_event
from tests.support.images import TS_STREAM, png
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator


# The samples' eventTime (2022-04-15T09:49:16Z), plus a few minutes: the function's clock in these tests. A record
# waits at most lib.upload_state.RECORD_MAX_WAIT for its flush, so the real clock, years later, would refuse it.
SAMPLE_CLOCK = datetime(2022, 4, 15, 9, 55, tzinfo=timezone.utc)


@pytest.fixture
def coalescing(acting_bucket, monkeypatch):
    monkeypatch.setenv("UPLOAD_BATCH_SECONDS", "60")
    return acting_bucket


@pytest.fixture
def submit():
    """The submit function on the samples' clock, in a cold instance of its own."""
    return submit_entry(clock=lambda: SAMPLE_CLOCK, cold=True)


def batch_jobs(backend):
    return [j for j in backend.jobs.values() if "-upload-batch-" in j.name]


def test_an_upload_event_becomes_a_batch_job_that_inspects_exactly_its_objects(coalescing, submit):
    seed_image(coalescing, "uploads/clean.png", png())
    seed_image(coalescing, "uploads/video.png", png() + TS_STREAM)
    seed_image(coalescing, "uploads/untouched.png", png() + TS_STREAM)
    # The sample's eventTime is minutes before the function's clock, so the cold instance's pass makes the job.
    result = submit(cos_event(["uploads/clean.png", "uploads/video.png"], event_time=SAMPLE_EVENT_TIME),
                          {"request_id": "r1"})
    assert result["recorded"] == 2 and [j["name"] for j in result["jobs"]] == [j.name for j in batch_jobs(coalescing)]
    assert coalescing.run_pending() == 1
    assert sorted(coalescing.list_keys(BUCKET, prefix="abnormal_images_backup/")) == [
        "abnormal_images_backup/uploads/video.png"]


def test_redeliveries_of_the_sample_events_add_no_job_and_the_timer_clears_their_late_markers(coalescing, submit):
    event = load_event("cos-upload-multi.json")
    first = submit(copy.deepcopy(event), {"request_id": "r1"})
    again = submit(copy.deepcopy(event), {"request_id": "r2"})
    assert len(first["jobs"]) == 1 and again["jobs"] == [] and again["recorded"] == 3
    assert coalescing.list_keys(BUCKET, prefix="autopilot/uploads/late/")  # the redelivery was late too
    tick = submit(timer_event(), {"request_id": "r3"})
    assert [j for j in tick["jobs"] if "-upload-batch-" in j["name"]] == []
    assert coalescing.list_keys(BUCKET, prefix="autopilot/uploads/late/") == []
    assert len(batch_jobs(coalescing)) == 1


def test_an_event_of_only_skipped_keys_records_nothing(coalescing, submit):
    result = submit(load_event("cos-folder-marker.json"), {"request_id": "r1"})
    assert result["recorded"] == 0 and result["skipped"]
    assert coalescing.list_keys(BUCKET, prefix="autopilot/uploads/") == []


def test_an_invalid_upload_batch_seconds_fails_naming_the_variable_and_the_value(coalescing, monkeypatch, submit):
    monkeypatch.setenv("UPLOAD_BATCH_SECONDS", "5")
    with pytest.raises(Exception, match="UPLOAD_BATCH_SECONDS='5'"):
        submit(cos_event(["uploads/a.png"], event_time=SAMPLE_EVENT_TIME), {"request_id": "r1"})
