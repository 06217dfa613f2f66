"""lib.review over the emulator: a restore excludes exactly its (key, ETag); a record read back must be ours, and
one that excludes must name a batch job CI holds that flagged its key."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

import pytest

from lib.review import ReviewRecord, ReviewStore, record_name
from tests.support.emulator import EMULATOR_NOW, emulator_env, fresh_bucket
from tests.support.flagged import flag, hiding_image

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=timezone.utc)  # after the emulator's clock, where the flagging job ran
STATE = "autopilot-state/"
FLAGGED = ["photos/a.png", "photos/b.png", "photos/c.png", "photos/evil.png"]


@pytest.fixture
def flagging(emulator_with_bucket) -> str:
    """The id of one real ImageInspect batch job that flagged FLAGGED (AutoProcess off: nothing moved)."""
    fresh_bucket(emulator_with_bucket, clock=lambda: EMULATOR_NOW)
    env = emulator_env(emulator_with_bucket, STATE_PREFIX=STATE, UPLOAD_PREFIXES="photos/", INPUT_PREFIX="photos/")
    return flag(emulator_with_bucket.backend, env, {k: hiding_image(k.encode()) for k in FLAGGED})


@pytest.fixture
def store(emulated_ci_client, flagging):
    return ReviewStore(emulated_ci_client, STATE, lambda: NOW)


@pytest.fixture
def restored(flagging) -> Callable[..., ReviewRecord]:
    """A restore of (key, etag), backed by the flagging job unless another job id is given."""
    def make(key: str, etag: str, job_id: str = "") -> ReviewRecord:
        return ReviewRecord(key=key, etag=etag, decision="restored", decided_at=NOW, job_id=job_id or flagging,
                            action="BackupObject")
    return make


def listings(emulator) -> int:
    return sum(1 for r in emulator.request_log.snapshot() if r.service == "cos" and r.method == "GET" and r.path == "/")


def ci_reads(emulator) -> int:
    return sum(1 for r in emulator.request_log.snapshot() if r.service == "ci" and r.method == "GET")


def no_head(key: str):
    raise AssertionError(f"HEAD {key} asked although the ETag was known")


def test_a_recorded_key_and_etag_is_excluded_and_every_other_object_kept(store, restored):
    store.record(restored("photos/a.png", "aaa"))
    split = ReviewStore(store.client, STATE, store.clock).split(
        [("photos/a.png", '"AAA"'), ("photos/b.png", "aaa"), ("photos/c.png", None)], no_head)
    assert (split.kept, split.excluded) == (["photos/b.png", "photos/c.png"], ["photos/a.png"])


def test_new_content_under_a_reviewed_key_is_kept(store, restored):
    store.record(restored("photos/a.png", "aaa"))
    assert store.split([("photos/a.png", "bbb")], no_head).kept == ["photos/a.png"]


def test_an_unknown_etag_is_asked_only_for_a_key_with_a_decision(store, restored):
    store.record(restored("photos/a.png", "aaa"))
    asked = []
    split = store.split([("photos/a.png", None), ("photos/b.png", None)], lambda k: asked.append(k) or "aaa")
    assert asked == ["photos/a.png"] and split.excluded == ["photos/a.png"]


def test_one_listing_serves_a_whole_split(store, emulator_with_bucket, restored):
    store.record(restored("photos/a.png", "aaa"))
    fresh = ReviewStore(store.client, STATE, store.clock)
    before = listings(emulator_with_bucket)
    fresh.split([(f"photos/{i}.png", "x") for i in range(50)], no_head)
    assert listings(emulator_with_bucket) - before == 1


def test_a_record_under_another_pairs_name_excludes_nothing(store, emulated_ci_client, restored):
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


def test_a_record_dated_after_the_clock_excludes_nothing(store, restored):
    store.record(restored("photos/a.png", "aaa").model_copy(update={"decided_at": datetime(2027, 1, 1,
                                                                                            tzinfo=timezone.utc)}))
    assert ReviewStore(store.client, STATE, store.clock).split([("photos/a.png", "aaa")], no_head).kept == [
        "photos/a.png"]


def test_records_lists_every_good_decision_newest_first_and_names_strays(store, emulated_ci_client, restored):
    store.record(restored("photos/a.png", "aaa"))
    store.record(restored("photos/b.png", "bbb").model_copy(update={"decision": "released"}))
    emulated_ci_client.put_object(f"{STATE}reviewed/stray.json", b"{}")
    fresh = ReviewStore(emulated_ci_client, STATE, lambda: NOW)
    assert sorted(r.key for r in fresh.records()) == ["photos/a.png", "photos/b.png"]
    assert any("stray.json" in str(t) for t in fresh.tampered)


def test_a_release_excludes_nothing_so_a_confirmed_bad_image_uploaded_again_is_acted_on_again(store, restored):
    store.record(restored("photos/a.png", "aaa").model_copy(update={"decision": "released"}))
    assert ReviewStore(store.client, STATE, store.clock).split([("photos/a.png", "aaa")], no_head).kept == [
        "photos/a.png"]


def test_a_restore_under_way_already_excludes_its_content(store, restored):
    store.record(restored("photos/a.png", "aaa").model_copy(update={"decision": "restoring"}))
    assert ReviewStore(store.client, STATE, store.clock).split([("photos/a.png", "aaa")], no_head).excluded == [
        "photos/a.png"]


@pytest.mark.parametrize("job_id, why", [
    ("", "is not a CI batch job id"),
    ("../../object", "is not a CI batch job id"),
    ("b" + "0" * 32, "is not an ImageInspect batch job CI holds"),
], ids=["none", "a path", "made up"])
def test_a_restore_naming_no_flagging_job_excludes_nothing(store, job_id, why, restored):
    # Anyone who can write state can write a well-formed record under the right name: CI must back it.
    store.record(restored("photos/a.png", "aaa").model_copy(update={"job_id": job_id}))
    fresh = ReviewStore(store.client, STATE, store.clock)
    assert fresh.split([("photos/a.png", "aaa")], no_head).kept == ["photos/a.png"]
    assert why in str(fresh.tampered[0])


def test_a_restore_naming_a_real_job_that_did_not_flag_its_key_excludes_nothing(store, restored):
    # The forger names our real flagging job for an image it never flagged.
    store.record(restored("photos/never-flagged.png", "nnn"))
    fresh = ReviewStore(store.client, STATE, store.clock)
    assert fresh.split([("photos/never-flagged.png", "nnn")], no_head).kept == ["photos/never-flagged.png"]
    assert "did not flag 'photos/never-flagged.png'" in str(fresh.tampered[0])


def test_a_restore_decided_before_its_job_was_created_excludes_nothing(store, restored):
    early = datetime(2026, 1, 1, tzinfo=timezone.utc)
    store.record(restored("photos/a.png", "aaa").model_copy(update={"decided_at": early}))
    fresh = ReviewStore(store.client, STATE, store.clock)
    assert fresh.split([("photos/a.png", "aaa")], no_head).kept == ["photos/a.png"]
    assert "after the decision" in str(fresh.tampered[0])


def test_the_flagging_job_is_read_once_and_its_results_once_per_restored_key(store, emulator_with_bucket, restored):
    for key in ("photos/a.png", "photos/b.png", "photos/c.png"):
        store.record(restored(key, key[-5]))
    fresh = ReviewStore(store.client, STATE, store.clock)
    before = ci_reads(emulator_with_bucket)
    split = fresh.split([("photos/a.png", "a"), ("photos/b.png", "b"), ("photos/c.png", "c")], no_head)
    assert split.excluded == ["photos/a.png", "photos/b.png", "photos/c.png"]
    # GET the batch job, the media queue's id (the per-object job list asks for it), one results page per key.
    assert ci_reads(emulator_with_bucket) - before == 5


def test_a_restore_from_a_job_of_many_results_reads_only_its_keys_results(store, emulator_with_bucket, restored):
    # inputObject (exact match, cloud.tencent.com 460/78913, intl 1045/50305): one page, not the job's 3.
    env = emulator_env(emulator_with_bucket, STATE_PREFIX=STATE, UPLOAD_PREFIXES="photos/", INPUT_PREFIX="photos/")
    many = [f"photos/many/{n:03d}.png" for n in range(250)]
    job_id = flag(emulator_with_bucket.backend, env, {k: hiding_image(k.encode()) for k in many})
    store.record(restored(many[200], "x", job_id))
    fresh = ReviewStore(store.client, STATE, store.clock)
    before = ci_reads(emulator_with_bucket)
    assert fresh.split([(many[200], "x")], no_head).excluded == [many[200]]
    assert ci_reads(emulator_with_bucket) - before == 3  # the job, the queue id, one page of results
