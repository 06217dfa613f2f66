"""Exactly once under hard kills (issue 17): the submit handler runs in its own process, is SIGKILLed right after
its k-th request reached the service, for every k in turn, and is then redelivered (SCF's retry) until a run
completes. Also pairs of kill points: the run, then its redelivery.

After each case: the windows tile the period exactly (their union is the period, no overlap), an upload has
exactly one job, every redelivery got through (no claim blocked it), and no claim is left in the bucket.
A schedule of hourly ticks (missed, late, duplicated, killed once or twice at drawn points) must tile its period and
leave no claim once it settled. Default: every single kill point of every scenario, sampled pairs, 2 schedules of
24 ticks; `make soak`: every pair of kill points and 20 schedules of 48 ticks."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional, Tuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lib.state import Checkpoint
from tests.reliability.kills import Outcome, Relay, Runner
from tests.reliability.support import SOAK, all_jobs, at, duplicated_names, examples, hours
from tests.support.emulator import emulator_env
from tests.support.events import cos_event, timer_event
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator
T0 = at(2, 0)
TIME_LIMIT_MS = 30_000  # so a claim lasts 30 s + 30 s (lib.submit.run.lease_ttl)
# SCF kills a run at its time limit and retries a minute later: by then the dead run's claim has lapsed.
RETRY = timedelta(milliseconds=TIME_LIMIT_MS) + timedelta(seconds=60)
MAX_KILL_POINTS = 20  # more requests than any run makes: the sweep stops when a run finishes unkilled
STATS: Counter = Counter()


@dataclass(frozen=True)
class Scenario:
    """State left by earlier runs, then the delivery under test and what must hold once it settled."""

    name: str
    event: Dict[str, Any]
    at: datetime
    windows: List[Tuple[datetime, datetime]] = field(default_factory=list)  # empty: an upload (one job)
    before: List[Tuple[Dict[str, Any], datetime, Optional[int]]] = field(default_factory=list)


TICK1 = T0 + hours(1)
SCENARIOS = [
    Scenario("first-tick", timer_event(T0), T0 + timedelta(seconds=5), [(T0 - hours(1), T0)]),
    Scenario("normal-tick", timer_event(TICK1), TICK1 + timedelta(seconds=5), [(T0 - hours(1), T0), (T0, TICK1)],
             before=[(timer_event(T0), T0 + timedelta(seconds=5), None)]),
    # A dead run's claim (killed after writing it, or after its create): the run under test takes it over.
    *[Scenario(f"takeover-after-{what}", timer_event(TICK1), TICK1 + timedelta(seconds=5) + RETRY,
               [(T0 - hours(1), T0), (T0, TICK1)],
               before=[(timer_event(T0), T0 + timedelta(seconds=5), None),
                       (timer_event(TICK1), TICK1 + timedelta(seconds=5), kill)])
      # Request numbers of the killed run: 1 checkpoint GET, 2 the GET of the job it names (issue 22), 3 the GET of
      # a plan held for the window after it (issue 25), 4 claim, 5 its listing, 6 checkpoint again, 7 the window's
      # count, 8 its entry on the day's spend ledger (no cap: no listing), 9 the name lookup, 10 create
      for what, kill in (("claim", 4), ("create", 10))],
    Scenario("one-object-upload", cos_event(["uploads/a.png"]), T0),
    Scenario("manifest-upload", cos_event(["uploads/a.png", "uploads/b.png"]), T0),
]


@pytest.fixture(scope="module")
def runner(emulator_session):
    relay = Relay(emulator_session.url)
    env = emulator_env(emulator_session, FIRST_RUN_LOOKBACK="1h")
    run = Runner(relay, env, TIME_LIMIT_MS)
    yield run
    run.close()
    relay.stop()
    print("\nkill harness:", dict(sorted(STATS.items())))


def fresh(emulator, runner: Runner, scenario: Scenario) -> None:
    emulator.reset()
    emulator.backend.create_bucket(BUCKET)
    for event, when, kill in scenario.before:
        outcome = runner.deliver(event, when, kill_after=kill)
        assert outcome.killed if kill else outcome.completed, outcome
        if kill:  # the dead run's claim is there to take over; this also proves state_left sees claims
            assert state_left(emulator), f"the run killed after request {kill} left no claim"


def deliver_until_done(runner: Runner, scenario: Scenario, kills: List[int]) -> Tuple[List[Outcome], bool]:
    """The delivery killed at kills[0], its redelivery at kills[1] ...; then redeliveries until one completes.

    Returns the outcomes and whether every kill point was reached (False: a run finished before it)."""
    outcomes: List[Outcome] = []
    when = scenario.at
    for kill in kills:
        outcome = runner.deliver(scenario.event, when, kill_after=kill)
        outcomes.append(outcome)
        STATS["runs"] += 1
        if not outcome.killed:
            return outcomes, False
        STATS["kills"] += 1
        when += RETRY
    # SCF's retry after the last kill must get through: a claim blocking it would be a stuck claim.
    outcomes.append(runner.deliver(scenario.event, when))
    STATS["runs"] += 1
    return outcomes, True


def state_left(emulator) -> List[str]:
    with emulator.backend.lock:
        return sorted(k for k in emulator.backend.buckets[BUCKET] if k.startswith("autopilot/leases/"))


def check_settled(emulator, scenario: Scenario, outcomes: List[Outcome]) -> None:
    last = outcomes[-1]
    assert last.completed, f"the redelivery after the kill did not get through: {last}"
    jobs = all_jobs(emulator)
    assert duplicated_names(jobs) == {}, "the same job was created twice"
    if scenario.windows:
        assert sorted((j.start, j.end) for j in jobs) == scenario.windows, "the windows do not tile the period"
        with emulator.backend.lock:
            record = emulator.backend.buckets[BUCKET]["autopilot/checkpoints/hourly.json"]
        assert Checkpoint.model_validate_json(record.data).end == scenario.windows[-1][1]
    else:
        assert len(jobs) == 1, "an upload must have exactly one job"
    assert state_left(emulator) == [], "a claim was left behind that no run will clean"


def sweep(emulator, runner: Runner, scenario: Scenario, prefix: List[int]) -> int:
    """Kill the run after each of its requests in turn (after the kills in prefix); returns the points covered."""
    for k in range(1, MAX_KILL_POINTS + 1):
        fresh(emulator, runner, scenario)
        outcomes, all_reached = deliver_until_done(runner, scenario, prefix + [k])
        check_settled(emulator, scenario, outcomes)
        if not all_reached:
            return k - 1
        STATS["kill points covered"] += 1
    raise AssertionError(f"{scenario.name} made more than {MAX_KILL_POINTS} requests")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_a_run_killed_after_any_one_of_its_requests_is_completed_exactly_once_by_its_redelivery(
        emulator, runner, scenario):
    points = sweep(emulator, runner, scenario, [])
    assert points >= 4  # every scenario makes at least a claim, a lookup, a create and a release
    STATS[f"{scenario.name}: requests"] = points


PAIR_SCENARIOS = SCENARIOS if SOAK else [s for s in SCENARIOS if s.name in ("first-tick", "manifest-upload")]


@pytest.mark.parametrize("scenario", PAIR_SCENARIOS, ids=[s.name for s in PAIR_SCENARIOS])
def test_a_run_and_its_redelivery_both_killed_at_any_pair_of_points_still_settle_exactly_once(
        emulator, runner, scenario):
    fresh(emulator, runner, scenario)
    requests = len(runner.deliver(scenario.event, scenario.at).requests)
    # Default: the first run dies right after its claim, or just before its last request; soak: at every point.
    for k1 in (range(1, requests + 1) if SOAK else (2, requests - 1)):
        covered = sweep(emulator, runner, scenario, [k1])
        # Every redelivery makes a request, so 0 would mean the first run was never killed at k1: no pair tested.
        assert covered >= 1, f"{scenario.name}: no redelivery was killed after a first run killed at {k1}"
        STATS["kill pairs covered"] += covered


# --- a schedule of ticks, each delivery a process that may be killed at any request --------------------------

DAY_TICKS = [T0 + hours(k) for k in range(1, 49 if SOAK else 25)]
TICK_FATES = st.one_of(st.just(("ok",)), st.just(("ok",)), st.just(("missed",)), st.just(("late",)),
                       st.just(("dup",)), st.tuples(st.just("kill"), st.integers(1, 8)),
                       st.tuples(st.just("kill-twice"), st.integers(1, 8), st.integers(1, 8)))


@examples(2, 20)
@given(fates=st.lists(TICK_FATES, min_size=len(DAY_TICKS), max_size=len(DAY_TICKS)))
def test_a_schedule_of_killed_late_and_duplicate_ticks_tiles_the_period_and_leaves_no_claim(
        emulator_session, runner, fates):
    emulator = emulator_session
    emulator.reset()
    emulator.backend.create_bucket(BUCKET)
    first = Scenario("first", timer_event(T0), T0 + timedelta(seconds=5))
    assert deliver_until_done(runner, first, [])[0][-1].completed
    held: List[datetime] = []  # a late tick, delivered after the next tick's own deliveries
    for tick, fate in zip(DAY_TICKS, fates):
        STATS[f"schedule: {fate[0]} ticks"] += 1
        deliveries = {"missed": [], "late": [], "dup": [tick, tick]}.get(fate[0], [tick]) + held
        held = [tick] if fate[0] == "late" else []
        kills = list(fate[1:]) if fate[0].startswith("kill") else []
        for when in deliveries:
            scenario = Scenario("tick", timer_event(when), tick + timedelta(seconds=5))
            outcomes, _ = deliver_until_done(runner, scenario, kills)
            assert outcomes[-1].completed, outcomes[-1]
    end = DAY_TICKS[-1]
    drain = Scenario("drain", timer_event(end), end + timedelta(minutes=30))
    assert deliver_until_done(runner, drain, [])[0][-1].completed
    jobs = all_jobs(emulator)
    windows = sorted((j.start, j.end) for j in jobs)
    assert duplicated_names(jobs) == {} and windows[0][0] == T0 - hours(1) and windows[-1][1] == end
    assert all(a[1] == b[0] for a, b in zip(windows, windows[1:])), "the windows do not tile the period"
    assert state_left(emulator) == [], "a claim was left behind after the schedule settled"
    STATS["schedules"] += 1
