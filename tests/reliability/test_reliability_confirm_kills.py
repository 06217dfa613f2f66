"""An operator's confirm of a held plan killed right after any one of its calls to COS or CI, then run again once the
dead run's claims lapsed: the held job exists exactly once, it is counted once on the day's ledger, the plan ends
confirmed, and (coalescing) the batch's ledger names the job. In process: the client dies after its k-th call, and
every later call dies too, so no clean-up reaches the service (tests.reliability.support.Killed)."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any, Callable, List, Tuple

import pytest

from lib.config import Settings
from lib.events import parse_event
from lib.plans import PlanStore
from lib.state import StateStore
from lib.submit.coalesce import FlushMemory
from lib.submit.confirm import confirm_plan
from lib.submit.run import Deps
from lib.submit.timer import submit_timer
from lib.submit.uploads import submit_upload
from tests.reliability.coalesce_support import T0, Upload, ledgers, upload_event
from tests.reliability.support import Killed, ScriptedClient
from tests.support.caps import job_names, stored_keys
from tests.support.emulator import emulator_settings, fast_client, fresh_bucket
from tests.support.events import timer_event
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator
MAX_CALLS = 40
CLAIM = timedelta(seconds=61)  # time_limit 30 s: a claim lasts 30 s + 30 s


def held_upload(emulator, now: datetime) -> Tuple[Settings, str]:
    settings = emulator_settings(emulator, MAX_OBJECTS_PER_JOB="1")
    deps = Deps(client=fast_client(settings), clock=lambda: now, sleep=lambda _s: None, owner="event", time_limit=30)
    result = submit_upload(settings, parse_event(upload_event([Upload("a.png", T0), Upload("b.png", T0)])), deps)
    return settings, result.held[0].plan_id


def held_batch(emulator, now: datetime) -> Tuple[Settings, str]:
    settings = emulator_settings(emulator, MAX_OBJECTS_PER_JOB="1", UPLOAD_BATCH_SECONDS="60")
    deps = Deps(client=fast_client(settings), clock=lambda: now, sleep=lambda _s: None, owner="event", time_limit=30,
                memory=FlushMemory())  # a cold instance: its event runs the flush pass
    result = submit_upload(settings, parse_event(upload_event([Upload("a.png", T0), Upload("b.png", T0)])), deps)
    return settings, result.held[0].plan_id


def held_window(emulator, now: datetime) -> Tuple[Settings, str]:
    """A first timer tick at T0 whose window [T0 - 1h, T0) holds two objects, over MAX_OBJECTS_PER_JOB=1."""
    settings = emulator_settings(emulator, MAX_OBJECTS_PER_JOB="1", INPUT_PREFIX="uploads/")
    for key in ("uploads/a.png", "uploads/b.png"):
        emulator.backend.put_object(BUCKET, key, b"x", last_modified=T0 - timedelta(minutes=30))
    deps = Deps(client=fast_client(settings), clock=lambda: now, sleep=lambda _s: None, owner="tick", time_limit=30)
    result = submit_timer(settings, parse_event(timer_event(T0)), deps)
    return settings, result.held[0].plan_id


HOLDERS: List[Callable[[Any, datetime], Tuple[Settings, str]]] = [held_upload, held_batch, held_window]


def case(emulator, hold: Callable[[Any, datetime], Tuple[Settings, str]], kill: int) -> bool:
    """One kill point; False when the confirm finished before it (the sweep is done)."""
    fresh_bucket(emulator)
    now = T0 + timedelta(minutes=5)  # the batch's slot is due
    settings, plan_id = hold(emulator, now)
    dying = ScriptedClient(fast_client(settings), kill_after=kill)
    deps = Deps(client=dying, clock=lambda: now, sleep=lambda _s: None, owner="operator", time_limit=30)
    try:
        confirm_plan(settings, deps, plan_id)
    except Killed:
        pass
    else:
        return False
    later = now + CLAIM  # the operator runs it again once the dead run's claims lapsed
    again = Deps(client=fast_client(settings), clock=lambda: later, sleep=lambda _s: None, owner="operator2",
                 time_limit=30)
    ref = confirm_plan(settings, again, plan_id)
    names = Counter(job_names(emulator))
    plan = PlanStore(fast_client(settings), settings.state_prefix, lambda: later).get(plan_id)
    assert names == Counter({ref.name: 1}), (kill, names)
    assert plan is not None and (plan.status, plan.job_id) == ("confirmed", ref.job_id), (kill, plan)
    assert len(stored_keys(emulator, "autopilot/spend/")) == 1, kill
    if settings.upload_batch_seconds:
        assert [(b.state, b.job_id) for b in ledgers(emulator)] == [("submitted", ref.job_id)], kill
    if plan.source.kind == "timer":
        checkpoint = StateStore(fast_client(settings), settings.state_prefix, lambda: later).read_checkpoint("hourly")
        assert checkpoint is not None and (checkpoint.end, checkpoint.job_id) == (T0, ref.job_id), (kill, checkpoint)
    return True


@pytest.mark.parametrize("hold", HOLDERS, ids=["per-event upload", "coalesced batch", "timer window"])
def test_a_confirm_killed_after_any_of_its_calls_and_run_again_sends_the_held_job_exactly_once(emulator, hold):
    for k in range(1, MAX_CALLS):
        if not case(emulator, hold, k):
            assert k > 6, "the confirm made fewer calls than its claims, the ledger, a manifest and a job need"
            return
    raise AssertionError(f"the confirm made more than {MAX_CALLS} calls")
