"""Coalescing mode under hard kills (issue 16 with issue 17's harness): the upload event whose flush pass makes a
slot's batch job runs in its own process and is SIGKILLed right after its k-th request reached the service; a late
upload of the same slot arrives while the dead run's claim still stands; SCF's retry comes after the claim lapsed;
a timer tick settles. Then every upload is in exactly one ledger, each ledger's job exists once in CI, and no claim
or late marker is left. Default: every third kill point; `make soak`: every point, then pairs (the retry killed too)."""
from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import List

import pytest

from lib import upload_state
from lib.events import parse_event, uploaded_object
from tests.reliability.coalesce_support import T0, Upload, record_ids, settled_problems, upload_event
from tests.reliability.kills import Relay, Runner
from tests.reliability.support import SOAK
from tests.support.emulator import emulator_env
from tests.support.events import timer_event
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator
TIME_LIMIT_MS = 30_000  # a claim lasts 30 s + 30 s
RETRY = timedelta(seconds=90)  # SCF's retry, after the dead run's claim lapsed
EARLY = [Upload(f"photos/{i}.png", T0 + timedelta(seconds=10 * i)) for i in range(3)]
TRIGGER = Upload("photos/trigger.png", upload_state.due_at(T0, 60))
LATE = Upload("photos/late.png", T0 + timedelta(seconds=59))
MAX_POINTS = 40
STATS: Counter = Counter()


@pytest.fixture(scope="module")
def runner(emulator_session):
    relay = Relay(emulator_session.url)
    run = Runner(relay, emulator_env(emulator_session, UPLOAD_BATCH_SECONDS="60", WINDOW="all"), TIME_LIMIT_MS)
    yield run
    run.close()
    relay.stop()
    print("\ncoalesce kill harness:", dict(sorted(STATS.items())))


def ids(uploads: List[Upload]) -> List[str]:
    return sorted(upload_state.record_id(uploaded_object(parse_event(upload_event([u])).records[0])) for u in uploads)


def case(emulator, runner: Runner, kills: List[int]) -> bool:
    """One case; False when the flushing run finished before the first kill point (the sweep is done)."""
    emulator.reset()
    emulator.backend.create_bucket(BUCKET)
    assert runner.deliver(upload_event(EARLY), T0 + timedelta(seconds=25)).completed
    when = TRIGGER.at
    first = runner.deliver(upload_event([TRIGGER]), when, kill_after=kills[0])
    if not first.killed:
        return False
    # A late upload of the slot while the dead run's claim stands: recorded with a marker, its pass skips the slot.
    assert runner.deliver(upload_event([LATE]), when + timedelta(seconds=5)).completed
    for kill in kills[1:] + [None]:
        when += RETRY
        outcome = runner.deliver(upload_event([TRIGGER]), when, kill_after=kill)
        STATS["runs"] += 1
        if not outcome.killed:
            assert outcome.completed, outcome
            break
    assert runner.deliver(timer_event(when + timedelta(minutes=3)), when + timedelta(minutes=3)).completed
    assert settled_problems(emulator) == [], kills
    assert sorted(record_ids(emulator)) == ids(EARLY + [TRIGGER, LATE]), kills
    STATS["cases"] += 1
    return True


def test_a_flush_killed_after_any_of_its_requests_is_finished_by_the_retry_with_nothing_lost_or_doubled(
        emulator, runner):
    step = 1 if SOAK else 3
    for k in range(1, MAX_POINTS, step):
        if not case(emulator, runner, [k]):
            assert k > 10, "the flushing run made fewer requests than a claim, a batch and a job need"
            return
    raise AssertionError(f"the flushing run made more than {MAX_POINTS} requests")


@pytest.mark.skipif(not SOAK, reason="pairs of kill points run under make soak")
def test_a_flush_and_its_retry_both_killed_at_any_pair_of_points_still_settle_exactly_once(emulator, runner):
    for k1 in range(1, MAX_POINTS):
        if not case(emulator, runner, [k1, 1]):
            return
        for k2 in range(2, MAX_POINTS):
            if not case(emulator, runner, [k1, k2]):
                break
