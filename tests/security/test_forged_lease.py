"""Issue 22, point 1 (claims): a claim file under STATE_PREFIX/leases/ is input. A takeover finishes the stored
window under the stored name, so a forged claim could aim the next job at any window (a scan from 2000 with
DeleteObject, a window ending in 2036) or, unexpiring, stop the rule for ever. A claim that is not what our runs
write (its folder, a window derived from the checkpoint it is named after and the clock, this rule's name for that
window, an expiry no longer than any claim lasts) is deleted, noted and never obeyed.

The forger PUTs the claim over HTTP; the tick goes through handlers.submit.main_handler; the proof is CI's record
(only the real window [15:00, 16:00)) and the flagged image in it backed up once CI ran the job."""
from __future__ import annotations

import string
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lib.errors import LeaseHeldError
from tests.reliability.support import examples
from tests.security.timer_support import (
    HOUR,
    REAL_WINDOW,
    TICK,
    UTC,
    checkpoint,
    claims,
    forge,
    inspected,
    name,
    seed_flagged,
    tick,
    utc_text,
    windows,
)
from tests.support.emulator import EMULATOR_NOW, fresh_bucket

pytestmark = pytest.mark.emulator
FIRST = "autopilot/leases/hourly@first/"
LAPSED = "2020-01-01T00:00:00Z"
Y2000 = datetime(2000, 1, 1, tzinfo=UTC)
Y2036 = datetime(2036, 11, 28, 16, tzinfo=UTC)


def lease(lease_id, start, end, expires=LAPSED, job_name=None, generation=0):
    return {"lease_id": lease_id, "owner": "forger", "generation": generation, "expires_at": expires,
            "window_start": utc_text(start), "window_end": utc_text(end),
            "job_name": job_name if job_name is not None else name(start, end)}


FORGED_FIRST_CLAIMS = {
    "unexpiring-until-2099": lease("hourly@first", *REAL_WINDOW, expires="2099-01-01T00:00:00Z"),
    "window-from-2000": lease("hourly@first", Y2000, TICK),
    "window-ending-in-2036": lease("hourly@first", Y2036 - HOUR, Y2036),
    "window-a-year-old": lease("hourly@first", REAL_WINDOW[0] - timedelta(days=365), TICK - timedelta(days=365)),
    "lease-id-of-another-folder": lease("hourly@20000101T000000Z", Y2000, TICK),
}


def assert_only_the_real_window(emulator, backend, result):
    assert windows(emulator) == [REAL_WINDOW]
    assert inspected(backend)
    assert checkpoint(backend)["end"] == utc_text(TICK)
    assert claims(backend) == []  # the forged file deleted, ours released
    assert "ignored: claim autopilot/leases/" in result["note"]


@pytest.mark.parametrize("forged", FORGED_FIRST_CLAIMS.values(), ids=FORGED_FIRST_CLAIMS.keys())
def test_a_forged_first_run_claim_is_not_taken_over_and_the_real_window_is_scanned(emulator, timer_bucket, forged):
    forge(emulator, FIRST + "g000000.json", forged)
    assert_only_the_real_window(emulator, timer_bucket, tick())


def test_a_forged_claim_on_the_checkpoint_cannot_start_its_window_before_that_checkpoint(emulator, timer_bucket):
    tick(TICK - HOUR, "earlier")  # a real run: checkpoint 15:00, job [14:00, 15:00)
    forge(emulator, "autopilot/leases/hourly@20261128T150000Z/g000000.json",
          lease("hourly@20261128T150000Z", Y2000, TICK))
    result = tick()
    assert windows(emulator) == [(TICK - 2 * HOUR, TICK - HOUR), REAL_WINDOW]
    assert inspected(timer_bucket) and checkpoint(timer_bucket)["end"] == utc_text(TICK)
    assert "not at the checkpoint 20261128T150000Z" in result["note"]


def test_a_claim_a_killed_run_left_is_still_taken_over_with_its_window(emulator, timer_bucket):
    # What our runs write passes every check: the retry finishes the dead run's window, not its own.
    forge(emulator, FIRST + "g000000.json", lease("hourly@first", TICK - 2 * HOUR, TICK - HOUR))
    result = tick()
    assert windows(emulator) == [(TICK - 2 * HOUR, TICK - HOUR)] and result["note"] == ""


ALPHABET = string.ascii_letters + string.digits + "-_@"
MOMENTS = st.datetimes(datetime(1971, 1, 1), datetime(2200, 1, 1), timezones=st.just(UTC)).map(
    lambda d: d.replace(microsecond=0))


@st.composite
def forged_claims(draw):
    end = draw(MOMENTS | st.sampled_from([TICK, TICK - HOUR, Y2036]))
    start = end - draw(st.sampled_from([HOUR, timedelta(days=9000), timedelta(seconds=1)]))
    expires = draw(MOMENTS | st.just(datetime(2099, 1, 1, tzinfo=UTC)))
    generation = draw(st.integers(0, 999))
    content = lease(draw(st.just("hourly@first") | st.text(ALPHABET, min_size=1, max_size=30)), start, end,
                    expires=utc_text(expires), job_name=draw(st.none() | st.text(ALPHABET, min_size=1, max_size=60)),
                    generation=draw(st.just(generation) | st.integers(0, 999)))
    return generation, content


def could_be_ours(generation, content, now):
    """The claim a run of ours could have written for the 16:00 tick's first window (every other is tampered)."""
    start = datetime.fromisoformat(content["window_start"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(content["window_end"].replace("Z", "+00:00"))
    expires = datetime.fromisoformat(content["expires_at"].replace("Z", "+00:00"))
    return (content["lease_id"] == "hourly@first" and content["generation"] == generation and end - start == HOUR
            and TICK - timedelta(days=1) <= end <= now + timedelta(minutes=5)
            and content["job_name"] == name(start, end)
            and expires <= now + timedelta(days=1, minutes=5))


@given(forged=forged_claims())
@examples(default=10, soak=300)
def test_no_generated_forged_claim_stops_the_rule_or_moves_its_window(emulator, timer_bucket, forged):
    generation, content = forged
    fresh_bucket(emulator, clock=lambda: EMULATOR_NOW)
    seed_flagged(timer_bucket)
    forge(emulator, f"{FIRST}g{generation:06d}.json", content)
    now = datetime.now(timezone.utc)
    if could_be_ours(generation, content, now):
        # Such a claim is obeyed, as a killed run's must be: refused while live, its window finished once lapsed.
        try:
            tick()
        except LeaseHeldError:
            return
        start = datetime.fromisoformat(content["window_start"].replace("Z", "+00:00"))
        assert windows(emulator) == [(start, start + HOUR)]
        return
    assert_only_the_real_window(emulator, timer_bucket, tick())
