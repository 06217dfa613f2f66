"""Event parsing: documented and captured shapes, and the keys they name."""
from __future__ import annotations

import copy

import pytest

from lib.errors import InvalidEventError
from lib.events import CosEvent, TimerEvent, UnreadableRecord, parse_event, uploaded_object
from tests.support.events import EVENTS, load_event


@pytest.mark.parametrize("path", sorted(EVENTS.glob("*.json")), ids=lambda p: p.name)
def test_every_sample_event_parses(path):
    event = parse_event(path.read_text(encoding="utf-8"))
    assert isinstance(event, TimerEvent if path.name.startswith("timer") else CosEvent)


def test_timer_time_is_utc():
    event = parse_event(load_event("timer-doc.json"))
    assert event.time.isoformat() == "2019-02-21T11:49:00+00:00"


@pytest.mark.parametrize(("name", "key"), [
    ("cos-doc.json", "testfile"),
    ("cos-upload-one.json", "uploads/cat.png"),
    ("cos-region-short-code.json", "uploads/old-event.bmp"),
])
def test_object_key_is_the_event_key_without_appid_and_bucket(name, key):
    record = parse_event(load_event(name)).records[0]
    assert uploaded_object(record).key == key


def test_special_character_keys_survive_and_match_their_urls():
    records = parse_event(load_event("cos-upload-special-keys.json")).records
    assert [uploaded_object(r).key for r in records] == ["uploads/my photo+1 100%.jpg", "uploads/照片/猫.png",
                                                         "uploads/emoji 😀.webp"]


def test_bucket_is_name_dash_appid_and_etag_loses_its_quotes():
    obj = uploaded_object(parse_event(load_event("cos-upload-one.json")).records[0])
    assert (obj.bucket, obj.etag) == ("examplebucket-1250000000", "0d7316832fef232e5dcdcf81f39bfdba")


def test_a_key_that_disagrees_with_its_url_is_refused():
    raw = load_event("cos-upload-one.json")
    raw["Records"][0]["cos"]["cosObject"]["url"] = raw["Records"][0]["cos"]["cosObject"]["url"].replace("cat", "dog")
    with pytest.raises(UnreadableRecord):
        uploaded_object(parse_event(raw).records[0])


@pytest.mark.parametrize(("raw", "message"), [
    ("not json", "event is not JSON"),
    (b"\xff\xfe", "event is not UTF-8"),
    ([], "must be a JSON object"),
    ({}, "neither a timer event"),
    ({"Type": "Timer"}, "TimerEvent is malformed"),
    ({"Type": "Cron", "TriggerName": "t", "Time": "2026-01-01T00:00:00Z"}, "expected Timer"),
    ({"Records": []}, "CosEvent is malformed"),
    ({"Records": [{"cos": {}}]}, "CosEvent is malformed"),
])
def test_malformed_events_are_rejected_with_a_reason(raw, message):
    with pytest.raises(InvalidEventError, match=message):
        parse_event(raw)


def test_rejection_never_echoes_the_uploaders_authorization():
    raw = copy.deepcopy(load_event("cos-doc.json"))
    raw["Records"][0]["cos"]["cosObject"]["size"] = "q-signature=SECRETSIG"
    with pytest.raises(InvalidEventError) as caught:
        parse_event(raw)
    assert "SECRETSIG" not in str(caught.value)
