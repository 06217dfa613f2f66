"""Issue 25 in coalescing mode, over the emulator: a batch is gated right after its commit, so its ledger fixes the
records a held plan covers. A held batch sends nothing and keeps its slot before the checkpoint; later passes meet
its plan and hold nothing twice; later records of the slot go in a later batch; a confirm sends it once, and the
checkpoint then passes the slot; a declined batch's records are done without a job, checked against the plan."""
from __future__ import annotations

from datetime import timedelta

import pytest

from lib import upload_state
from lib.events import parse_event, uploaded_object
from lib.plans import plan_id_of
from lib.submit.coalesce import flush
from lib.submit.confirm import confirm_plan, decline_plan
from lib.submit.timer import submit_timer
from lib.submit.uploads import submit_upload
from lib.upload_state import UploadBatch, batch_claim, ledger_key
from lib.windows import compact
from tests.reliability.coalesce_support import (
    T0,
    Clock,
    Upload,
    batch_jobs,
    coalesce_settings,
    instance,
    ledgers,
    stored,
    upload_event,
)
from tests.support.events import timer_event
from tests.support.settings import BUCKET

pytestmark = [pytest.mark.emulator, pytest.mark.usefixtures("emulator_with_bucket")]
T1 = T0 + timedelta(seconds=60)
DUE = T0 + timedelta(seconds=60) + upload_state.GRACE
HELD_ID = plan_id_of("batch", batch_claim(T0, 0))


def send(settings, clock, *uploads):
    return submit_upload(settings, parse_event(upload_event(uploads)), instance(settings, clock))


def tick(settings, clock):
    return submit_timer(settings, parse_event(timer_event(clock())), instance(settings, clock, "timer"))


def checkpoint(emulator):
    raw = stored(emulator, "autopilot/uploads/checkpoint.json")
    return upload_state.UploadCheckpoint.model_validate_json(raw["autopilot/uploads/checkpoint.json"]).slot if raw \
        else None


def held_slot(emulator, clock, **caps):
    """Two uploads in slot T0, flushed by a pass when due, with MAX_OBJECTS_PER_JOB=1: batch 0 is held."""
    settings = coalesce_settings(emulator, MAX_OBJECTS_PER_JOB="1", **caps)
    send(settings, clock, Upload("a.png", T0), Upload("b.png", T0))
    clock.now = DUE
    return settings, flush(settings, instance(settings, clock, "flusher"))


def test_a_batch_over_the_per_job_cap_is_held_and_nothing_is_sent(emulator):
    settings, done = held_slot(emulator, Clock(T0 + timedelta(seconds=1)))
    assert done.jobs == [] and [(h.plan_id, h.status) for h in done.held] == [(HELD_ID, "pending")]
    assert "MAX_OBJECTS_PER_JOB=1" in done.note and batch_jobs(emulator) == {}
    assert stored(emulator, "autopilot/manifests/") == {} and stored(emulator, "autopilot/spend/") == {}
    assert [(b.n, b.keys, b.state) for b in ledgers(emulator)] == [(0, ["a.png", "b.png"], "held")]


def test_later_passes_meet_the_held_plan_hold_nothing_twice_and_keep_the_checkpoint_before_its_slot(emulator):
    clock = Clock(T0 + timedelta(seconds=1))
    settings, _ = held_slot(emulator, clock)
    clock.advance(minutes=5)
    again = tick(settings, clock)
    assert [h.plan_id for h in again.held] == [HELD_ID] and HELD_ID in again.note
    assert len(ledgers(emulator)) == 1 and list(stored(emulator, "autopilot/plans/")) == [
        f"autopilot/plans/{HELD_ID}.json"]
    assert checkpoint(emulator) is None and batch_jobs(emulator) == {}


def test_records_arriving_later_in_a_held_slot_go_in_a_later_batch(emulator):
    clock = Clock(T0 + timedelta(seconds=1))
    settings, _ = held_slot(emulator, clock)
    # A late delivery into slot T0; the event's own flush pass (a cold instance) commits it.
    done = send(settings, clock, Upload("late.png", T0 + timedelta(seconds=30)))
    assert [(b.n, b.keys, b.state) for b in ledgers(emulator)] == [
        (0, ["a.png", "b.png"], "held"), (1, ["late.png"], "submitted")]
    assert [j.name for j in done.jobs] == [ledgers(emulator)[1].job_name] and [h.plan_id for h in done.held] == [
        HELD_ID]
    assert checkpoint(emulator) is None


def test_a_confirmed_batch_is_sent_once_and_the_next_pass_moves_the_checkpoint_past_its_slot(emulator):
    clock = Clock(T0 + timedelta(seconds=1))
    settings, _ = held_slot(emulator, clock)
    first = confirm_plan(settings, instance(settings, clock, "operator"), HELD_ID)
    second = confirm_plan(settings, instance(settings, clock, "operator"), HELD_ID)
    assert (first.created, second.created, first.job_id) == (True, False, second.job_id)
    (batch,) = ledgers(emulator)
    assert batch.state == "submitted" and batch.job_id == first.job_id and batch_jobs(emulator) == {
        batch.job_name: 1}
    assert first.estimate is not None and first.estimate.count.objects == 2
    clock.advance(minutes=1)
    assert tick(settings, clock).held == [] and checkpoint(emulator) == T0


def test_a_declined_batch_is_never_sent_and_the_checkpoint_passes_its_slot(emulator):
    clock = Clock(T0 + timedelta(seconds=1))
    settings, _ = held_slot(emulator, clock)
    decline_plan(settings, instance(settings, clock, "operator"), HELD_ID)
    clock.now = DUE + timedelta(seconds=60)  # slot T1 is due too
    done = send(settings, clock, Upload("c.png", T1))  # its event's flush pass meets the decline
    assert [(h.plan_id, h.status) for h in done.held] == [(HELD_ID, "declined")]
    assert [(b.n, b.keys, b.state) for b in ledgers(emulator)] == [
        (0, ["a.png", "b.png"], "declined"), (0, ["c.png"], "submitted")]
    assert list(batch_jobs(emulator)) == [ledgers(emulator)[1].job_name] and checkpoint(emulator) == T1
    assert stored(emulator, "autopilot/uploads/refused/") == {}


@pytest.mark.parametrize("state", ["declined", "held"])
def test_a_forged_held_or_declined_ledger_without_its_plan_is_refused_and_its_records_still_get_a_job(emulator, state):
    clock = Clock(T0 + timedelta(seconds=1))
    settings = coalesce_settings(emulator)
    send(settings, clock, Upload("a.png", T0))
    rid = upload_state.record_id(uploaded_object(parse_event(upload_event([Upload("a.png", T0)])).records[0]))
    forged = UploadBatch(slot=T0, n=0, records=[rid], keys=["a.png"], state=state,
                         manifest_key=upload_state.manifest_key(settings, T0, 0),
                         job_name=f"{settings.job_name_prefix}-upload-batch-{compact(T0)}-0")
    emulator.backend.put_object(BUCKET, ledger_key(settings, T0, 0), forged.model_dump_json().encode("utf-8"))
    clock.now = DUE
    done = flush(settings, instance(settings, clock, "flusher"))
    assert [j.name for j in done.jobs] == [f"{settings.job_name_prefix}-upload-batch-{compact(T0)}-1"]
    assert any(state in v.decode() for v in stored(emulator, "autopilot/uploads/refused/").values())


def test_a_held_batch_can_be_confirmed_after_records_would_have_stopped_waiting(emulator):
    clock = Clock(T0 + timedelta(seconds=1))
    settings, _ = held_slot(emulator, clock, PLAN_EXPIRY_DAYS="30")
    clock.now = DUE + upload_state.RECORD_MAX_WAIT + timedelta(days=1)  # an unbatched record would be refused now
    assert [h.plan_id for h in tick(settings, clock).held] == [HELD_ID]  # still held, its ledger not refused
    ref = confirm_plan(settings, instance(settings, clock, "operator"), HELD_ID)
    assert [(b.state, b.job_id) for b in ledgers(emulator)] == [("submitted", ref.job_id)]
    assert stored(emulator, "autopilot/uploads/refused/") == {}
