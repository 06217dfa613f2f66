"""Issue 22, point 2: a timer whose `Time` lies after the function's own clock (+5 min skew, lib.windows.CLOCK_SKEW)
never makes a window ending in the future nor moves the checkpoint there. One manual `scf invoke` with a typo'd
year used to create a window ending in 2036 and a checkpoint there, so every real tick after it was skipped.

Now the tick is refused with a note naming the Time, the clock and the fix, before any state is read or written
(a clean skip: SCF retrying the same Time could never succeed). Driven through handlers.submit.main_handler, whose
clock is the real one; the emulator's bucket clock is 2026-11-28T15:30Z."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.reliability.support import examples
from tests.security.timer_support import REAL_WINDOW, TICK, UTC, checkpoint, inspected, tick, windows
from tests.support.emulator import EMULATOR_NOW, fresh_bucket
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator
TYPO = datetime(2036, 11, 28, 16, 0, tzinfo=UTC)


def state_objects(backend):
    return [k for k in backend.list_keys(BUCKET) if k.startswith("autopilot/")]


@pytest.mark.parametrize("window", ["incremental", "1h", "all"])
def test_a_timer_time_in_the_future_is_refused_without_a_job_or_state(emulator, timer_bucket, monkeypatch, window):
    monkeypatch.setenv("WINDOW", window)
    result = tick(TYPO, "typo")
    assert result["jobs"] == [] and windows(emulator) == [] and state_objects(timer_bucket) == []
    assert "timer Time 2036-11-28T16:00:00Z is after this function's clock" in result["note"]
    assert "no window may end in the future" in result["note"] and "Fix: invoke with the tick's real Time" in result[
        "note"]


def test_after_a_refused_future_time_the_next_real_tick_scans_its_window(emulator, timer_bucket):
    tick(TYPO, "typo")
    result = tick(TICK, "real")
    assert windows(emulator) == [REAL_WINDOW] and inspected(timer_bucket)
    assert checkpoint(timer_bucket)["end"] == "2026-11-28T16:00:00Z" and result["jobs"][0]["created"] is True


def test_the_skew_allows_a_time_three_minutes_ahead_and_refuses_one_eight_minutes_ahead(emulator, timer_bucket):
    # Minutes of margin on either side of the 5 min bound, so the real clock moving during the test cannot matter.
    near = (datetime.now(timezone.utc) + timedelta(minutes=3)).replace(microsecond=0)
    far = near + timedelta(minutes=5)
    assert tick(far, "far")["jobs"] == [] and windows(emulator) == []
    assert tick(near, "near")["jobs"] and windows(emulator) == [(near - timedelta(hours=1), near)]


@given(ahead=st.timedeltas(timedelta(minutes=6), timedelta(days=365 * 6000)))
@examples(default=8, soak=200)
def test_no_generated_future_time_creates_a_job_or_moves_state(emulator, timer_bucket, ahead):
    # Ahead of the real clock the function reads, not of a fixed date, so the test means the same on any day.
    fresh_bucket(emulator, clock=lambda: EMULATOR_NOW)
    at = (datetime.now(timezone.utc) + ahead).replace(microsecond=0)
    if at.year > 8999:
        return  # TimerEvent refuses years past 9000 itself (tests/reliability/test_reliability_fuzz.py)
    result = tick(at, "generated")
    assert result["jobs"] == [] and windows(emulator) == [] and state_objects(timer_bucket) == []
