"""Racing first ticks (issue 17, point 1): a run works from the state it sees after taking its claim.

Ticks at 00:00 (A) and 02:00 (B) arrive together before any checkpoint exists. B plans from "no checkpoint",
A finishes meanwhile; B must then re-plan from A's checkpoint, so the hour [00:00, 01:00) is not lost."""
from __future__ import annotations

import pytest

from lib.state import Checkpoint
from tests.reliability.support import ScriptedClient, all_jobs, at, hours, run_timer, start_paused
from tests.support.emulator import emulator_settings, fast_client
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator
A_TICK, B_TICK = at(2, 0), at(2, 2)


def checkpoint_end(emulator):
    record = emulator.backend.buckets[BUCKET].get("autopilot/checkpoints/hourly.json")
    return Checkpoint.model_validate_json(record.data).end


def test_the_racing_first_ticks_leave_no_hour_uncovered_once_both_complete(emulator):
    settings = emulator_settings(emulator, FIRST_RUN_LOOKBACK="1h")
    emulator.backend.create_bucket(BUCKET)
    b = ScriptedClient(fast_client(settings), pause_before=("put_object", 1))
    thread, box = start_paused(lambda: run_timer(settings, B_TICK, b, owner="B"), b)
    run_timer(settings, A_TICK, fast_client(settings), owner="A")
    b.resume.set()
    thread.join(10)
    windows = sorted((j.start, j.end) for j in all_jobs(emulator))
    assert windows == [(A_TICK - hours(1), A_TICK), (A_TICK, B_TICK)]
    assert box["result"].jobs[0].window_start == "2026-11-02T08:00:00+0800"
    assert checkpoint_end(emulator) == B_TICK
