"""`python -m ops submit --dry-run` counts and prices what a run now would send (issue 25 point 4), through ops.cli.main
over the emulator: a timer rule's window as the next tick really covers it (its checkpoint and the operator's
decisions, read only), counted by listing and priced, with the caps' verdict against today's ledger; an upload
event's exact count. Nothing is written: no plan, no ledger entry, no claim, no job."""
from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Optional

import pytest

from tests.cli.support import Ran, in_process
from tests.support.emulator import EMULATOR_NOW, seed_image
from tests.support.entries import submit_entry
from tests.support.events import cos_event, timer_event
from tests.support.images import png

pytestmark = pytest.mark.emulator
CONTEXT = {"request_id": "r1", "time_limit_in_ms": 60000}
TICK = datetime(2026, 11, 28, 16, 0, tzinfo=timezone.utc)
CLOCK = TICK + timedelta(minutes=1)
LATER = TICK + timedelta(hours=1, minutes=1)  # the next tick's clock: its window is [16:00, 17:01)
WRITES = ("PUT", "POST", "DELETE")


def dry_run(*argv: str, clock: datetime = CLOCK, environ: Optional[Dict[str, str]] = None) -> Ran:
    return in_process("submit", "--dry-run", *argv, environ=os.environ if environ is None else environ, clock=clock)


def tick(when: datetime = TICK, clock: datetime = CLOCK) -> Dict[str, Any]:
    return submit_entry(clock=lambda: clock)(timer_event(when), CONTEXT)


def seed(bucket, n: int, at: datetime = EMULATOR_NOW, name: str = "img") -> None:
    for i in range(n):
        seed_image(bucket, f"uploads/{name}-{i:04d}.png", png(), uploaded=at)


def writes(emulator) -> list:
    return [f"{r.method} {r.path}" for r in emulator.request_log if r.method in WRITES]


@pytest.fixture
def rule(emulator_bucket, monkeypatch):
    """A rule over uploads/ with 2 images in its first window; RULE_NAME names it for the dry run's tick too."""
    monkeypatch.setenv("INPUT_PREFIX", "uploads/")
    monkeypatch.setenv("RULE_NAME", "hourly")
    seed(emulator_bucket, 2)
    return emulator_bucket


# --- a timer rule -------------------------------------------------------------------------------------------------

def test_a_timer_dry_run_counts_the_window_and_prices_it(rule):
    ran = dry_run("--json")
    document = ran.json()
    assert ran.code == 0 and document["estimate"] == {
        "count": {"objects": 2, "method": "listing uploads/ in the window (1 listing request)", "complete": True},
        "cost": "0.000030", "currency": "USD"}, ran
    assert document["held_reason"] == "" and document["window"]["start"] == "2026-11-28T23:01:00+0800"


def test_a_timer_dry_run_says_the_count_estimate_and_verdict_in_words(rule):
    ran = dry_run()
    assert ran.code == 0 and ran.out.startswith('<?xml version="1.0" encoding="utf-8"?>\n<Request>'), ran
    assert "count      2 objects (listing uploads/ in the window (1 listing request))" in ran.err
    assert "estimate   ≈ 0.000030 USD" in ran.err and "verdict    sent: no cap is set" in ran.err


def test_a_window_over_a_cap_is_shown_held_and_nothing_is_written(emulator, rule, monkeypatch):
    monkeypatch.setenv("MAX_OBJECTS_PER_JOB", "1")
    emulator.request_log.clear()
    ran = dry_run()
    assert ran.code == 1, ran
    assert ("verdict    HELD: a run now would hold this job as a plan and send nothing: 2 objects is over "
            "MAX_OBJECTS_PER_JOB=1") in ran.err
    assert "caps       MAX_OBJECTS_PER_JOB=1, DAILY_OBJECT_CAP=unset, DAILY_COST_CAP=unset; 2026-11-28 (UTC) has 0 " \
           "objects" in ran.err
    assert writes(emulator) == [] and rule.jobs == {}


def test_the_daily_cap_is_judged_against_what_today_has_sent(rule, monkeypatch):
    monkeypatch.setenv("DAILY_OBJECT_CAP", "3")
    tick()  # sends the first window's 2 objects: today has 2
    seed(rule, 2, at=TICK + timedelta(minutes=30), name="later")
    document = dry_run("--json", clock=LATER).json()
    assert document["today"]["objects"] == 2 and document["estimate"]["count"]["objects"] == 2
    assert "2 objects would take 2026-11-28's total from 2 past DAILY_OBJECT_CAP=3" in document["held_reason"]


def test_the_dry_run_covers_the_window_after_the_checkpoint(rule):
    job_id = tick()["jobs"][0]["job_id"]
    document = dry_run("--json", clock=LATER).json()
    assert document["window"] == {"start": "2026-11-29T00:00:00+0800", "end": "2026-11-29T01:01:00+0800"}
    assert document["window_from"] == f"from the checkpoint (job {job_id})"


def test_since_sets_the_window_counted_and_leaves_the_checkpoint_unread(rule):
    tick()
    document = dry_run("--json", "--since", "3h", clock=LATER).json()
    assert document["window"] == {"start": "2026-11-28T22:01:00+0800", "end": "2026-11-29T01:01:00+0800"}
    assert document["window_from"] == "as --since sets it (the checkpoint was not read)"
    assert document["estimate"]["count"]["objects"] == 2


def test_a_dry_run_of_a_tick_already_covered_says_a_run_sends_nothing(rule, tmp_path):
    job_id = tick()["jobs"][0]["job_id"]
    event = tmp_path / "tick.json"
    event.write_text(json.dumps(timer_event(TICK)), encoding="utf-8")
    ran = dry_run("--event", str(event))
    assert ran.code == 0 and ran.out == "", ran
    assert f"a run now sends nothing: the window is covered up to 2026-11-28 16:00:00Z by job {job_id}" in ran.err


def test_a_dry_run_while_a_plan_waits_names_the_plan_and_sends_nothing(rule, monkeypatch):
    monkeypatch.setenv("MAX_OBJECTS_PER_JOB", "1")
    (held,) = tick()["held"]
    ran = dry_run(clock=LATER)
    assert ran.code == 1 and ran.out == "", ran  # no body: a run now sends nothing
    assert f"a run now sends nothing: its job waits for plan {held['plan_id']}" in ran.err
    assert f"`python -m ops plans confirm {held['plan_id']}` sends it" in ran.err
    assert dry_run("--json", clock=LATER).json()["waits_for"] == held["plan_id"]


def test_after_a_decline_the_dry_run_covers_the_window_after_it(rule, monkeypatch):
    monkeypatch.setenv("MAX_OBJECTS_PER_JOB", "1")
    (held,) = tick()["held"]
    assert in_process("plans", "decline", held["plan_id"], "--yes", environ=os.environ, clock=CLOCK).code == 0
    document = dry_run("--json", clock=LATER).json()
    assert document["window"]["start"] == "2026-11-29T00:00:00+0800"
    assert document["window_from"].startswith("after the windows the operator declined")


def test_a_dry_run_past_an_expired_plan_does_not_mark_it(emulator, rule, monkeypatch):
    monkeypatch.setenv("MAX_OBJECTS_PER_JOB", "1")
    tick()
    emulator.request_log.clear()
    document = dry_run("--json", clock=CLOCK + timedelta(days=8)).json()
    assert document["window_from"].startswith("after the windows the operator declined (or that expired)")
    assert writes(emulator) == []


def test_without_credentials_the_dry_run_prints_the_body_and_says_it_was_not_counted(rule, tmp_path):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TENCENTCLOUD_")}
    ran = dry_run(environ={**environ, "HOME": str(tmp_path)})
    assert ran.code == 0 and "<Prefix>uploads/</Prefix>" in ran.out, ran
    assert "note       not counted or checked against the caps: no credentials to read the bucket with" in ran.err


# --- an upload event ----------------------------------------------------------------------------------------------

def upload_event(tmp_path, n: int) -> str:
    path = tmp_path / "upload.json"
    path.write_text(json.dumps(cos_event([f"uploads/u{i}.png" for i in range(n)])), encoding="utf-8")
    return str(path)


def test_an_upload_dry_run_counts_the_events_objects_exactly_reading_only_the_restored_images(emulator,
                                                                                              emulator_bucket,
                                                                                              tmp_path):
    emulator.request_log.clear()
    document = dry_run("--json", "--event", upload_event(tmp_path, 3)).json()
    assert document["estimate"]["count"] == {"objects": 3, "method": "upload event", "complete": True}
    assert document["estimate"]["cost"] == "0.000045" and document["held_reason"] == ""
    assert [(r.method, r.query.get("prefix")) for r in emulator.request_log.snapshot()] == [
        ("GET", "autopilot/reviewed/")]


def test_an_upload_dry_run_without_credentials_says_restored_images_were_not_left_out(emulator_bucket, tmp_path):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TENCENTCLOUD_")}
    ran = dry_run("--event", upload_event(tmp_path, 1), environ={**environ, "HOME": str(tmp_path)})
    assert ran.code == 0 and "<Object>uploads/u0.png</Object>" in ran.out, ran
    assert "restored images not left out: no credentials to read the bucket with" in ran.err


def test_an_upload_over_a_cap_is_shown_held(emulator, emulator_bucket, tmp_path, monkeypatch):
    monkeypatch.setenv("DAILY_OBJECT_CAP", "2")
    emulator.request_log.clear()
    ran = dry_run("--json", "--event", upload_event(tmp_path, 3))
    assert ran.code == 1 and "3 objects would take 2026-11-28's total from 0 past DAILY_OBJECT_CAP=2" in \
        ran.json()["held_reason"], ran
    assert writes(emulator) == []
