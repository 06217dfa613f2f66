"""Issue 26, point 3, for uploads, through the submit handler over the emulator: an image flagged and moved, then
restored by an operator (its review recorded by key and ETag, lib.review), is left out of every later upload job
while its content is unchanged, per event and coalesced, and is never moved again; written again with other content
(a new ETag) it is inspected, and moved, again. A review record that is not one our CLI wrote excludes nothing."""
from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from typing import Any, Dict, List
from urllib.parse import unquote, urlsplit

import pytest

from lib.config import load_settings
from lib.jobs import upload_batch_job_name
from lib.review import ReviewRecord
from lib.state import StateStore
from lib.submit.coalesce import flush_slot
from lib.submit.run import REVIEWED
from lib.upload_state import UploadBatch, ledger_key, manifest_key, pending_uploads, slot_of
from tests.reliability.support import Killed
from tests.support.caps import confirm, job_names
from tests.support.emulator import EMULATOR_NOW, inspected_keys
from tests.support.entries import quick_client, submit_entry
from tests.support.events import cos_event, timer_event
from tests.support.flagged import BACKUP, clean_image, flag, hiding_image, keys_under
from tests.support.restore import ops
from tests.support.reviewed import forge_record, restored, upload
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator

KEY = "uploads/false-positive.png"
OTHER = "uploads/new.png"
# Coalescing: the uploads' eventTime a minute after the images were written, the function's clock when their slot
# is due (a record waits at most lib.upload_state.RECORD_MAX_WAIT, and must be written near its slot).
EVENT_AT = EMULATOR_NOW + timedelta(minutes=1)
FLUSH_CLOCK = EMULATOR_NOW + timedelta(minutes=5)


@pytest.fixture
def reviewed(acting_bucket) -> Dict[str, Any]:
    """KEY flagged (moved to the backup folder) by a real batch job, then restored: the same bytes, the same ETag."""
    data = hiding_image(b"reviewed")
    job_id = flag(acting_bucket, os.environ, {KEY: data})
    assert keys_under(acting_bucket, BACKUP) == [f"{BACKUP}{KEY}"]
    etag = restored(acting_bucket, os.environ, KEY, data, job_id=job_id)
    return {"backend": acting_bucket, "data": data, "etag": etag}


@pytest.fixture
def coalescing(reviewed, monkeypatch) -> Dict[str, Any]:
    monkeypatch.setenv("UPLOAD_BATCH_SECONDS", "60")
    return reviewed


def deliver(keys: List[str], etags: List[str], request_id: str = "r1") -> Dict[str, Any]:
    """The upload event of a new write of each key (its own COS request id), or SCF's redelivery of one."""
    event = cos_event(keys, etags=etags, request_ids=[f"{request_id}-{i}" for i in range(len(keys))])
    return submit_entry()(event, {"request_id": request_id})


def deliver_coalesced(keys: List[str], etags: List[str], clock: datetime = FLUSH_CLOCK,
                      request_id: str = "r1") -> Dict[str, Any]:
    event = cos_event(keys, etags=etags, event_time=int(EVENT_AT.timestamp()),
                      request_ids=[f"{request_id}-{i}" for i in range(len(keys))])
    return submit_entry(clock=lambda: clock, cold=True)(event, {"request_id": request_id})


def in_place(backend, key: str, data: bytes) -> bool:
    """The image is at its key with these bytes, and no backup of it exists."""
    return backend.get_object(BUCKET, key).data == data and keys_under(backend, f"{BACKUP}{key}") == []


def manifest_keys(backend, job_name: str) -> List[str]:
    """The keys a UrlFile batch job covers, read from its manifest."""
    with backend.lock:
        job = next(j for j in backend.jobs.values() if j.name == job_name)
    manifest = unquote(urlsplit(job.input_value).path[1:])
    return [unquote(urlsplit(line).path[1:]) for line in backend.get_object(BUCKET, manifest).data.decode().split()]


def batch_ledgers(backend) -> List[UploadBatch]:
    return [UploadBatch.model_validate_json(backend.get_object(BUCKET, k).data)
            for k in backend.list_keys(BUCKET, prefix="autopilot/uploads/batches/")]


# --- per-event uploads --------------------------------------------------------------------------------------------


def test_a_restored_image_uploaded_again_unchanged_is_left_out_of_the_next_upload_events_job(reviewed):
    backend = reviewed["backend"]
    other = upload(backend, OTHER, hiding_image(b"other"))
    result = deliver([KEY, OTHER], [reviewed["etag"], other])
    (job,) = result["jobs"]
    assert job["input"] == f"Object={OTHER}"
    assert {"key": KEY, "reason": REVIEWED} in result["skipped"]
    assert inspected_keys(backend) == [KEY, OTHER]  # KEY once: by the job that flagged it
    assert in_place(backend, KEY, reviewed["data"]) and keys_under(backend, f"{BACKUP}{OTHER}") == [f"{BACKUP}{OTHER}"]


def test_an_upload_event_of_only_reviewed_images_makes_no_job(reviewed, emulator):
    before = job_names(emulator)
    result = deliver([KEY], [reviewed["etag"]])
    assert result["jobs"] == [] and result["note"] == "nothing to inspect in this event"
    assert result["skipped"] == [{"key": KEY, "reason": REVIEWED}]
    assert job_names(emulator) == before and in_place(reviewed["backend"], KEY, reviewed["data"])


def test_a_restored_image_uploaded_changed_is_inspected_and_moved_again(reviewed):
    backend = reviewed["backend"]
    changed = upload(backend, KEY, hiding_image(b"changed"))
    result = deliver([KEY], [changed])
    assert [j["input"] for j in result["jobs"]] == [f"Object={KEY}"] and result["skipped"] == []
    assert inspected_keys(backend) == [KEY, KEY]
    assert keys_under(backend, f"{BACKUP}{KEY}") == [f"{BACKUP}{KEY}"]


def test_an_upload_event_without_etags_asks_head_for_the_reviewed_keys_etag(reviewed):
    event = cos_event([KEY])
    del event["Records"][0]["cos"]["cosObject"]["meta"]["ETag"]
    result = submit_entry()(event, {"request_id": "r1"})
    assert result["jobs"] == [] and result["skipped"] == [{"key": KEY, "reason": REVIEWED}]


@pytest.mark.parametrize("forged", ["another key's record", "not a record", "decided after the function's clock",
                                    "naming no flagging job", "a release"])
def test_a_review_record_our_cli_did_not_write_excludes_nothing(acting_bucket, forged):
    data = hiding_image(b"forged")
    job_id = flag(acting_bucket, os.environ, {KEY: data})
    etag = upload(acting_bucket, KEY, data)  # put back by hand, its backup left where CI put it
    record = ReviewRecord(key=KEY, etag=etag, decision="restored", decided_at=EMULATOR_NOW, job_id=job_id)
    body = {"another key's record": record.model_copy(update={"key": OTHER}).model_dump_json().encode(),
            "not a record": b'{"key": "uploads/false-positive.png"}',
            "decided after the function's clock": record.model_copy(update={
                "decided_at": datetime.now(EMULATOR_NOW.tzinfo) + timedelta(days=1)}).model_dump_json().encode(),
            "naming no flagging job": record.model_copy(update={"job_id": ""}).model_dump_json().encode(),
            # A release confirms the image is bad: the same content uploaded again is acted on again.
            "a release": record.model_copy(update={"decision": "released"}).model_dump_json().encode()}
    forge_record(acting_bucket, os.environ, KEY, etag, body[forged])
    result = deliver([KEY], [etag])
    assert [j["input"] for j in result["jobs"]] == [f"Object={KEY}"] and result["skipped"] == []
    assert inspected_keys(acting_bucket) == [KEY, KEY]


def test_a_well_formed_restore_naming_a_job_that_never_flagged_the_image_excludes_nothing(acting_bucket):
    # The forger writes a perfect record for their own image, naming our real job that flagged another one.
    job_id = flag(acting_bucket, os.environ, {KEY: hiding_image(b"flagged")})
    data = hiding_image(b"the forger's")
    etag = upload(acting_bucket, OTHER, data)
    record = ReviewRecord(key=OTHER, etag=etag, decision="restored", decided_at=EMULATOR_NOW, job_id=job_id)
    forge_record(acting_bucket, os.environ, OTHER, etag, record.model_dump_json().encode())
    result = deliver([OTHER], [etag])
    assert [j["input"] for j in result["jobs"]] == [f"Object={OTHER}"] and result["skipped"] == []
    inspected_keys(acting_bucket)
    assert acting_bucket.get_object(BUCKET, BACKUP + OTHER).data == data and OTHER not in keys_under(acting_bucket,
                                                                                                      "uploads/")


def test_a_held_upload_leaves_the_reviewed_image_out_and_its_confirm_sends_that_body_once(reviewed, emulator,
                                                                                         monkeypatch):
    backend = reviewed["backend"]
    monkeypatch.setenv("MAX_OBJECTS_PER_JOB", "1")
    others = ["uploads/new-a.png", "uploads/new-b.png"]
    etags = [upload(backend, k, clean_image() + k.encode()) for k in others]
    (held,) = deliver([KEY, *others], [reviewed["etag"], *etags])["held"]
    assert held["estimate"]["count"]["objects"] == 2
    first = confirm(os.environ, held["plan_id"])
    again = deliver([KEY, *others], [reviewed["etag"], *etags])  # SCF's redelivery, after the confirm
    assert [j["job_id"] for j in again["jobs"]] == [first.job_id] and job_names(emulator)[-1] == held["name"]
    assert len([n for n in job_names(emulator) if n == held["name"]]) == 1
    assert inspected_keys(backend) == [KEY, *others]


def test_a_run_adds_one_listing_of_the_review_folder_and_a_get_per_record_of_its_keys(reviewed, emulator):
    other = upload(reviewed["backend"], OTHER, clean_image())
    emulator.request_log.clear()
    deliver([KEY, OTHER], [reviewed["etag"], other])
    listings = [r for r in emulator.request_log.snapshot()
                if r.method == "GET" and r.path == "/" and r.query.get("prefix") == "autopilot/reviewed/"]
    reads = [r for r in emulator.request_log.snapshot() if r.path.startswith("/autopilot/reviewed/")]
    assert (len(listings), [r.method for r in reads]) == (1, ["GET"])


def test_an_event_the_rules_skip_entirely_does_not_list_the_review_folder(reviewed, emulator):
    emulator.request_log.clear()
    deliver(["uploads/notes.txt"], ["e"])
    assert not [r for r in emulator.request_log.snapshot() if r.query.get("prefix") == "autopilot/reviewed/"]


# --- coalesced uploads --------------------------------------------------------------------------------------------


def test_a_restored_image_uploaded_again_unchanged_is_left_out_of_the_next_coalesced_batch(coalescing):
    backend = coalescing["backend"]
    other = upload(backend, OTHER, hiding_image(b"other"))
    result = deliver_coalesced([KEY, OTHER], [coalescing["etag"], other])
    (job,) = result["jobs"]
    assert manifest_keys(backend, job["name"]) == [OTHER] and job["input"].endswith("(1 objects)")
    (ledger,) = batch_ledgers(backend)
    assert (ledger.keys, ledger.excluded, ledger.state) == ([OTHER], [KEY], "submitted")
    assert inspected_keys(backend) == [KEY, OTHER]
    assert in_place(backend, KEY, coalescing["data"])


def test_a_coalesced_batch_of_only_reviewed_images_makes_no_job_and_is_finished(coalescing, emulator):
    backend = coalescing["backend"]
    result = deliver_coalesced([KEY], [coalescing["etag"]])
    later = submit_entry(clock=lambda: FLUSH_CLOCK + timedelta(minutes=5), cold=True)(
        timer_event(FLUSH_CLOCK + timedelta(minutes=5)), {"request_id": "tick"})
    assert result["recorded"] == 1 and result["jobs"] == []
    assert [j for j in later["jobs"] if "-upload-batch-" in j["name"]] == []
    (ledger,) = batch_ledgers(backend)
    assert (ledger.keys, ledger.excluded, ledger.state, ledger.job_id) == ([], [KEY], "reviewed", "")
    settings = load_settings(os.environ)
    assert pending_uploads(quick_client(settings), settings, now=FLUSH_CLOCK) == {}
    assert [n for n in job_names(emulator) if "-upload-batch-" in n] == []
    assert backend.list_keys(BUCKET, prefix="autopilot/uploads/refused/") == []


def test_uploads_key_says_a_restored_image_was_left_out_of_its_batch_and_why(coalescing):
    deliver_coalesced([KEY], [coalescing["etag"]])
    ran = ops("uploads", "--key", KEY, "--since", "1d", clock=FLUSH_CLOCK)
    assert ran.code == 0, ran
    assert f"{KEY}: left out of batch 0 of slot 2026-11-28 15:31:00Z" in ran.out and REVIEWED in ran.out and "in no batch" not in ran.out


def test_a_restored_image_uploaded_changed_is_in_the_next_coalesced_batch_and_moved_again(coalescing):
    backend = coalescing["backend"]
    changed = upload(backend, KEY, hiding_image(b"changed"))
    (job,) = deliver_coalesced([KEY], [changed])["jobs"]
    assert manifest_keys(backend, job["name"]) == [KEY]
    assert inspected_keys(backend) == [KEY, KEY] and keys_under(backend, f"{BACKUP}{KEY}") == [f"{BACKUP}{KEY}"]


def test_a_key_uploaded_twice_in_a_slot_stays_in_the_batch_when_one_upload_is_new_content(coalescing):
    backend = coalescing["backend"]
    changed = upload(backend, KEY, hiding_image(b"changed"))
    (job,) = deliver_coalesced([KEY, KEY], [coalescing["etag"], changed])["jobs"]
    assert manifest_keys(backend, job["name"]) == [KEY]


def test_a_forged_ledger_leaving_out_an_unreviewed_key_is_refused_and_the_key_still_gets_a_job(acting_bucket,
                                                                                              monkeypatch):
    monkeypatch.setenv("UPLOAD_BATCH_SECONDS", "60")
    etag = upload(acting_bucket, OTHER, hiding_image(b"victim"))
    recorded = deliver_coalesced([OTHER], [etag], clock=EVENT_AT)  # recorded, its slot not yet due
    assert recorded["recorded"] == 1 and recorded["jobs"] == []
    settings = load_settings(os.environ)
    slot = slot_of(EVENT_AT, 60)
    (record,) = acting_bucket.list_keys(BUCKET, prefix="autopilot/uploads/pending/")
    rid = record.split("/")[4]
    forged = UploadBatch(slot=slot, n=0, records=[rid], keys=[], excluded=[OTHER], state="reviewed",
                         manifest_key=manifest_key(settings, slot, 0),
                         job_name=upload_batch_job_name(settings.job_name_prefix, slot, 0))
    acting_bucket.put_object(BUCKET, ledger_key(settings, slot, 0), forged.model_dump_json().encode())
    tick = submit_entry(clock=lambda: FLUSH_CLOCK, cold=True)(timer_event(FLUSH_CLOCK), {"request_id": "tick"})
    (job,) = [j for j in tick["jobs"] if "-upload-batch-" in j["name"]]
    assert job["name"].endswith("-1") and manifest_keys(acting_bucket, job["name"]) == [OTHER]
    refusals = [json.loads(acting_bucket.get_object(BUCKET, k).data)["reason"]
                for k in acting_bucket.list_keys(BUCKET, prefix="autopilot/uploads/refused/")]
    assert any("as reviewed by an operator, which no review record backs" in r for r in refusals)


def test_a_flush_killed_after_committing_a_batch_without_the_reviewed_key_ends_with_one_job_without_it(coalescing,
                                                                                                     emulator):
    backend = coalescing["backend"]
    other = upload(backend, OTHER, clean_image())
    deliver_coalesced([KEY, OTHER], [coalescing["etag"], other], clock=EVENT_AT)  # recorded, its slot not yet due
    settings = load_settings(os.environ)
    client = quick_client(settings)

    def killed(_body):
        raise Killed("killed after the commit and the manifest, before the job")

    with pytest.raises(Killed):
        flush_slot(client, settings, StateStore(client, settings.state_prefix, lambda: FLUSH_CLOCK),
                   slot_of(EVENT_AT, 60), "killed", timedelta(seconds=30), killed)
    assert [(b.keys, b.excluded, b.state) for b in batch_ledgers(backend)] == [([OTHER], [KEY], "committed")]
    rerun_at = FLUSH_CLOCK + timedelta(minutes=2)  # the killed flush's claim has lapsed
    submit_entry(clock=lambda: rerun_at, cold=True)(timer_event(rerun_at), {"request_id": "tick"})
    (batch,) = batch_ledgers(backend)
    assert (batch.state, manifest_keys(backend, batch.job_name)) == ("submitted", [OTHER])
    assert [n for n in job_names(emulator) if "-upload-batch-" in n] == [batch.job_name]
