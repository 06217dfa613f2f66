"""lib.review over the emulator: a restore excludes exactly its (key, ETag); a record read back must be ours, and
one that excludes must name a batch job CI holds that flagged its key."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from lib.review import ReviewRecord, ReviewStore, record_name
from tests.support.emulator import EMULATOR_NOW, emulator_env, fresh_bucket
from tests.support.flagged import flag, hiding_image

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=timezone.utc)  # after the emulator's clock, where the flagging job ran
STATE = "autopilot-state/"
FLAGGED = ["photos/a.png", "photos/b.png", "photos/c.png", "photos/evil.png"]
FLAGGING = {}  # the test's flagging job, set by the store fixture


@pytest.fixture
def store(emulated_ci_client, emulator_with_bucket):
    """A store over a bucket where one real ImageInspect batch job flagged FLAGGED (AutoProcess off: nothing moved)."""
    fresh_bucket(emulator_with_bucket, clock=lambda: EMULATOR_NOW)
    env = emulator_env(emulator_with_bucket, STATE_PREFIX=STATE, UPLOAD_PREFIXES="photos/", INPUT_PREFIX="photos/")
    FLAGGING["job"] = flag(emulator_with_bucket.backend, env, {k: hiding_image(k.encode()) for k in FLAGGED})
    return ReviewStore(emulated_ci_client, STATE, lambda: NOW)


def restored(key: str, etag: str, job_id: str = "") -> ReviewRecord:
    return ReviewRecord(key=key, etag=etag, decision="restored", decided_at=NOW, job_id=job_id or FLAGGING["job"],
                        action="BackupObject")


def listings(emulator) -> int:
    return sum(1 for r in emulator.request_log.snapshot() if r.service == "cos" and r.method == "GET" and r.path == "/")


def ci_reads(emulator) -> int:
    return sum(1 for r in emulator.request_log.snapshot() if r.service == "ci" and r.method == "GET")


def no_head(key: str):
    raise AssertionError(f"HEAD {key} asked although the ETag was known")


def test_a_recorded_key_and_etag_is_excluded_and_every_other_object_kept(store):
    store.record(restored("photos/a.png", "aaa"))
    split = ReviewStore(store.client, STATE, store.clock).split(
        [("photos/a.png", '"AAA"'), ("photos/b.png", "aaa"), ("photos/c.png", None)], no_head)
    assert (split.kept, split.excluded) == (["photos/b.png", "photos/c.png"], ["photos/a.png"])


def test_new_content_under_a_reviewed_key_is_kept(store):
    store.record(restored("photos/a.png", "aaa"))
    assert store.split([("photos/a.png", "bbb")], no_head).kept == ["photos/a.png"]


def test_an_unknown_etag_is_asked_only_for_a_key_with_a_decision(store):
    store.record(restored("photos/a.png", "aaa"))
    asked = []
    split = store.split([("photos/a.png", None), ("photos/b.png", None)], lambda k: asked.append(k) or "aaa")
    assert asked == ["photos/a.png"] and split.excluded == ["photos/a.png"]


def test_one_listing_serves_a_whole_split(store, emulator_with_bucket):
    store.record(restored("photos/a.png", "aaa"))
    fresh = ReviewStore(store.client, STATE, store.clock)
    before = listings(emulator_with_bucket)
    fresh.split([(f"photos/{i}.png", "x") for i in range(50)], no_head)
    assert listings(emulator_with_bucket) - before == 1


def test_a_record_under_another_pairs_name_excludes_nothing(store, emulated_ci_client):
    # An attacker who can write state copies a real decision's body under the name of the image they want left alone.
    forged = restored("photos/a.png", "aaa").model_dump_json().encode()
    emulated_ci_client.put_object(record_name(STATE, "photos/evil.png", "eee"), forged)
    fresh = ReviewStore(emulated_ci_client, STATE, lambda: NOW)
    assert fresh.split([("photos/evil.png", "eee")], no_head).kept == ["photos/evil.png"]
    assert fresh.tampered and "ignored" in str(fresh.tampered[0])


@pytest.mark.parametrize("body", [b"not json", b'{"key": "photos/a.png"}'])
def test_a_record_that_is_not_ours_excludes_nothing(store, emulated_ci_client, body):
    emulated_ci_client.put_object(record_name(STATE, "photos/a.png", "aaa"), body)
    assert store.split([("photos/a.png", "aaa")], no_head).kept == ["photos/a.png"]


def test_a_record_dated_after_the_clock_excludes_nothing(store):
    store.record(restored("photos/a.png", "aaa").model_copy(update={"decided_at": datetime(2027, 1, 1,
                                                                                            tzinfo=timezone.utc)}))
    assert ReviewStore(store.client, STATE, store.clock).split([("photos/a.png", "aaa")], no_head).kept == [
        "photos/a.png"]


def test_records_lists_every_good_decision_newest_first_and_names_strays(store, emulated_ci_client):
    store.record(restored("photos/a.png", "aaa"))
    store.record(restored("photos/b.png", "bbb").model_copy(update={"decision": "released"}))
    emulated_ci_client.put_object(f"{STATE}reviewed/stray.json", b"{}")
    fresh = ReviewStore(emulated_ci_client, STATE, lambda: NOW)
    assert sorted(r.key for r in fresh.records()) == ["photos/a.png", "photos/b.png"]
    assert any("stray.json" in str(t) for t in fresh.tampered)


def test_a_release_excludes_nothing_so_a_confirmed_bad_image_uploaded_again_is_acted_on_again(store):
    store.record(restored("photos/a.png", "aaa").model_copy(update={"decision": "released"}))
    assert ReviewStore(store.client, STATE, store.clock).split([("photos/a.png", "aaa")], no_head).kept == [
        "photos/a.png"]


def test_a_restore_under_way_already_excludes_its_content(store):
    store.record(restored("photos/a.png", "aaa").model_copy(update={"decision": "restoring"}))
    assert ReviewStore(store.client, STATE, store.clock).split([("photos/a.png", "aaa")], no_head).excluded == [
        "photos/a.png"]


@pytest.mark.parametrize("job_id, why", [
    ("", "is not a CI batch job id"),
    ("../../object", "is not a CI batch job id"),
    ("b" + "0" * 32, "is not an ImageInspect batch job CI holds"),
], ids=["none", "a path", "made up"])
def test_a_restore_naming_no_flagging_job_excludes_nothing(store, job_id, why):
    # Anyone who can write state can write a well-formed record under the right name: CI must back it.
    store.record(restored("photos/a.png", "aaa").model_copy(update={"job_id": job_id}))
    fresh = ReviewStore(store.client, STATE, store.clock)
    assert fresh.split([("photos/a.png", "aaa")], no_head).kept == ["photos/a.png"]
    assert why in str(fresh.tampered[0])


def test_a_restore_naming_a_real_job_that_did_not_flag_its_key_excludes_nothing(store):
    # The forger names our real flagging job for an image it never flagged.
    store.record(restored("photos/never-flagged.png", "nnn"))
    fresh = ReviewStore(store.client, STATE, store.clock)
    assert fresh.split([("photos/never-flagged.png", "nnn")], no_head).kept == ["photos/never-flagged.png"]
    assert "did not flag 'photos/never-flagged.png'" in str(fresh.tampered[0])


def test_a_restore_decided_before_its_job_was_created_excludes_nothing(store):
    early = datetime(2026, 1, 1, tzinfo=timezone.utc)
    store.record(restored("photos/a.png", "aaa").model_copy(update={"decided_at": early}))
    fresh = ReviewStore(store.client, STATE, store.clock)
    assert fresh.split([("photos/a.png", "aaa")], no_head).kept == ["photos/a.png"]
    assert "after the decision" in str(fresh.tampered[0])


def test_the_flagging_job_is_read_once_for_every_restore_it_backs(store, emulator_with_bucket):
    for key in ("photos/a.png", "photos/b.png", "photos/c.png"):
        store.record(restored(key, key[-5]))
    fresh = ReviewStore(store.client, STATE, store.clock)
    before = ci_reads(emulator_with_bucket)
    split = fresh.split([("photos/a.png", "a"), ("photos/b.png", "b"), ("photos/c.png", "c")], no_head)
    assert split.excluded == ["photos/a.png", "photos/b.png", "photos/c.png"]
    # GET the batch job, the media queue's id (the per-object job list asks for it), one page of its results.
    assert ci_reads(emulator_with_bucket) - before == 3
