"""Coalescing mode loses no upload and doubles none (issue 16): generated schedules of upload events, with
duplicates, SCF redeliveries, late arrivals, several warm instances working at the same moment (threads), timer
ticks, and a fault at any one call of any delivery: failed before reaching the service, carried out with its answer
lost, or the function killed right after it (no clean-up). A failed delivery is redelivered a minute later, as SCF
retries. After a settling tick: every upload in exactly one batch ledger, each ledger's job exactly once in CI (by
name), no job without a ledger, no claim and no late marker left. Default: a few schedules (seconds);
`make soak`: many more and longer ones."""
from __future__ import annotations

import threading
from collections import defaultdict
from datetime import timedelta
from functools import partial
from typing import Any, Dict, List, Optional, Tuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lib import upload_state
from lib.errors import AppError, CloudUnavailableError
from lib.events import parse_event, uploaded_object
from lib.submit import coalesce
from lib.submit.timer import submit_timer
from lib.submit.uploads import submit_upload
from tests.reliability.coalesce_support import (
    T0,
    Clock,
    Upload,
    coalesce_settings,
    instance,
    keys_in_jobs,
    record_ids,
    settled_problems,
    upload_event,
)
from tests.reliability.support import SOAK, Killed, examples
from tests.support.emulator import fast_client, fresh_bucket
from tests.support.events import timer_event

pytestmark = pytest.mark.emulator
SLOTS = 8 if SOAK else 4  # one-minute slots the uploads' eventTimes fall in
INSTANCES = 3
RETRY = timedelta(seconds=60)  # SCF retries a failed asynchronous invocation about a minute later
MODES = ("before", "lost", "kill")


class Faulty:
    """A CiClient proxy whose at-th call (of any method) fails in `mode`; one delivery's client."""

    def __init__(self, client: Any, at: int, mode: str) -> None:
        self._client, self._at, self._mode = client, at, mode
        self.calls = 0
        self.dead = False

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        return partial(self._call, name, attr) if callable(attr) else attr

    def _call(self, name: str, method: Any, *args: Any, **kwargs: Any) -> Any:
        if self.dead:
            raise Killed(f"{name} after the function was killed")
        self.calls += 1
        hit = self.calls == self._at
        if hit and self._mode == "before":
            raise CloudUnavailableError(name, "injected: the request never reached the service")
        result = method(*args, **kwargs)
        if hit and self._mode == "lost":
            raise CloudUnavailableError(name, "injected: carried out, the answer was lost")
        if hit and self._mode == "kill":
            self.dead = True
            raise Killed(f"killed right after {name}")
        return result


Fate = Optional[Tuple[str, int]]
FATES = st.one_of(st.none(), st.none(), st.tuples(st.sampled_from(MODES), st.integers(1, 24)))
# Seconds from eventTime to the delivery: most arrive at once; some after the slot's flush (late) or much later.
DELAYS = st.sampled_from([0, 0, 1, 2, 5, 20, 35, 50, 95, 200])


@st.composite
def schedules(draw: Any) -> Tuple[List[Upload], List[Tuple[int, int, int, Fate]], List[Fate]]:
    keys = [f"photos/{i}.png" for i in range(draw(st.integers(1, 6)))]
    uploads = sorted(set(draw(st.lists(
        st.builds(Upload, st.sampled_from(keys), st.integers(0, SLOTS * 60 - 1).map(lambda s: T0 + timedelta(seconds=s)),
                  st.integers(0, 1)),
        min_size=1, max_size=40 if SOAK else 14))), key=lambda u: (u.at, u.key, u.n))
    # Every upload delivered once, plus duplicates (SCF may deliver an event more than once).
    picks = list(range(len(uploads))) + draw(st.lists(st.integers(0, len(uploads) - 1), max_size=len(uploads)))
    deliveries = [(i, draw(DELAYS), draw(st.integers(0, INSTANCES - 1)), draw(FATES)) for i in picks]
    ticks = draw(st.lists(FATES, min_size=SLOTS + 2, max_size=SLOTS + 2))
    return uploads, deliveries, ticks


def run(call, deps, fate: Fate) -> bool:
    """One delivery on one instance; True if it completed (SCF would not retry it)."""
    if fate is not None:
        deps.client = Faulty(deps.client, fate[1], fate[0])
    try:
        call(deps)
        return True
    except (AppError, Killed):
        return False
    finally:
        if fate is not None:
            deps.client = deps.client._client


def work(items: List[Tuple[Any, Any, Fate, int]], failed: List[Tuple[Any, Any, Fate, int]]) -> None:
    for call, deps, fate, attempt in items:  # one instance runs one event at a time, as SCF does
        if not run(call, deps, fate):
            failed.append((call, deps, None, attempt + 1))


def send(settings, deps, upload: Upload) -> bool:
    return run(partial(submit_upload, settings, parse_event(upload_event([upload]))), deps, None)


def tick(settings, deps) -> bool:
    return run(partial(submit_timer, settings, parse_event(timer_event(deps.clock()))), deps, None)


def play(emulator, uploads, deliveries, ticks) -> None:
    settings = coalesce_settings(emulator)
    clock = Clock(T0)
    fleet = [instance(settings, clock, f"i{n}") for n in range(INSTANCES)]
    timer_deps = instance(settings, clock, "timer")
    due: Dict[Any, List[Tuple[Any, Any, Fate, int]]] = defaultdict(list)  # moment -> (call, deps, fate, attempt)
    for index, delay, who, fate in deliveries:
        event = parse_event(upload_event([uploads[index]]))
        due[uploads[index].at + timedelta(seconds=delay)].append(
            (partial(submit_upload, settings, event), fleet[who], fate, 0))
    for minute, fate in enumerate(ticks, start=1):
        moment = T0 + timedelta(minutes=minute)
        due[moment].append((partial(submit_timer, settings, parse_event(timer_event(moment))), timer_deps, fate, 0))
    while due:
        moment = min(due)
        clock.now = moment
        batch = due.pop(moment)
        by_instance: Dict[int, List[Tuple[Any, Any, Fate, int]]] = defaultdict(list)
        for item in batch:
            by_instance[id(item[1])].append(item)
        failed: List[Tuple[Any, Any, Fate, int]] = []

        threads = [threading.Thread(target=work, args=(items, failed)) for items in by_instance.values()]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        for item in failed:
            assert item[3] <= 2, "a redelivery without a fault failed"
            due[moment + RETRY].append(item)
    # Settle: ticks after every claim a killed run left has lapsed (30 s + 30 s) and every slot is due.
    for extra in (3, 6):
        clock.now = T0 + timedelta(minutes=SLOTS + extra)
        assert tick(settings, timer_deps)


def expected_ids(uploads: List[Upload]) -> List[str]:
    return sorted({upload_state.record_id(uploaded_object(parse_event(upload_event([u])).records[0])) for u in uploads})


@examples(12, 300)
@given(schedule=schedules())
def test_a_schedule_of_duplicated_late_concurrent_and_faulted_uploads_puts_each_in_exactly_one_job(
        emulator_session, schedule):
    uploads, deliveries, ticks = schedule
    fresh_bucket(emulator_session)
    play(emulator_session, uploads, deliveries, ticks)
    assert settled_problems(emulator_session) == []
    assert sorted(record_ids(emulator_session)) == expected_ids(uploads), "an upload was lost (or one invented)"
    assert set(keys_in_jobs(emulator_session)) == {u.key for u in uploads}


def test_every_single_call_of_a_busy_minute_failing_in_every_way_still_settles(emulator):
    """The sweep: one fixed schedule, a fault at call k of the delivery that flushes, for every k and mode."""
    uploads = [Upload(f"photos/{i}.png", T0 + timedelta(seconds=i * 7)) for i in range(6)]
    late = Upload("photos/late.png", T0 + timedelta(seconds=58))
    settings = coalesce_settings(emulator)
    for mode in MODES:
        for k in range(1, 40):
            fresh_bucket(emulator)
            clock = Clock(T0)
            writer, flusher = instance(settings, clock, "w"), instance(settings, clock, "f")
            for u in uploads:
                clock.now = u.at
                assert send(settings, writer, u)
            clock.now = upload_state.due_at(T0, 60)
            faulty = Faulty(fast_client(settings), k, mode)
            flusher.client = faulty
            trigger = Upload("photos/next.png", clock.now)
            try:
                submit_upload(settings, parse_event(upload_event([trigger])), flusher)
            except (AppError, Killed):
                pass
            flusher.client = fast_client(settings)
            clock.now += timedelta(seconds=5)  # a record arriving while the flush is down (late: leaves a marker)
            assert send(settings, writer, late)
            clock.now += RETRY + timedelta(seconds=61)  # SCF's retry, after the dead claim lapsed
            assert send(settings, instance(settings, clock, "retry"), trigger)
            clock.now += timedelta(minutes=2)
            assert tick(settings, instance(settings, clock, "timer"))
            assert settled_problems(emulator) == [], (mode, k)
            assert sorted(record_ids(emulator)) == expected_ids(uploads + [late, trigger]), (mode, k)
            if faulty.calls < k:
                break  # the flush made fewer than k calls: every point of this mode is covered
        else:
            raise AssertionError(f"the flush made more than 40 calls ({mode})")


def test_a_flush_that_dies_holding_an_already_flushed_slot_leaves_no_claim_behind(emulator):
    """Found by `make soak` (issue 22): a flusher started from a late marker another flusher then cleared takes the
    slot's claim after that flusher finished, and dies there. The slot is behind the checkpoint, so no pass listed it
    again and the claim stayed until the lifecycle rule; a pass now takes over such a claim once it lapsed."""
    from lib.state import StateStore
    from lib.submit.run import lease_ttl
    from tests.reliability.support import ScriptedClient

    fresh_bucket(emulator)
    settings = coalesce_settings(emulator)
    clock = Clock(T0 + timedelta(seconds=5))
    assert send(settings, instance(settings, clock, "w"), Upload("photos/a.png", clock.now))
    clock.now = upload_state.due_at(T0, 60)
    assert tick(settings, instance(settings, clock, "timer"))  # slot T0 flushed, the checkpoint names it
    dying = ScriptedClient(fast_client(settings), kill_after=("get_job", 1))  # checking the slot's submitted ledger
    store = StateStore(dying, settings.state_prefix, clock)
    with pytest.raises(Killed):
        coalesce.flush_slot(dying, settings, store, T0, "late-flusher", lease_ttl(settings, 30), lambda body: None)
    assert record_ids(emulator) and [k for k in settled_problems(emulator) if "leases/" in k]  # the dead claim
    clock.now += lease_ttl(settings, 30) + timedelta(seconds=1)
    assert tick(settings, instance(settings, clock, "timer"))
    assert settled_problems(emulator) == []
    assert sorted(keys_in_jobs(emulator)) == ["photos/a.png"]
