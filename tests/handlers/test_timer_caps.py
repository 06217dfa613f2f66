"""Timer rules under the caps (issue 25): a Prefix window is counted by listing before its job is sent; past a cap
the job is held as a plan, nothing is sent and the checkpoint stays; the operator's confirm sends exactly the held
body once and moves the checkpoint, a decline (or the plan's expiry) lets the rule go on past the window.

Counting rests on GET Bucket (436/7734: pages of at most 1,000 keys, LastModified per key; docs/emulator.md); what
CI would process is the objects under Input.Prefix whose modification falls in TimeInterval (ci-batch-api-and-sdk.md;
both ends counted, since CI does not say)."""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import pytest

from lib.config import load_settings
from lib.errors import PlanError
from lib.submit.confirm import confirm_plan, decline_plan
from lib.submit.run import Deps
from tests.support.emulator import EMULATOR_NOW, seed_image
from tests.support.entries import no_sleep, quick_client, submit_entry
from tests.support.events import timer_event
from tests.support.images import png
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator
CONTEXT = {"request_id": "r1", "time_limit_in_ms": 60000}
TICK = datetime(2026, 11, 28, 16, 0, tzinfo=timezone.utc)
NEXT = TICK + timedelta(hours=1)
CLOCK = TICK + timedelta(minutes=1)


def tick(when: datetime = TICK, clock: datetime = CLOCK):
    return submit_entry(clock=lambda: clock)(timer_event(when), CONTEXT)


def operator(clock: datetime = CLOCK) -> Deps:
    settings = load_settings(os.environ)
    return Deps(client=quick_client(settings), clock=lambda: clock, sleep=no_sleep, owner="operator")


def seed(bucket, n: int, at: datetime = EMULATOR_NOW, prefix: str = "uploads/") -> None:
    for i in range(n):
        seed_image(bucket, f"{prefix}img-{i:04d}.png", png(), uploaded=at)


def made_jobs(bucket) -> int:
    return len(bucket.jobs)


def has_checkpoint(bucket) -> bool:
    return "autopilot/checkpoints/hourly.json" in bucket.list_keys(BUCKET, prefix="autopilot/checkpoints/")


@pytest.fixture(autouse=True)
def uploads_rule(env, monkeypatch):
    """The rule scans uploads/: the emulator's clock stamps our own state objects inside the window too."""
    monkeypatch.setenv("INPUT_PREFIX", "uploads/")


@pytest.fixture
def capped(emulator_bucket, monkeypatch):
    monkeypatch.setenv("MAX_OBJECTS_PER_JOB", "3")
    return emulator_bucket


def test_a_window_under_the_caps_is_sent_with_its_count_and_estimate(capped):
    seed(capped, 2)
    result = tick()
    (job,) = result["jobs"]
    assert job["created"] and job["estimate"]["count"]["objects"] == 2 and job["estimate"]["count"]["complete"]
    assert job["estimate"]["cost"] == "0.000030" and job["estimate"]["currency"] == "USD"
    assert result["held"] == []


def test_a_window_over_max_objects_per_job_is_held_and_nothing_is_sent(capped):
    seed(capped, 4)
    result = tick()
    assert result["jobs"] == [] and len(result["held"]) == 1
    held = result["held"][0]
    assert held["status"] == "pending" and "MAX_OBJECTS_PER_JOB=3" in held["reason"]
    assert "HELD" in result["note"] and f"plans confirm {held['plan_id']}" in result["note"]
    assert made_jobs(capped) == 0 and not has_checkpoint(capped)


def test_the_next_tick_waits_for_the_held_window_and_holds_nothing_new(capped):
    seed(capped, 4)
    first = tick()
    second = tick(NEXT, NEXT + timedelta(minutes=1))
    assert second["jobs"] == [] and [h["plan_id"] for h in second["held"]] == [first["held"][0]["plan_id"]]
    assert "waits for a decision" in second["note"]


def test_confirm_sends_exactly_the_held_window_once_and_moves_the_checkpoint(capped):
    seed(capped, 4)
    plan_id = tick()["held"][0]["plan_id"]
    settings = load_settings(os.environ)
    first = confirm_plan(settings, operator(), plan_id)
    again = confirm_plan(settings, operator(), plan_id)
    assert first.created and not again.created and first.job_id == again.job_id and made_jobs(capped) == 1
    assert first.window_start == "2026-11-28T23:00:00+0800" and first.window_end == "2026-11-29T00:00:00+0800"
    nxt = tick(NEXT, NEXT + timedelta(minutes=1))
    assert [j["window_start"] for j in nxt["jobs"]] == ["2026-11-29T00:00:00+0800"]


def test_a_declined_window_is_skipped_and_the_rule_goes_on_after_it(capped):
    seed(capped, 4)
    plan_id = tick()["held"][0]["plan_id"]
    decline_plan(load_settings(os.environ), operator(), plan_id)
    nxt = tick(NEXT, NEXT + timedelta(minutes=1))
    assert [(j["window_start"], j["window_end"]) for j in nxt["jobs"]] == [
        ("2026-11-29T00:00:00+0800", "2026-11-29T01:00:00+0800")]
    with pytest.raises(PlanError, match="declined"):
        confirm_plan(load_settings(os.environ), operator(), plan_id)


def test_an_expired_plan_lets_the_rule_go_on_and_says_so(capped):
    seed(capped, 4)
    plan_id = tick()["held"][0]["plan_id"]
    later = CLOCK + timedelta(days=7, minutes=1)
    nxt = tick(NEXT, later)
    assert [j["window_start"] for j in nxt["jobs"]] == ["2026-11-29T00:00:00+0800"]
    with pytest.raises(PlanError, match="expired"):
        confirm_plan(load_settings(os.environ), operator(later), plan_id)


def test_a_prefix_too_large_to_count_within_count_limit_is_held_not_sent(emulator_bucket, monkeypatch):
    monkeypatch.setenv("COUNT_LIMIT", "1000")
    monkeypatch.setenv("MAX_OBJECTS_PER_JOB", "5000")
    for i in range(1001):
        emulator_bucket.put_object(BUCKET, f"uploads/{i:05d}.png", b"x", last_modified=EMULATOR_NOW)
    result = tick()
    assert result["jobs"] == []
    (held,) = result["held"]
    assert held["estimate"]["count"]["complete"] is False and "COUNT_LIMIT=1000" in held["reason"]


def test_without_caps_a_window_is_counted_and_sent_as_before(emulator_bucket):
    seed(emulator_bucket, 5)
    (job,) = tick()["jobs"]
    assert job["created"] and job["estimate"]["count"]["objects"] == 5

