"""Coalescing mode's rules, each over the emulator through the official SDK (lib.submit with a settable clock).

Sources (read 2026-12-02): a COS event record carries eventTime in Unix seconds (events/cos-upload-one.json, the
published sample, and cloud.tencent.com/document/product/583/9707); COS keys are at most 850 bytes
(cloud.tencent.com/document/product/436/13324); PUT with x-cos-forbid-overwrite answers 409 FileAlreadyExists when
the key exists (cloud.tencent.com/document/product/436/7749); multi-object delete is POST /?delete
(cloud.tencent.com/document/api/436/8289, SDK ut/test.py test_delete_multiple_objects)."""
from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest

from lib import upload_state
from lib.events import parse_event
from lib.state import StateStore
from lib.submit import coalesce
from lib.submit.coalesce import flush_uploads
from lib.submit.ensure import ensure_job
from lib.submit.timer import submit_timer
from lib.submit.uploads import submit_upload
from tests.reliability.coalesce_support import (
    T0,
    Clock,
    Upload,
    batch_jobs,
    coalesce_settings,
    instance,
    keys_in_jobs,
    ledgers,
    record_ids,
    settled_problems,
    stored,
    upload_event,
)
from tests.reliability.support import ScriptedClient
from tests.support.emulator import fast_client
from tests.support.events import timer_event
from tests.support.settings import BUCKET

# Every test starts from the emulator with a fresh, empty BUCKET.
pytestmark = [pytest.mark.emulator, pytest.mark.usefixtures("emulator_with_bucket")]
SLOT_END = T0 + timedelta(seconds=60)
DUE = SLOT_END + upload_state.GRACE


def send(settings, deps, *uploads, **kw):
    return submit_upload(settings, parse_event(upload_event(uploads, **kw)), deps)


def tick(settings, deps):
    return submit_timer(settings, parse_event(timer_event(deps.clock())), deps)


def test_a_redelivered_event_rewrites_the_same_record(emulator):
    settings, clock = coalesce_settings(emulator), Clock(T0 + timedelta(seconds=5))
    deps = instance(settings, clock)
    send(settings, deps, Upload("photos/a.png", T0))
    clock.advance(seconds=20)
    send(settings, deps, Upload("photos/a.png", T0))
    assert list(stored(emulator, "autopilot/uploads/pending/")) == [
        f"autopilot/uploads/pending/20261201T080000Z/{upload_state.record_id(parse_upload('photos/a.png', 0))}/photos/a.png"]


def parse_upload(key, n):
    from lib.events import uploaded_object
    return uploaded_object(parse_event(upload_event([Upload(key, T0, n)])).records[0])


def test_a_re_upload_of_the_same_key_is_a_new_record_but_one_manifest_line(emulator):
    settings, clock = coalesce_settings(emulator), Clock(T0 + timedelta(seconds=5))
    deps = instance(settings, clock)
    send(settings, deps, Upload("photos/a.png", T0, 0), Upload("photos/a.png", T0 + timedelta(seconds=9), 1))
    clock.now = DUE
    tick(settings, deps)
    (batch,) = ledgers(emulator)
    assert len(batch.records) == 2 and batch.keys == ["photos/a.png"]
    manifest = stored(emulator, batch.manifest_key)[batch.manifest_key].decode()
    assert manifest == f"https://{BUCKET}.cos.ap-guangzhou.myqcloud.com/photos/a.png\n"


@pytest.mark.parametrize(("event_time", "slot"), [(True, "20261201T080000Z"), (False, "20261201T080100Z")])
def test_the_slot_is_the_event_time_floored_and_only_without_one_the_arrival(emulator, event_time, slot):
    settings, clock = coalesce_settings(emulator), Clock(T0 + timedelta(seconds=65))
    send(settings, instance(settings, clock), Upload("a.png", T0 + timedelta(seconds=59)), event_time=event_time)
    assert [k.split("/")[3] for k in stored(emulator, "autopilot/uploads/pending/")] == [slot]


def test_one_slot_of_many_events_from_many_instances_becomes_one_job(emulator):
    settings, clock = coalesce_settings(emulator), Clock(T0)
    fleet = [instance(settings, clock, f"i{n}") for n in range(3)]
    for i in range(30):
        clock.now = T0 + timedelta(seconds=i * 2)
        send(settings, fleet[i % 3], Upload(f"u/{i}.png", clock.now))
    clock.now = DUE
    for deps in fleet:  # each warm instance sees the slot become due once; only the first one finds work
        send(settings, deps, Upload("u/next.png", clock.now))
    (batch,) = ledgers(emulator)
    assert len(batch.keys) == 30 and batch.job_id and batch_jobs(emulator) == {batch.job_name: 1}
    assert batch.job_name == "autopilot-upload-batch-20261201T080000Z-0"


def test_a_slot_is_not_flushed_before_its_end_plus_the_grace(emulator):
    settings, clock = coalesce_settings(emulator), Clock(T0 + timedelta(seconds=1))
    deps = instance(settings, clock)
    send(settings, deps, Upload("a.png", T0))
    clock.now = DUE - timedelta(seconds=1)
    tick(settings, deps)
    assert ledgers(emulator) == []
    clock.now = DUE
    tick(settings, deps)
    assert len(ledgers(emulator)) == 1


def test_a_late_record_gets_a_marker_and_is_flushed_once_in_a_later_batch(emulator):
    settings, clock = coalesce_settings(emulator), Clock(T0 + timedelta(seconds=1))
    deps = instance(settings, clock)
    send(settings, deps, Upload("early.png", T0))
    clock.now = DUE
    tick(settings, deps)
    clock.advance(seconds=50)  # SCF's retry of a failed delivery, long after the slot's flush
    deps.memory.due_until = T0  # this warm instance already flushed that slot: it only records
    result = send(settings, deps, Upload("late.png", T0 + timedelta(seconds=30)))
    assert result.late == 1 and len(stored(emulator, "autopilot/uploads/late/")) == 1
    tick(settings, deps)
    tick(settings, deps)
    assert [(b.n, b.keys) for b in ledgers(emulator)] == [(0, ["early.png"]), (1, ["late.png"])]
    assert settled_problems(emulator) == []


def test_a_record_written_near_the_flush_time_leaves_a_marker_for_a_skewed_flusher(emulator):
    settings, clock = coalesce_settings(emulator), Clock(DUE - upload_state.CLOCK_MARGIN + timedelta(seconds=1))
    assert send(settings, instance(settings, clock), Upload("a.png", T0)).late == 1


@pytest.mark.parametrize(("method", "n", "what", "heir_creates"), [
    ("put_object", 2, "the ledger's commit", [True]),
    ("put_object", 3, "the batch's entry on the day's spend ledger", [True]),  # counted once: the heir finds it
    ("put_object", 4, "the manifest", [True]),
    ("create_job", 1, "the job's create", [False]),  # finds the job by name
    ("put_object", 5, "the ledger naming the job", []),  # the batch was complete: nothing left to do
])
def test_a_takeover_finishes_the_killed_flushs_ledger_without_a_second_job(emulator, method, n, what, heir_creates):
    settings, clock = coalesce_settings(emulator), Clock(T0 + timedelta(seconds=1))
    send(settings, instance(settings, clock), Upload("a.png", T0), Upload("b.png", T0))
    clock.now = DUE
    dying = ScriptedClient(fast_client(settings), kill_after=(method, n))
    with pytest.raises(BaseException, match="killed"):
        flush_uploads(settings, instance(settings, clock, "dies", client=dying))
    clock.advance(seconds=61)  # the dead flusher's claim (30 s + 30 s) has lapsed
    refs = flush_uploads(settings, instance(settings, clock, "heir"))
    assert [r.created for r in refs] == heir_creates, what
    (batch,) = ledgers(emulator)
    assert batch.n == 0 and batch.keys == ["a.png", "b.png"] and settled_problems(emulator) == [], what


def run_pass(settings, deps):
    store = StateStore(deps.client, settings.state_prefix, deps.clock)
    return coalesce.flush_pass(deps.client, settings, store, deps.owner, timedelta(seconds=60),
                               lambda body: ensure_job(deps.client, body, deps.sleep))


def test_the_checkpoint_never_passes_a_slot_another_flusher_holds(emulator):
    settings, clock = coalesce_settings(emulator), Clock(T0 + timedelta(seconds=1))
    for minute in range(3):
        send(settings, instance(settings, clock), Upload(f"m{minute}.png", T0 + timedelta(minutes=minute)))
    clock.now = DUE + timedelta(minutes=1)  # slots 0 and 1 are due, slot 2 is not yet
    slow = ScriptedClient(fast_client(settings), pause_before=("list_keys", 3))  # inside slot 0's lease
    other = threading.Thread(target=run_pass, args=(settings, instance(settings, clock, "slow", client=slow)))
    other.start()
    assert slow.paused.wait(10)
    fast = run_pass(settings, instance(settings, clock, "fast"))
    assert fast.held == [T0] and [b.slot for b in fast.flushed] == [T0 + timedelta(minutes=1)]
    assert fast.checkpoint is None and "autopilot/uploads/checkpoint.json" not in stored(emulator, "autopilot/")
    slow.resume.set()
    other.join(10)
    assert run_pass(settings, instance(settings, clock, "next")).checkpoint == T0 + timedelta(minutes=1)
    assert len(ledgers(emulator)) == 2 and batch_jobs(emulator).most_common(1)[0][1] == 1
    # The reading side checks records against a clock too: the test's, so the outcome does not depend on the date.
    assert upload_state.pending_uploads(fast_client(settings), settings, now=clock()) == {"m2.png": ["20261201T080200Z"]}


def test_a_key_too_long_for_the_record_path_goes_in_the_record_body(emulator):
    settings, clock = coalesce_settings(emulator), Clock(T0 + timedelta(seconds=1))
    deps = instance(settings, clock)
    key = "deep/" + "k" * 800 + ".png"
    send(settings, deps, Upload(key, T0))
    (record,) = stored(emulator, "autopilot/uploads/pending/").items()
    assert record[0].endswith(".long") and json.loads(record[1])["key"] == key
    clock.now = DUE
    tick(settings, deps)
    assert keys_in_jobs(emulator) == {key: 1}


@pytest.mark.parametrize("key", ["photos/", "notes/readme.txt", "autopilot/uploads/pending/x/y.png",
                                 "abnormal_images_backup/a.png"])
def test_skipped_keys_leave_no_record_as_in_per_event_mode(emulator, key):
    settings, clock = coalesce_settings(emulator), Clock(T0)
    result = send(settings, instance(settings, clock), Upload(key, T0))
    assert result.recorded == 0 and result.skipped and stored(emulator, "autopilot/uploads/") == {}


def test_a_warm_instance_runs_one_pass_per_slot_that_became_due(emulator):
    settings, clock = coalesce_settings(emulator), Clock(T0)
    deps = instance(settings, clock)
    send(settings, deps, Upload("a.png", T0))  # cold: looks once
    emulator.request_log.clear()
    clock.now = T0 + timedelta(seconds=20)
    send(settings, deps, Upload("b.png", clock.now))
    assert len(emulator.request_log) == 1  # the record's PUT only: nothing became due
    clock.now = DUE
    send(settings, deps, Upload("c.png", clock.now))
    assert len(ledgers(emulator)) == 1


def test_read_batches_gives_the_slots_in_a_range_and_pending_uploads_the_rest(emulator):
    settings, clock = coalesce_settings(emulator), Clock(T0 + timedelta(seconds=1))
    deps = instance(settings, clock)
    for minute in range(3):
        send(settings, deps, Upload(f"m{minute}.png", T0 + timedelta(minutes=minute)))
    clock.now = DUE + timedelta(minutes=1)
    tick(settings, deps)
    client = fast_client(settings)
    found = upload_state.read_batches(client, settings, T0 + timedelta(minutes=1), T0 + timedelta(minutes=5), now=clock())
    assert [(b.slot, b.keys, b.state) for b in found] == [(T0 + timedelta(minutes=1), ["m1.png"], "submitted")]
    assert upload_state.pending_uploads(client, settings, now=clock()) == {"m2.png": ["20261201T080200Z"]}
    assert len(record_ids(emulator)) == 3
