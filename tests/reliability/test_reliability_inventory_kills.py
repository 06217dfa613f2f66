"""Inventory runs under hard kills (issue 24 with issue 17's harness): the timer tick that processes a report runs in
its own process and is SIGKILLed right after its k-th request reached the service; SCF's retries come after the
dead run's claim lapsed, and a final tick settles. Then every kept object is in exactly one job, each job name
exists once in CI, and the report is marked processed. Default: every second kill point; `make soak`: every one."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from tests.inventory.support import INVENTORY_ID, Bucket
from tests.reliability.kills import Relay, Runner
from tests.reliability.support import SOAK
from tests.support.events import timer_event

pytestmark = pytest.mark.emulator
TIME_LIMIT_MS = 30_000  # a claim lasts 30 s + 30 s
RETRY = timedelta(seconds=90)
PUT_AT = datetime(2026, 11, 1, 2, 0, tzinfo=timezone.utc)
DAY = "20261103"
RUN_AT = datetime(2026, 11, 3, 1, 0, tzinfo=timezone.utc)
KEYS = [f"uploads/{i:03d}.png" for i in range(10)] + ["uploads/skip.txt", "other/x.png"]
KEPT = Counter({k: 1 for k in KEYS if k.endswith(".png") and k.startswith("uploads/")})
MAX_POINTS = 60
STATS: Counter = Counter()


def case(emulator, relay: Relay, kill: int) -> bool:
    """One kill point; False when the run finished before it (the sweep is done)."""
    bucket = Bucket(emulator, INPUT_PREFIX="uploads/", WINDOW="all")
    bucket.put(*KEYS, at=PUT_AT)
    bucket.report(DAY, rows_per_file=4)  # three data files
    runner = Runner(relay, bucket.env, TIME_LIMIT_MS, patch={"lib.submit.inventory.PART_OBJECTS": 4})
    try:
        when = RUN_AT
        first = runner.deliver(timer_event(when, name="inventory"), when, kill_after=kill)
        if not first.killed:
            assert first.completed, first
            return False
        for _ in range(3):
            when += RETRY
            outcome = runner.deliver(timer_event(when, name="inventory"), when)
            STATS["runs"] += 1
            if outcome.completed:
                break
        when += RETRY
        last = runner.deliver(timer_event(when, name="inventory"), when)
        assert last.completed and last.result["jobs"] == [], (kill, last)
    finally:
        runner.close()
    assert Counter(bucket.covered()) == KEPT, kill
    names = [j.name for j in bucket.jobs()]
    assert len(names) == len(set(names)) == 3, (kill, names)
    assert f"report {DAY} already processed" in last.result["note"], kill
    assert bucket.client.get_object(f"autopilot/inventory-runs/{INVENTORY_ID}/checkpoint.json") is not None
    STATS["cases"] += 1
    return True


def test_an_inventory_run_killed_after_any_of_its_requests_is_finished_by_the_retry_with_nothing_lost_or_doubled(
        emulator, relay):
    for k in range(1, MAX_POINTS, 1 if SOAK else 2):
        if not case(emulator, relay, k):
            assert k > 15, "the run made fewer requests than a claim, a ledger and three jobs need"
            return
    raise AssertionError(f"the inventory run made more than {MAX_POINTS} requests")
