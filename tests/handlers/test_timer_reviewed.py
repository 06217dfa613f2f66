"""Issue 26 point 3, the timer's Prefix windows: a reviewed image (key + ETag recorded by the operator) stays out of
every later window. A Prefix job cannot leave an object out, so a window whose listing (the count before submit,
issue 25) finds a reviewed (key, ETag) is sent as a UrlFile of its other objects, its manifest written as an upload's
is; a window without one is the Prefix job it always was; a window too big to list whole stays a Prefix job and says
reviewed images in it may be inspected again (docs/review.md).

A restore copies the image back, so it gets a new Last-Modified and lands in the next incremental window: that is the
case proven here, through the submit handler over the emulator. GET Bucket lists each key's ETag (436/7734;
cos-go-sdk-v5 bucket_test.go TestBucketService_Get), so the listing the count makes anyway names the content."""
from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone

import pytest

from lib.config import load_settings
from lib.errors import JobMismatchError, PlanError
from lib.review import ReviewRecord, ReviewStore, record_name
from lib.submit.confirm import confirm_plan, decline_plan
from lib.submit.run import Deps
from ops.plans import timer_preview
from tests.support.emulator import seed_image
from tests.support.entries import no_sleep, quick_client, submit_entry
from tests.support.events import timer_event
from tests.support.flagged import BACKUP, clean_image, hiding_image
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator
CONTEXT = {"request_id": "r1", "time_limit_in_ms": 60000}
TICK = datetime(2026, 11, 28, 16, 0, tzinfo=timezone.utc)  # first window [15:00, 16:00): the image is flagged
NEXT = TICK + timedelta(hours=1)  # the window [16:00, 17:00) the restored copy lands in
RESTORED_AT = TICK + timedelta(minutes=30)
DECIDED_AT = RESTORED_AT + timedelta(minutes=1)
IMAGE = "uploads/hidden.png"
OTHER = "uploads/other.png"
CHECKPOINT = "autopilot/checkpoints/hourly.json"


def tick(when: datetime):
    return submit_entry(clock=lambda: when + timedelta(minutes=1))(timer_event(when), CONTEXT)


def operator(when: datetime = NEXT + timedelta(minutes=1)) -> Deps:
    settings = load_settings(os.environ)
    return Deps(client=quick_client(settings), clock=lambda: when, sleep=no_sleep, owner="operator")


def etag_of(bucket, key: str) -> str:
    return bucket.get_object(BUCKET, key).etag.strip('"')


def job_of(bucket, result):
    return bucket.get_job(result["jobs"][0]["job_id"])


def inspected_by(bucket, job_id: str):
    while bucket.run_pending():
        pass
    with bucket.lock:
        return sorted(j.key for j in bucket.inspect_jobs.values() if j.batch_job_id == job_id)


def checkpoint_end(bucket) -> datetime:
    return datetime.fromisoformat(json.loads(bucket.get_object(BUCKET, CHECKPOINT).data)["end"].replace("Z", "+00:00"))


@pytest.fixture
def rule(acting_bucket, monkeypatch):
    """An hourly incremental rule over uploads/ that backs up what it flags."""
    monkeypatch.setenv("INPUT_PREFIX", "uploads/")
    return acting_bucket


@pytest.fixture
def flagged(rule):
    """The image flagged and moved to the backup by the first window's Prefix job: (its bytes, that job's id)."""
    data = hiding_image(b"mickey")
    seed_image(rule, IMAGE, data)
    result = tick(TICK)
    assert inspected_by(rule, result["jobs"][0]["job_id"]) == [IMAGE]
    assert rule.list_keys(BUCKET, prefix="uploads/") == [] and rule.list_keys(BUCKET, prefix=BACKUP) == [BACKUP + IMAGE]
    return data, result["jobs"][0]["job_id"]


def restore(bucket, data: bytes, job_id: str) -> str:
    """What `flagged restore` leaves (simulated): the same bytes back at the key, the backup gone, the decision
    recorded through ReviewStore. Returns the restored ETag."""
    bucket.delete_object(BUCKET, BACKUP + IMAGE)
    seed_image(bucket, IMAGE, data, uploaded=RESTORED_AT)
    etag = etag_of(bucket, IMAGE)
    ReviewStore(operator().client, "autopilot/", lambda: DECIDED_AT).record(ReviewRecord(
        key=IMAGE, etag=etag, decision="restored", decided_at=DECIDED_AT, job_id=job_id, action="BackupObject"))
    return etag


@pytest.fixture
def restored(rule, flagged):
    """The image restored after the first window, and a clean upload beside it in the next window."""
    restore(rule, *flagged)
    seed_image(rule, OTHER, clean_image(), uploaded=RESTORED_AT)
    return flagged[0]


def test_a_restored_image_copied_back_unchanged_is_not_inspected_or_moved_by_the_next_window(rule, restored):
    result = tick(NEXT)
    assert inspected_by(rule, result["jobs"][0]["job_id"]) == [OTHER]
    assert rule.get_object(BUCKET, IMAGE).data == restored
    assert rule.list_keys(BUCKET, prefix=BACKUP) == []


def test_a_window_with_a_reviewed_image_is_sent_as_a_urlfile_of_its_other_objects(rule, restored):
    result = tick(NEXT)
    job = job_of(rule, result)
    manifest = job.input_value.split(".myqcloud.com/", 1)[1]
    assert job.input_kind == "UrlFile" and manifest.startswith("autopilot/manifests/window-")
    assert rule.get_object(BUCKET, manifest).data.decode() == \
        f"https://{BUCKET}.cos.ap-guangzhou.myqcloud.com/uploads/other.png\n"
    assert job.name == f"autopilot-hourly-{TICK:%Y%m%dT%H%M%SZ}-{NEXT:%Y%m%dT%H%M%SZ}"
    assert result["jobs"][0]["estimate"]["count"]["objects"] == 1
    assert "1 reviewed image left out" in result["note"]


def test_the_urlfile_window_moves_the_checkpoint_to_its_end(rule, restored):
    tick(NEXT)
    assert checkpoint_end(rule) == NEXT


def test_a_restored_image_whose_content_changed_is_inspected_and_moved_again(rule, flagged):
    restore(rule, *flagged)
    seed_image(rule, IMAGE, hiding_image(b"changed"), uploaded=RESTORED_AT + timedelta(minutes=2))
    result = tick(NEXT)
    assert job_of(rule, result).input_kind == "Prefix"
    assert inspected_by(rule, result["jobs"][0]["job_id"]) == [IMAGE]
    assert rule.list_keys(BUCKET, prefix=BACKUP) == [BACKUP + IMAGE]


def test_a_window_without_reviewed_objects_is_still_a_prefix_job_with_one_listing_of_reviewed_more(
        rule, emulator):
    seed_image(rule, OTHER, clean_image())
    emulator.request_log.clear()
    result = tick(TICK)
    assert job_of(rule, result).input_kind == "Prefix" and job_of(rule, result).input_value == "uploads/"
    requests = emulator.request_log.snapshot()
    touching_reviews = [r for r in requests if "reviewed/" in r.path or "reviewed/" in r.query.get("prefix", "")]
    assert [(r.method, r.path, r.query.get("prefix")) for r in touching_reviews] == [
        ("GET", "/", "autopilot/reviewed/")]
    assert not [r for r in requests if r.method in ("HEAD", "PUT") and r.path.startswith("/uploads/")]
    assert not [r for r in requests if "/manifests/" in r.path]


def test_a_window_whose_objects_are_all_reviewed_sends_nothing_and_its_checkpoint_stays(rule, flagged):
    restore(rule, *flagged)
    result = tick(NEXT)
    assert result["jobs"] == [] and "every object in the window is a reviewed image" in result["note"]
    assert checkpoint_end(rule) == TICK


def test_after_an_all_reviewed_window_the_next_window_starts_where_it_did(rule, flagged):
    restore(rule, *flagged)
    tick(NEXT)
    seed_image(rule, OTHER, clean_image(), uploaded=NEXT + timedelta(minutes=30))
    result = tick(NEXT + timedelta(hours=1))
    assert result["jobs"][0]["window_start"].startswith("2026-11-29T00:00:00")  # 16:00 UTC, as CI reads +08:00
    assert inspected_by(rule, result["jobs"][0]["job_id"]) == [OTHER]


@pytest.mark.parametrize("forgery", ["names-other-content", "decided-in-the-future", "names-a-made-up-job"])
def test_a_forged_review_record_excludes_nothing(rule, flagged, forgery):
    data, job_id = flagged
    seed_image(rule, IMAGE, data, uploaded=RESTORED_AT)
    etag = etag_of(rule, IMAGE)
    record = ReviewRecord(key=IMAGE, etag=etag, decision="restored", decided_at=DECIDED_AT, job_id=job_id)
    record = record.model_copy(update={
        "names-other-content": {"etag": "0" * 32},  # stored under this content's name, about another content
        "decided-in-the-future": {"decided_at": NEXT + timedelta(days=1)},
        "names-a-made-up-job": {"job_id": "b" + "0" * 32},  # well formed, but CI holds no such job
    }[forgery])
    rule.put_object(BUCKET, record_name("autopilot/", IMAGE, etag), record.model_dump_json().encode())
    result = tick(NEXT)
    assert job_of(rule, result).input_kind == "Prefix"
    assert inspected_by(rule, result["jobs"][0]["job_id"]) == [IMAGE]
    assert "review record" in result["note"] and "ignored" in result["note"]


def test_a_window_too_big_to_list_stays_a_prefix_job_and_says_reviewed_images_may_be_inspected_again(
        rule, restored, monkeypatch):
    monkeypatch.setenv("COUNT_LIMIT", "1000")
    for n in range(1000):
        rule.put_object(BUCKET, f"uploads/bulk/{n:04d}.png", b"", last_modified=RESTORED_AT)
    result = tick(NEXT)
    assert job_of(rule, result).input_kind == "Prefix"
    assert result["jobs"][0]["estimate"]["count"]["complete"] is False
    assert "may be inspected (and acted on) again" in result["note"]


def test_a_job_found_by_name_on_a_rerun_of_the_window_is_the_urlfile_one(rule, restored):
    first = tick(NEXT)
    rule.delete_object(BUCKET, CHECKPOINT)  # as if the run died after its create, before the checkpoint
    again = submit_entry(clock=lambda: NEXT + timedelta(minutes=1))(timer_event(NEXT), CONTEXT)
    # No checkpoint: a first run's window is the hour before NEXT, the very window the first run sent.
    assert again["jobs"][0]["created"] is False and again["jobs"][0]["job_id"] == first["jobs"][0]["job_id"]
    assert again["jobs"][0]["input"].startswith("UrlFile=")


def test_a_rerun_that_lists_the_window_otherwise_finds_the_prefix_job_an_earlier_run_made(rule, flagged):
    seed_image(rule, OTHER, clean_image(), uploaded=RESTORED_AT)
    seed_image(rule, IMAGE, flagged[0], uploaded=RESTORED_AT)
    first = tick(NEXT)  # no review yet: the Prefix job
    rule.delete_object(BUCKET, CHECKPOINT)  # the run died after its create; the review is recorded before the retry
    ReviewStore(operator().client, "autopilot/", lambda: DECIDED_AT).record(ReviewRecord(
        key=IMAGE, etag=etag_of(rule, IMAGE), decision="restored", decided_at=DECIDED_AT))
    again = tick(NEXT)
    assert (again["jobs"][0]["job_id"], again["jobs"][0]["created"]) == (first["jobs"][0]["job_id"], False)
    assert again["jobs"][0]["input"] == "Prefix=uploads/" and checkpoint_end(rule) == NEXT


def test_a_rerun_that_lists_the_window_otherwise_finds_the_urlfile_job_an_earlier_run_made(rule, restored):
    first = tick(NEXT)
    rule.delete_object(BUCKET, CHECKPOINT)
    rule.delete_object(BUCKET, record_name("autopilot/", IMAGE, etag_of(rule, IMAGE)))
    again = tick(NEXT)
    assert (again["jobs"][0]["job_id"], again["jobs"][0]["created"]) == (first["jobs"][0]["job_id"], False)
    assert again["jobs"][0]["input"].startswith("UrlFile=") and checkpoint_end(rule) == NEXT


def test_a_job_of_the_windows_name_over_another_prefix_is_still_a_mismatch(rule, restored, monkeypatch):
    tick(NEXT)
    rule.delete_object(BUCKET, CHECKPOINT)
    monkeypatch.setenv("INPUT_PREFIX", "uploads/other")
    with pytest.raises(JobMismatchError):
        submit_entry(clock=lambda: NEXT + timedelta(minutes=1))(timer_event(NEXT), CONTEXT)


@pytest.fixture
def capped(rule, monkeypatch):
    monkeypatch.setenv("MAX_OBJECTS_PER_JOB", "1")
    return rule


def test_a_held_urlfile_window_is_confirmed_as_exactly_its_body_and_writes_its_manifest_then(capped, flagged):
    restore(capped, *flagged)
    for key in (OTHER, "uploads/third.png"):
        seed_image(capped, key, clean_image(), uploaded=RESTORED_AT)
    held = tick(NEXT)["held"][0]
    assert capped.list_keys(BUCKET, prefix="autopilot/manifests/") == []
    ref = confirm_plan(load_settings(os.environ), operator(), held["plan_id"])
    job = capped.get_job(ref.job_id)
    assert job.input_kind == "UrlFile" and inspected_by(capped, ref.job_id) == [OTHER, "uploads/third.png"]
    assert checkpoint_end(capped) == NEXT


def test_a_held_urlfile_window_whose_reviews_changed_is_refused_saying_why(capped, flagged):
    data, job_id = flagged
    restore(capped, data, job_id)
    for key in (OTHER, "uploads/third.png"):
        seed_image(capped, key, clean_image(), uploaded=RESTORED_AT)
    held = tick(NEXT)["held"][0]
    capped.delete_object(BUCKET, record_name("autopilot/", IMAGE, etag_of(capped, IMAGE)))
    with pytest.raises(PlanError, match="reviewed images changed since it was held"):
        confirm_plan(load_settings(os.environ), operator(), held["plan_id"])
    assert len(capped.jobs) == 1  # the first window's only


def test_after_a_held_urlfile_window_is_declined_the_rule_goes_on_from_its_end(capped, flagged):
    restore(capped, *flagged)
    for key in (OTHER, "uploads/third.png"):
        seed_image(capped, key, clean_image(), uploaded=RESTORED_AT)
    held = tick(NEXT)["held"][0]
    decline_plan(load_settings(os.environ), operator(), held["plan_id"])
    later = NEXT + timedelta(hours=1)
    result = submit_entry(clock=lambda: later + timedelta(minutes=1))(timer_event(later), CONTEXT)
    assert result["jobs"][0]["window_start"] == "2026-11-29T01:00:00+0800"  # 17:00 UTC: after the declined window


def test_the_dry_run_shows_the_urlfile_its_manifest_and_what_is_left_out(rule, restored):
    settings = load_settings(os.environ)
    preview = timer_preview(settings, operator(NEXT), "", "hourly", NEXT, None)
    assert preview.body is not None and preview.body.Input.UrlFile is not None
    assert preview.manifest is not None and preview.manifest[1] == 1
    assert "1 reviewed image left out" in preview.note
    assert rule.list_keys(BUCKET, prefix="autopilot/manifests/") == []  # a dry run writes nothing


def test_the_dry_run_of_a_window_too_big_to_list_says_reviewed_images_may_be_inspected_again(
        rule, restored, monkeypatch):
    monkeypatch.setenv("COUNT_LIMIT", "1000")
    for n in range(1000):
        rule.put_object(BUCKET, f"uploads/bulk/{n:04d}.png", b"", last_modified=RESTORED_AT)
    preview = timer_preview(load_settings(os.environ), operator(NEXT), "", "hourly", NEXT, None)
    assert preview.body is not None and preview.body.Input.Prefix == "uploads/"
    assert "may be inspected (and acted on) again" in preview.note


def test_the_dry_run_of_a_window_of_reviewed_images_only_says_nothing_would_be_sent(rule, flagged):
    restore(rule, *flagged)
    preview = timer_preview(load_settings(os.environ), operator(NEXT), "", "hourly", NEXT, None)
    assert preview.body is None and preview.held_reason is None
    assert "every object in the window is a reviewed image" in preview.note
