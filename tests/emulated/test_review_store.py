"""lib.review over the emulator: a decision excludes exactly its (key, ETag); a record read back must be ours."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from lib.review import ReviewRecord, ReviewStore, record_name

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=timezone.utc)
STATE = "autopilot-state/"


@pytest.fixture
def store(emulated_ci_client):
    return ReviewStore(emulated_ci_client, STATE, lambda: NOW)


def restored(key: str, etag: str) -> ReviewRecord:
    return ReviewRecord(key=key, etag=etag, decision="restored", decided_at=NOW, job_id="b1", action="BackupObject")


def listings(emulator) -> int:
    return sum(1 for r in emulator.request_log.snapshot() if r.service == "cos" and r.method == "GET" and r.path == "/")


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
