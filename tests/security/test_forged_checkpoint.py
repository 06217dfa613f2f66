"""Issue 22, point 1 (checkpoints): a checkpoint under STATE_PREFIX is input, obeyed only when the CI job it names
is ours and ends where it says. A forged one is ignored, noted, and the tick plans as on a first run.

The forger PUTs `autopilot/checkpoints/hourly.json` over HTTP; the tick goes through handlers.submit.main_handler;
the proof is CI's own record (a job over the real window [15:00, 16:00)) and the flagged image in it being backed
up once CI ran the job. On the old code each of these ticks answered "window already covered" and scanned nothing."""
from __future__ import annotations

import string
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.report import main_handler as report_handler
from tests.reliability.support import examples
from tests.security.timer_support import (
    HOUR,
    REAL_WINDOW,
    TICK,
    UTC,
    checkpoint,
    forge,
    forger,
    inspected,
    name,
    seed_flagged,
    tick,
    utc_text,
    windows,
)
from tests.support.emulator import EMULATOR_NOW, fresh_bucket
from tests.support.events import timer_event

pytestmark = pytest.mark.emulator
KEY = "autopilot/checkpoints/hourly.json"
FAKE_ID = "b" + "0123456789abcdef" * 2  # the shape of a CI job id; no such job exists


def assert_real_window_scanned(emulator, backend, result):
    assert REAL_WINDOW in windows(emulator)
    assert all(end is not None and end <= TICK for _, end in windows(emulator))
    assert inspected(backend)
    written = checkpoint(backend)
    assert written["end"] == utc_text(TICK) and written["job_name"] == name(*REAL_WINDOW)
    assert result["jobs"][0]["job_id"] == written["job_id"]


FORGED = {
    "ends-in-2099": {"rule": "hourly", "end": "2099-01-01T00:00:00Z", "job_id": FAKE_ID,
                     "job_name": name(datetime(2098, 12, 31, 23, tzinfo=UTC), datetime(2099, 1, 1, tzinfo=UTC))},
    "names-a-job-ci-does-not-hold": {"rule": "hourly", "end": utc_text(TICK), "job_id": FAKE_ID,
                                     "job_name": name(*REAL_WINDOW)},
    "names-another-rule": {"rule": "nightly", "end": utc_text(TICK), "job_id": FAKE_ID,
                           "job_name": name(*REAL_WINDOW)},
    "names-a-job-id-that-is-no-id": {"rule": "hourly", "end": utc_text(TICK), "job_id": f"{FAKE_ID},{FAKE_ID}",
                                     "job_name": name(*REAL_WINDOW)},
}


@pytest.mark.parametrize("forged", FORGED.values(), ids=FORGED.keys())
def test_a_forged_checkpoint_is_ignored_and_the_real_window_is_scanned(emulator, timer_bucket, forged):
    forge(emulator, KEY, forged)
    result = tick()
    assert "ignored: checkpoint checkpoints/hourly.json" in result["note"]
    assert_real_window_scanned(emulator, timer_bucket, result)


def test_an_unreadable_checkpoint_is_ignored_and_the_real_window_is_scanned(emulator, timer_bucket):
    # Our runs write it whole in one PUT: only another writer leaves it unreadable, and it must not stop the rule.
    forger(emulator).put_object(KEY, b'{"rule": "hourly", "end": "2099', "application/json")
    result = tick()
    assert "checkpoint autopilot/checkpoints/hourly.json is unreadable" in result["note"]
    assert_real_window_scanned(emulator, timer_bucket, result)


def test_a_checkpoint_naming_a_real_job_of_another_window_is_ignored(emulator, timer_bucket):
    # The strongest check: the id is a real job of ours (the 15:00 tick's, over [14:00, 15:00)), the name and end
    # are the 16:00 window's; CI's own record of that job contradicts the checkpoint.
    earlier = tick(TICK - HOUR, "earlier")["jobs"][0]
    forge(emulator, KEY, {"rule": "hourly", "end": utc_text(TICK), "job_id": earlier["job_id"],
                          "job_name": name(*REAL_WINDOW)})
    result = tick()
    assert f"names job {earlier['job_id']}, which CI holds as" in result["note"]
    assert_real_window_scanned(emulator, timer_bucket, result)


def test_a_checkpoint_a_run_wrote_is_still_followed_at_one_job_lookup(emulator, timer_bucket):
    tick(TICK - HOUR, "earlier")
    result = tick()
    assert result["note"] == "" and windows(emulator) == [(TICK - 2 * HOUR, TICK - HOUR), REAL_WINDOW]
    gets = [r for r in emulator.request_log.snapshot()
            if r.method == "GET" and r.path.startswith("/inventorytriggerjob/")]
    assert len(gets) == 1  # the cost of the check: one DescribeInventoryTriggerJob per tick that has a checkpoint


def test_the_report_names_a_forged_checkpoint_as_a_problem_and_leaves_it_out(emulator, timer_bucket):
    forge(emulator, KEY, FORGED["ends-in-2099"])
    result = report_handler(timer_event(TICK, name="report"), {"request_id": "report"})
    summary = result["summary"]
    assert summary["problem"] is True and summary["checkpoints"] == []
    assert any(n.startswith("tampered or foreign state ignored: checkpoint checkpoints/hourly.json ends at 2099")
               for n in summary["notes"])


ALPHABET = string.ascii_letters + string.digits + "-_,./"


@st.composite
def forged_checkpoints(draw):
    end = draw(st.datetimes(datetime(1971, 1, 1), datetime(2200, 1, 1), timezones=st.just(UTC)))
    end = end.replace(microsecond=0)
    start = end - draw(st.sampled_from([HOUR, timedelta(days=1), timedelta(seconds=1)]))
    return {
        "rule": draw(st.sampled_from(["hourly", "nightly"]) | st.text(ALPHABET, min_size=1, max_size=20)),
        "end": utc_text(end),
        "job_id": draw(st.just(FAKE_ID) | st.text(ALPHABET, min_size=1, max_size=40)),
        "job_name": draw(st.just(name(start, end)) | st.text(ALPHABET, min_size=1, max_size=80)),
        "lease_id": draw(st.none() | st.just("hourly@first") | st.text(ALPHABET, min_size=1, max_size=30)),
    }


@given(forged=forged_checkpoints())
@examples(default=8, soak=200)
def test_no_generated_forged_checkpoint_stops_or_moves_the_real_window(emulator, timer_bucket, forged):
    # A bucket writer cannot create CI jobs, so in a bucket with none every checkpoint it writes fails the check.
    fresh_bucket(emulator, clock=lambda: EMULATOR_NOW)
    seed_flagged(timer_bucket)
    forge(emulator, KEY, forged)
    result = tick()
    assert windows(emulator) == [REAL_WINDOW]
    assert_real_window_scanned(emulator, timer_bucket, result)
