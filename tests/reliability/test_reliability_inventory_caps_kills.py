"""Held inventory parts under hard kills (issue 25 with issue 17's harness). A tick whose report's second part is past
DAILY_OBJECT_CAP is killed right after its k-th request: its retries send the first part once and hold the second
once. And an operator's confirm of a held inventory part under hard kills (issue 25 with issue 17's harness): a tick holds
part 1 of a report (MAX_OBJECTS_PER_JOB) and sends part 2; the confirm runs in its own process and is SIGKILLed right
after its k-th request reached the service; the operator runs it again after its claims lapsed, then confirms once
more. Then the part's job exists once, every kept object is in exactly one job, the part is counted once on the
day's ledger, and the report is processed. Default: every second kill point; `make soak`: every one."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from tests.inventory.support import INVENTORY_ID, Bucket
from tests.reliability.kills import Relay, Runner
from tests.reliability.support import SOAK
from tests.support.caps import stored_plans
from tests.support.events import timer_event

pytestmark = pytest.mark.emulator
TIME_LIMIT_MS = 30_000  # a claim lasts 30 s + 30 s
RETRY = timedelta(seconds=90)
PUT_AT = datetime(2026, 11, 1, 2, 0, tzinfo=timezone.utc)
DAY = "20261103"
RUN_AT = datetime(2026, 11, 3, 1, 0, tzinfo=timezone.utc)
KEYS = [f"uploads/{i:03d}.png" for i in range(6)] + ["uploads/skip.txt"]
KEPT = Counter({k: 1 for k in KEYS if k.endswith(".png")})
CONFIRM = "tests.support.caps:confirm_entry"
MAX_POINTS = 60
STATS: Counter = Counter()


def case(emulator, relay: Relay, kill: int) -> bool:
    """One kill point; False when the confirm finished before it (the sweep is done)."""
    bucket = Bucket(emulator, INPUT_PREFIX="uploads/", WINDOW="all", MAX_OBJECTS_PER_JOB="3")
    bucket.put(*KEYS, at=PUT_AT)
    bucket.report(DAY)
    runner = Runner(relay, bucket.env, TIME_LIMIT_MS, patch={"lib.submit.inventory.PART_OBJECTS": 4})
    try:
        when = RUN_AT
        tick = runner.deliver(timer_event(when, name="inventory"), when)
        assert tick.completed and tick.result is not None, tick
        plan = {"plan_id": tick.result["held"][0]["plan_id"]}
        when += RETRY
        first = runner.deliver(plan, when, kill_after=kill, entry=CONFIRM)
        if not first.killed:
            assert first.completed, first
            return False
        for _ in range(3):
            when += RETRY
            outcome = runner.deliver(plan, when, entry=CONFIRM)
            STATS["confirms"] += 1
            if outcome.completed:
                break
        assert outcome.completed, (kill, outcome)
        when += RETRY
        twice = runner.deliver(plan, when, entry=CONFIRM)
        assert twice.completed and twice.result is not None and not twice.result["created"], (kill, twice)
        when += RETRY
        last = runner.deliver(timer_event(when, name="inventory"), when)
        assert last.completed and last.result["jobs"] == [], (kill, last)
    finally:
        runner.close()
    assert Counter(bucket.covered()) == KEPT, kill
    names = [j.name for j in bucket.jobs()]
    assert len(names) == len(set(names)) == 2, (kill, names)
    assert f"report {DAY} already processed" in last.result["note"], kill
    assert len(bucket.client.list_keys("autopilot/spend/")) == 2, kill
    assert [p.status for p in stored_plans(bucket.env, bucket.client)] == ["confirmed"], kill
    assert bucket.client.get_object(f"autopilot/inventory-runs/{INVENTORY_ID}/checkpoint.json") is not None
    STATS["cases"] += 1
    return True


def test_a_confirm_killed_after_any_of_its_requests_sends_the_held_part_once_when_run_again(emulator, relay):
    for k in range(1, MAX_POINTS, 1 if SOAK else 2):
        if not case(emulator, relay, k):
            assert k > 8, "the confirm made fewer requests than its claims, the plan, the ledger and a job need"
            return
    raise AssertionError(f"the confirm made more than {MAX_POINTS} requests")


def held_case(emulator, relay: Relay, kill: int) -> bool:
    """A tick that holds part 2 of 2 (DAILY_OBJECT_CAP), killed at k; False when it finished before it."""
    bucket = Bucket(emulator, INPUT_PREFIX="uploads/", WINDOW="all", DAILY_OBJECT_CAP="5")
    bucket.put(*KEYS, at=PUT_AT)
    bucket.report(DAY)
    runner = Runner(relay, bucket.env, TIME_LIMIT_MS, patch={"lib.submit.inventory.PART_OBJECTS": 4})
    try:
        when = RUN_AT
        first = runner.deliver(timer_event(when, name="inventory"), when, kill_after=kill)
        if not first.killed:
            assert first.completed, first
            return False
        for _ in range(4):
            when += RETRY
            last = runner.deliver(timer_event(when, name="inventory"), when)
            STATS["held runs"] += 1
            if last.completed:
                break
        assert last.completed and last.result is not None, (kill, last)
    finally:
        runner.close()
    assert [h["name"] for h in last.result["held"]] == [f"autopilot-inv-{INVENTORY_ID}-{DAY}-2"], (kill, last)
    assert [j.name for j in bucket.jobs()] == [f"autopilot-inv-{INVENTORY_ID}-{DAY}-1"], kill
    assert [p.status for p in stored_plans(bucket.env, bucket.client)] == ["pending"], kill
    assert len(bucket.client.list_keys("autopilot/spend/")) == 1, kill
    assert bucket.client.get_object(f"autopilot/inventory-runs/{INVENTORY_ID}/checkpoint.json") is None, kill
    STATS["held cases"] += 1
    return True


def test_a_tick_holding_a_part_killed_after_any_of_its_requests_sends_the_rest_once_and_holds_the_part_once(
        emulator, relay):
    for k in range(1, MAX_POINTS, 1 if SOAK else 2):
        if not held_case(emulator, relay, k):
            assert k > 10, "the run made fewer requests than a claim, a ledger, a job and a plan need"
            return
    raise AssertionError(f"the run made more than {MAX_POINTS} requests")
