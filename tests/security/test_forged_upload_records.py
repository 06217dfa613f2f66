"""Issue 22, point 1a: a pending upload record is input. A forged record (an empty object under
STATE_PREFIX/uploads/pending/<slot>/<id>/<key>, or a .long record) never puts a key into a batch job unless the key
passes the live-upload rules and the record is the function's own shape: 16-hex id recomputing from its key and its
stored identity (ETag, request id, version id, eventTime), a slot its eventTime falls in, a .long record only for a
key too long for a path. Refused records are logged, marked for the report, never submitted, never deleted by us.

The function cannot tell a perfect forgery from its own record by what it stores, so it asks COS: HEAD Object's
Last-Modified is the time COS wrote the object, which no bucket writer can backdate (the official SDK's
cos_client.py head_object returns the response headers; cloud.tencent.com/document/product/436/7745). A record naming
an object COS last wrote long before the record's slot, or a record older than any real wait, is refused.

COS key limit 850 bytes: cloud.tencent.com/document/product/436/13324 (read 2026-12-02), as lib.upload_state.KEY_LIMIT."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from handlers.report import main_handler as report_handler
from lib import upload_state
from lib.windows import compact
from tests.cli.support import bucket_env, cli, credentials
from tests.reliability.support import LogSink, examples
from tests.security.upload_forgery import (
    DUE,
    EVENT_AT,
    FLAGGED,
    LEGIT,
    PENDING,
    SLOT_TEXT,
    VICTIM,
    forged_record,
    identity,
    record_body,
    scene_fixture,  # noqa: F401 - the `scene` fixture
)
from tests.support.emulator import EMULATOR_NOW
from tests.support.events import timer_event
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator
LONG_VICTIM = "uploads/" + "v" * 830 + ".png"  # too long for a plain record's path


def _victim_long_record() -> str:
    rid = upload_state.record_id(identity(LONG_VICTIM))
    return f"{PENDING}{SLOT_TEXT}/{rid}.long"


# what the forger wrote -> (the record's key, its body, the object it aims at)
FORGERIES = {
    "an empty record naming the victim (the old layout)": (forged_record(VICTIM), b"", VICTIM),
    "a record for a key outside UPLOAD_PREFIXES": (
        forged_record("photos/victim.png"), record_body(identity("photos/victim.png")), "photos/victim.png"),
    "a record for a suffix UPLOAD_SUFFIXES skips": (
        forged_record("uploads/victim.bin"), record_body(identity("uploads/victim.bin")), "uploads/victim.bin"),
    "a record for a key under STATE_PREFIX": (
        forged_record("autopilot/reports/victim.png"), record_body(identity("autopilot/reports/victim.png")),
        "autopilot/reports/victim.png"),
    "an id that is not 16 hex digits": (
        f"{PENDING}{SLOT_TEXT}/not-an-id/{VICTIM}", record_body(identity(VICTIM)), VICTIM),
    "an id that does not recompute from the key and body": (
        f"{PENDING}{SLOT_TEXT}/{upload_state.record_id(identity(LEGIT))}/{VICTIM}", record_body(identity(VICTIM)), VICTIM),
    "a body whose ETag differs from the one the id was made from": (
        forged_record(VICTIM), record_body(identity(VICTIM, etag="another")), VICTIM),
    "a slot its eventTime does not fall in": (
        forged_record(VICTIM), record_body(identity(VICTIM, at=EVENT_AT - timedelta(minutes=5))), VICTIM),
    "a .long record holding a short key": (
        f"{PENDING}{SLOT_TEXT}/{upload_state.record_id(identity(VICTIM))}.long", record_body(identity(VICTIM), VICTIM),
        VICTIM),
    "a .long record holding bare key text": (
        f"{PENDING}{SLOT_TEXT}/{upload_state.record_id(identity(VICTIM))}.long", VICTIM.encode(), VICTIM),
    "a plain record whose body holds a second key": (
        forged_record(VICTIM), record_body(identity(VICTIM), VICTIM), VICTIM),
}


@pytest.mark.parametrize("what", sorted(FORGERIES))
def test_a_forged_record_never_gets_its_key_inspected(scene, what):
    path, body, victim = FORGERIES[what]
    scene.upload()  # the real upload, recorded; its slot is not due yet
    scene.put(path, body)
    scene.clock.now = DUE
    with LogSink() as sink:
        scene.tick()
    scene.run_jobs()
    assert scene.inspected() == [LEGIT], what
    assert scene.exists(victim) and not scene.exists(LEGIT), what
    assert scene.exists(path), "a refused record is left for a human, never deleted by us"
    assert scene.refusals() and "state_refused" in sink.text(), what


OLD_VICTIM = "uploads/old-victim.png"  # in the bucket for months: never uploaded during any recent slot


def _old_victim(scene, days: int = 90) -> datetime:
    written = EMULATOR_NOW - timedelta(days=days)
    scene.backend.put_object(BUCKET, OLD_VICTIM, FLAGGED, content_type="image/png", last_modified=written)
    return written


def test_a_perfect_record_naming_an_object_cos_wrote_long_before_its_slot_is_refused(scene):
    """Every rule of the record's own shape holds; HEAD says COS last wrote the object 90 days before the slot."""
    _old_victim(scene)
    scene.upload()
    scene.put(forged_record(OLD_VICTIM), record_body(identity(OLD_VICTIM)))
    scene.clock.now = DUE
    scene.tick()
    scene.run_jobs()
    assert scene.inspected() == [LEGIT] and scene.exists(OLD_VICTIM) and scene.refusals()


def test_a_perfect_record_in_the_objects_own_old_slot_with_a_late_marker_is_refused(scene):
    """The forger picks the slot the old object was written in, and a late marker to get that slot flushed: a
    record never waits that long (RECORD_MAX_WAIT), so it is refused before the object is even looked at."""
    written = _old_victim(scene, days=30)
    at = written + timedelta(seconds=5)
    slot = compact(upload_state.slot_of(at, 60))
    rid = upload_state.record_id(identity(OLD_VICTIM, at=at))
    scene.put(f"{PENDING}{slot}/{rid}/{OLD_VICTIM}", record_body(identity(OLD_VICTIM, at=at)))
    scene.put(f"autopilot/uploads/late/{slot}/{rid}", b"")
    scene.clock.now = DUE
    scene.tick()
    scene.run_jobs()
    assert scene.inspected() == [] and scene.exists(OLD_VICTIM) and scene.refusals()


def test_the_checks_cost_one_get_and_one_head_per_upload_at_the_flush(scene, emulator):
    """Measured on the wire: the flush of N uploads reads each record once and HEADs each object once."""
    uploads = [f"uploads/n{i}.png" for i in range(5)]
    for key in uploads:
        scene.backend.put_object(BUCKET, key, b"clean", content_type="image/png")
        scene.upload(key)
    scene.clock.now = DUE
    start = len(emulator.request_log.snapshot())
    scene.tick()
    calls = emulator.request_log.snapshot()[start:]
    heads = [c for c in calls if c.method == "HEAD" and c.path.lstrip("/") in uploads]
    gets = [c for c in calls if c.method == "GET" and c.path.lstrip("/").startswith(PENDING)]
    assert len(heads) == len(uploads) and len(gets) == len(uploads)


def test_a_long_record_for_a_long_key_is_still_taken(scene):
    """The rule a .long forgery breaks is not a rule against long keys: a real one is inspected."""
    scene.backend.put_object("examplebucket-1250000000", LONG_VICTIM, b"clean", content_type="image/png")
    scene.upload(LONG_VICTIM)
    scene.clock.now = DUE
    scene.tick()
    scene.run_jobs()
    assert scene.inspected() == [LONG_VICTIM] and scene.refusals() == []


def test_a_refused_record_makes_the_report_a_problem_that_names_it(scene, monkeypatch):
    path, body, _victim = FORGERIES["an empty record naming the victim (the old layout)"]
    scene.upload()
    scene.put(path, body)
    scene.clock.now = DUE
    scene.tick()
    monkeypatch.setenv("REPORT_LOOKBACK", "30d")
    result = report_handler(timer_event(DUE.replace(microsecond=0), "report-daily"), {"request_id": "report"})
    text = json.dumps(result)
    assert result["summary"]["problem"] is True
    assert "tampered or foreign state ignored" in text and "uploads/victim.png" in text


def test_the_uploads_command_says_which_state_objects_it_refused(scene, emulator, tmp_path):
    path, body, _victim = FORGERIES["a record for a key outside UPLOAD_PREFIXES"]
    scene.put(path, body)
    env = bucket_env(emulator, UPLOAD_BATCH_SECONDS="60", UPLOAD_PREFIXES="uploads/", **credentials())
    data = cli("uploads", "--since", "3650d", "--json", env=env, home=tmp_path).json()
    assert data["pending"] == 0 and any(path in reason for reason in data["refused"])
    text = cli("uploads", "--since", "3650d", env=env, home=tmp_path).out
    assert text.rstrip().endswith("1 state object refused (forged or foreign, see --json)")


# Hypothesis: forged record paths and bodies, each naming the victim; none may get it inspected.
_IDS = st.one_of(st.text("0123456789abcdef", min_size=16, max_size=16), st.text(min_size=1, max_size=20).filter(
    lambda t: "/" not in t), st.just(upload_state.record_id(identity(VICTIM))))
_BODIES = st.one_of(
    st.binary(max_size=40),
    st.builds(lambda etag, req, t, key: record_body(identity(VICTIM, etag=etag, request_id=req,
                                                             at=EVENT_AT + timedelta(seconds=t)), key),
              st.sampled_from(["etag-0", "", "x"]), st.sampled_from(["req-forged", "", "r"]),
              st.integers(-120, 120), st.sampled_from([None, VICTIM, "uploads/other.png"])))


@given(rid=_IDS, body=_BODIES, long=st.booleans(), key=st.sampled_from([VICTIM, "photos/victim.png",
                                                                           "uploads/victim.bin"]))
@examples(default=6, soak=200)
def test_generated_forged_records_never_get_the_victim_inspected(scene, rid, body, long, key):
    perfect = not long and key == VICTIM and rid == upload_state.record_id(identity(VICTIM)) \
        and body == record_body(identity(VICTIM))
    assume(not perfect)  # what the function writes for a real upload of the victim: docs/security.md's residual
    scene.fresh_state()
    path = f"{PENDING}{SLOT_TEXT}/{rid}.long" if long else f"{PENDING}{SLOT_TEXT}/{rid}/{key}"
    scene.put(path, body)
    scene.clock.now = DUE
    scene.tick()
    scene.run_jobs()
    assert scene.inspected() == [] and scene.exists(key) and scene.exists(VICTIM)
