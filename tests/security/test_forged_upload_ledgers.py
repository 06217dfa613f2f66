"""Issue 22, point 1b and the checkpoint: a batch ledger and the coalescing checkpoint are input.

A ledger's job name, manifest key, slot and n derive from its own key (batches/<slot>/<n>.json); its records must be
the slot's listed good records and its keys theirs; a submitted one must name CI's job of its derived name (a
bucket writer cannot create CI jobs). A forged ledger is refused and reported: it makes no job, writes no manifest,
and counts no record as done, so the records it claims are still submitted exactly once. A checkpoint after the
function's clock (+ lib.upload_state.CHECKPOINT_SKEW), or naming a slot without a good submitted ledger whose job CI
holds, is refused; the pass then lists lib.upload_state.RECOVERY_LOOKBACK's slots."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Dict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lib import upload_state
from lib.errors import CloudApiError
from lib.jobs import upload_batch_job_name
from tests.reliability.support import examples
from tests.security.upload_forgery import (
    DUE,
    LEGIT,
    REPORT_PAGE,
    SLOT,
    SLOT_TEXT,
    VICTIM,
    forged_record,
    identity,
    legit_record_id,
    record_body,
    scene_fixture,  # noqa: F401 - the `scene` fixture
)

pytestmark = pytest.mark.emulator
BATCHES = "autopilot/uploads/batches/"
CHECKPOINT = "autopilot/uploads/checkpoint.json"


def ledger(rid: str, n: int = 0, **forged: Any) -> Dict[str, Any]:
    """A ledger as the function writes it for batch n of SLOT, with the forger's changes."""
    body = {"slot": SLOT.isoformat(), "n": n, "records": [rid], "keys": [LEGIT],
            "manifest_key": f"autopilot/manifests/upload-batch-{SLOT_TEXT}-{n:06d}.txt",
            "job_name": upload_batch_job_name("autopilot", SLOT, n), "job_id": "", "state": "committed"}
    body.update(forged)
    return body


def _next_window_name() -> str:
    return "autopilot-every-minute-20261128T153100Z-20261128T153200Z"


# what the forger wrote -> a function of the real record's id giving (ledger name, body)
PATH_ID = "b1/../../queue"  # read from the bucket, it would be sent as GET /inventorytriggerjob/<id>
LEDGERS = {
    "a submitted ledger naming a job that does not exist (hides the upload)":
        lambda rid: ("000000.json", ledger(rid, job_id="b" + "0" * 32, state="submitted")),
    "a submitted ledger naming a real job of another name":
        lambda rid: ("000000.json", ledger(rid, job_id="@timer", state="submitted")),
    "a job name of the next timer window (reports it covered)":
        lambda rid: ("000000.json", ledger(rid, job_name=_next_window_name())),
    "a manifest aimed at the report page, listing the victim":
        lambda rid: ("000000.json", ledger(rid, keys=[VICTIM], manifest_key=REPORT_PAGE)),
    "keys that are not its records' keys":
        lambda rid: ("000000.json", ledger(rid, keys=[LEGIT, VICTIM])),
    "a record id the slot does not hold":
        lambda rid: ("000000.json", ledger(upload_state.record_id(identity(VICTIM)), keys=[VICTIM])),
    "a body whose n disagrees with its name":
        lambda rid: ("000000.json", ledger(rid, n=3)),
    "a body whose slot disagrees with its folder":
        lambda rid: ("000000.json", ledger(rid, slot="2026-11-28T15:20:00+00:00")),
    "a job id that is not a CI job id (it would shape the GET's path)":
        lambda rid: ("000000.json", ledger(rid, job_id=PATH_ID, state="submitted")),
    "a name that is not <n>.json":
        lambda rid: ("latest.json", ledger(rid, job_id="b" + "0" * 32, state="submitted")),
    "not JSON at all":
        lambda rid: ("000000.json", "{not json"),
}


def _put_ledger(scene, name: str, body: Any) -> str:
    if isinstance(body, dict) and body.get("job_id") == "@timer":
        body["job_id"] = next(j for j in scene.backend.jobs.values() if "-upload-batch-" not in j.name).job_id
    key = f"{BATCHES}{SLOT_TEXT}/{name}"
    scene.put(key, (body if isinstance(body, str) else json.dumps(body)).encode("utf-8"))
    return key


@pytest.mark.parametrize("what", sorted(LEDGERS))
def test_a_forged_ledger_is_refused_and_its_records_are_still_submitted_once(scene, what):
    scene.upload()  # recorded; the slot is not due yet
    scene.tick()  # a timer job of its own (scans/, empty): one the forger may name
    name, body = LEDGERS[what](legit_record_id(scene))
    forged = _put_ledger(scene, name, body)
    page = scene.backend.get_object("examplebucket-1250000000", REPORT_PAGE).data
    scene.clock.now = DUE
    result = scene.tick()
    scene.run_jobs()
    assert scene.inspected() == [LEGIT], what  # the real upload, exactly once; never the victim
    assert scene.exists(VICTIM) and not scene.exists(LEGIT), what
    assert scene.backend.get_object("examplebucket-1250000000", REPORT_PAGE).data == page, what
    batch_names = [j["name"] for j in result["jobs"] if "-upload-batch-" in j["name"]]
    assert batch_names and all(n.startswith(f"autopilot-upload-batch-{SLOT_TEXT}-") for n in batch_names), what
    assert scene.exists(forged) and scene.refusals(), what


def test_a_ledger_job_id_that_is_not_a_ci_job_id_never_reaches_a_request(scene, emulator):
    """The id is checked against the documented form (lib.jobs.is_batch_job_id) before any GET is built from it.
    Before, it went out raw and the service's error failed the whole flush, every tick, so no upload got a job."""
    scene.upload()
    _put_ledger(scene, *LEDGERS["a job id that is not a CI job id (it would shape the GET's path)"](
        legit_record_id(scene)))
    scene.clock.now = DUE
    scene.tick()
    assert scene.refusals()
    assert not [r.path for r in emulator.request_log.snapshot() if ".." in r.path]


def test_a_refused_job_lookup_fails_the_pass_instead_of_calling_the_ledger_forged(scene, emulator):
    """Only CI's "no such job" (400/404) is an answer about a ledger; a 403 (the role lacks
    ci:DescribeInventoryTriggerJob) is ours to fix. Read as forgery, it resubmitted every record of the slot."""
    scene.upload()
    scene.clock.now = DUE
    scene.tick()  # batch 0 of the slot, submitted
    rid = legit_record_id(scene)
    scene.put(f"autopilot/uploads/late/{SLOT_TEXT}/{rid}", b"")  # the slot is flushed again, its ledger checked
    emulator.faults.add("GET", r"^/inventorytriggerjob/b", "ci", action="status", status=403, count=1000)
    with pytest.raises(CloudApiError, match="403"):
        scene.tick()
    scene.run_jobs()
    assert scene.inspected() == [LEGIT] and not scene.refusals()


def test_a_valid_looking_unsubmitted_ledger_is_finished_as_our_own(scene):
    """A ledger that derives exactly as ours would (a killed flush's commit) is finished, not refused: the check
    is what derives, not who wrote it."""
    scene.upload()
    _put_ledger(scene, "000000.json", ledger(legit_record_id(scene)))
    scene.clock.now = DUE
    scene.tick()
    scene.run_jobs()
    assert scene.inspected() == [LEGIT] and scene.refusals() == []


_FIELDS = st.fixed_dictionaries({}, optional={
    "n": st.integers(-2, 1000), "slot": st.sampled_from(["2026-11-28T15:29:00Z", "2099-01-01T00:00:00Z", "x"]),
    "records": st.lists(st.sampled_from(["@real", "0" * 16, "zz"]), max_size=3),
    "keys": st.lists(st.sampled_from([LEGIT, VICTIM, REPORT_PAGE]), max_size=3),
    "manifest_key": st.sampled_from([REPORT_PAGE, "autopilot/manifests/x.txt", "uploads/victim.png"]),
    "job_name": st.sampled_from([_next_window_name(), "autopilot-upload-batch-20261128T152900Z-7", "evil"]),
    "job_id": st.sampled_from(["", "b" + "1" * 32, "not-an-id"]), "state": st.sampled_from(["submitted", "x"]),
})


@given(forged=_FIELDS, name=st.sampled_from(["000000.json", "000001.json", "999999.json", "x.json"]),
       with_record=st.booleans())
@examples(default=6, soak=200)
def test_generated_forged_ledgers_never_inspect_the_victim_nor_skip_the_upload(scene, forged, name, with_record):
    scene.fresh_state()
    scene.upload()
    rid = legit_record_id(scene)
    if with_record:  # a forged record beside it, which the ledger may claim
        scene.put(forged_record(VICTIM), record_body(identity(VICTIM, etag="forged")))
    body = ledger(rid, **forged)
    body["records"] = [rid if r == "@real" else r for r in body["records"]]
    _put_ledger(scene, name, body)
    page = scene.backend.get_object("examplebucket-1250000000", REPORT_PAGE).data
    scene.clock.now = DUE
    scene.tick()
    scene.run_jobs()
    assert scene.inspected() == [LEGIT] and scene.exists(VICTIM)
    assert scene.backend.get_object("examplebucket-1250000000", REPORT_PAGE).data == page


@pytest.mark.parametrize("forged", ["2099-01-01T00:00:00Z", "2026-11-28T15:31:00Z"])
def test_a_checkpoint_after_the_clock_is_refused_and_the_upload_is_still_flushed(scene, forged):
    """The upload's slot is before the forged checkpoint; without the check no pass would ever list it."""
    scene.upload()
    scene.put(CHECKPOINT, json.dumps({"slot": forged}).encode())
    scene.clock.now = DUE  # 15:30:31: even a checkpoint a minute ahead is past the clock + 10 s
    scene.tick()
    scene.run_jobs()
    assert scene.inspected() == [LEGIT] and not scene.exists(LEGIT)
    written = json.loads(scene.backend.get_object("examplebucket-1250000000", CHECKPOINT).data)["slot"]
    assert datetime.fromisoformat(written.replace("Z", "+00:00")) <= DUE and scene.refusals()


def test_a_checkpoint_naming_a_slot_without_a_batch_job_is_refused(scene):
    """Not after the clock, yet it skips the upload's slot: a checkpoint must name a slot a flush gave a CI job."""
    scene.upload()
    scene.put(CHECKPOINT, json.dumps({"slot": (SLOT + timedelta(minutes=1)).isoformat()}).encode())
    scene.clock.now = DUE
    scene.tick()
    scene.run_jobs()
    assert scene.inspected() == [LEGIT] and scene.refusals()
    written = json.loads(scene.backend.get_object("examplebucket-1250000000", CHECKPOINT).data)["slot"]
    assert datetime.fromisoformat(written.replace("Z", "+00:00")) == SLOT


def test_the_checkpoint_a_flush_wrote_is_obeyed_on_the_next_pass(scene):
    scene.upload()
    scene.clock.now = DUE
    scene.tick()
    scene.clock.now = DUE + timedelta(minutes=2)
    scene.tick()
    scene.run_jobs()
    assert scene.inspected() == [LEGIT] and scene.refusals() == []
