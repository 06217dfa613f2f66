"""`python -m ops plans list|confirm|decline` (issue 25 point 4) through ops.cli.main over the emulator: a timer
window over MAX_OBJECTS_PER_JOB is held by the submit handler, and the operator lists it, confirms it (exactly once)
or declines it (the rule goes on after its window). A plan is read back from the bucket, so a forged one is never
listed or confirmed, and every string of a plan is escaped for the terminal."""
from __future__ import annotations

import io
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Optional

import pytest

import lib.submit.uploads
from lib.plans import HeldPlan, PlanSource, plan_id_of
from lib.spend import Count, Estimate
from lib.submit.timer import timer_body
from lib.windows import Window
from tests.cli.support import Ran, Tty, in_process
from tests.support.emulator import EMULATOR_NOW, emulator_settings, seed_image
from tests.support.entries import submit_entry
from tests.support.events import cos_event, timer_event
from tests.support.images import png
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator
CONTEXT = {"request_id": "r1", "time_limit_in_ms": 60000}
TICK = datetime(2026, 11, 28, 16, 0, tzinfo=timezone.utc)
CLOCK = TICK + timedelta(minutes=1)
NEXT = TICK + timedelta(hours=1)
HELD_JOB = "autopilot-hourly-20261128T150000Z-20261128T160000Z"


def ops(*argv: str, clock: datetime = CLOCK, stdin: Optional[io.StringIO] = None) -> Ran:
    """The operator's CLI on the process environment (the emulator's, with the test's caps), at `clock`."""
    return in_process(*argv, environ=os.environ, clock=clock, stdin=stdin)


def tick(when: datetime = TICK, clock: datetime = CLOCK, message: str = "") -> Dict[str, Any]:
    return submit_entry(clock=lambda: clock)(timer_event(when, message=message), CONTEXT)


def seed(bucket, n: int, at: datetime = EMULATOR_NOW) -> None:
    for i in range(n):
        seed_image(bucket, f"uploads/img-{i:04d}.png", png(), uploaded=at)


@pytest.fixture
def capped(emulator_bucket, monkeypatch):
    """A rule over uploads/ with MAX_OBJECTS_PER_JOB=3, and 4 images in its first window: its tick holds the job."""
    monkeypatch.setenv("INPUT_PREFIX", "uploads/")
    monkeypatch.setenv("MAX_OBJECTS_PER_JOB", "3")
    seed(emulator_bucket, 4)
    return emulator_bucket


@pytest.fixture
def plan_id(capped) -> str:
    (held,) = tick()["held"]
    return held["plan_id"]


# --- plans list -------------------------------------------------------------------------------------------------

def test_list_shows_a_held_timer_plan_with_its_count_estimate_reason_and_expiry(plan_id):
    ran = ops("plans", "list")
    assert ran.code == 1, ran  # a plan waiting for a decision is a problem, as in the report
    assert f"plan {plan_id}  timer, rule hourly  pending" in ran.out
    assert f"job        {HELD_JOB}" in ran.out and "input      Prefix=uploads/" in ran.out
    assert "count      4 objects (listing uploads/ in the window (1 listing request))" in ran.out
    assert "estimate   ≈ 0.000060 USD" in ran.out
    assert "held       4 objects is over MAX_OBJECTS_PER_JOB=3" in ran.out
    assert "held at    2026-11-28 16:01:00Z; expires 2026-12-05 16:01:00Z (PLAN_EXPIRY_DAYS=7)" in ran.out
    assert ran.out.rstrip().endswith("`python -m ops plans decline ID` drops it"), ran


def test_list_json_is_one_document_with_each_plans_fields(plan_id):
    ran = ops("plans", "list", "--json")
    document = ran.json()
    (plan,) = document["plans"]
    assert plan["plan_id"] == plan_id and plan["kind"] == "timer" and plan["status"] == "pending"
    assert plan["job_name"] == HELD_JOB and plan["count"] == {
        "objects": 4, "method": "listing uploads/ in the window (1 listing request)", "complete": True}
    assert plan["estimate"]["cost"] == "0.000060" and plan["estimate"]["currency"] == "USD"
    assert "MAX_OBJECTS_PER_JOB=3" in plan["reason"]
    assert plan["held_at"] == "2026-11-28T16:01:00+00:00" and plan["expires_at"] == "2026-12-05T16:01:00+00:00"
    assert document["waiting"] == 1 and document["refused"] == []


def test_list_leaves_a_plan_past_plan_expiry_days_out_and_all_shows_it_expired(plan_id):
    later = CLOCK + timedelta(days=7, minutes=1)
    assert ops("plans", "list", clock=later).out.startswith("no plan waits for a decision; 1 decided or expired")
    ran = ops("plans", "list", "--all", "--json", clock=later)
    assert [p["status"] for p in ran.json()["plans"]] == ["expired"] and ran.code == 0, ran


def test_list_with_no_plan_says_so_and_exits_0(emulator_bucket):
    ran = ops("plans", "list")
    assert ran.code == 0 and ran.out == "no plan waits for a decision\n", ran


# --- plans confirm ----------------------------------------------------------------------------------------------

def test_confirm_shows_what_it_sends_and_sends_the_held_job(capped, plan_id):
    ran = ops("plans", "confirm", plan_id, "--yes")
    assert ran.code == 0, ran
    (job,) = capped.jobs.values()
    assert ran.out == f"confirmed plan {plan_id}: job {job.job_id} {HELD_JOB}, created, submitted, not started yet\n"
    assert "type       Job, Tag ImageInspect, AutoProcess false, ProcessType BackupObject" in ran.err
    assert "window     2026-11-28 15:00:00Z to 2026-11-28 16:00:00Z" in ran.err
    assert ("caps       a confirm overrides them: the job is sent whatever they say, and its 4 objects count toward "
            "2026-11-28 (UTC), which has 0 objects") in ran.err


def test_a_second_confirm_says_so_and_shows_the_same_job_without_sending_again(capped, plan_id):
    first = ops("plans", "confirm", plan_id, "--yes", "--json").json()
    again = ops("plans", "confirm", plan_id, "--yes")
    assert again.code == 0 and f"plan {plan_id} was confirmed already at 2026-11-28 16:01:00Z: job {first['job_id']}" \
        in again.out, again
    assert len(capped.jobs) == 1 and first["created"] is True


def test_the_confirmed_window_moves_the_rule_on(capped, plan_id):
    ops("plans", "confirm", plan_id, "--yes")
    nxt = tick(NEXT, NEXT + timedelta(minutes=1))
    assert [j["window_start"] for j in nxt["jobs"]] == ["2026-11-29T00:00:00+0800"] and len(capped.jobs) == 2


def test_two_confirms_at_once_send_one_job(capped, plan_id):
    start = threading.Barrier(2)

    def confirm(_n: int) -> Ran:
        start.wait()
        return ops("plans", "confirm", plan_id, "--yes")

    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(confirm, range(2)))
    assert len(capped.jobs) == 1 and 0 in [r.code for r in runs], runs
    # The other found the job, or stopped while the first held the plan's claim; either way it sent nothing.
    for ran in runs:
        assert ran.code == 0 or (ran.code == 1 and "this command sent nothing" in ran.err), ran


def test_confirm_json_carries_the_job_and_the_estimate(capped, plan_id):
    ran = ops("plans", "confirm", plan_id, "--yes", "--json")
    document = ran.json()
    assert document["status"] == "confirmed" and document["job_name"] == HELD_JOB and document["created"] is True
    assert document["estimate"]["count"]["objects"] == 4 and document["already"] is False


def test_confirm_at_a_terminal_asks_and_sends_nothing_unless_told_yes(capped, plan_id):
    ran = ops("plans", "confirm", plan_id, stdin=Tty("n\n"))
    assert ran.code == 1 and f"Send job {HELD_JOB} now? [y/N] " in ran.err and "nothing was sent" in ran.err, ran
    assert capped.jobs == {}
    assert ops("plans", "confirm", plan_id, stdin=Tty("y\n")).code == 0 and len(capped.jobs) == 1


@pytest.mark.parametrize("verb", ["confirm", "decline"])
def test_without_a_terminal_and_without_yes_nothing_is_done(capped, plan_id, verb):
    ran = ops("plans", verb, plan_id, stdin=io.StringIO("y\n"))
    assert ran.code == 2 and "stdin is not a terminal" in ran.err and "add --yes" in ran.err, ran
    assert capped.jobs == {} and ops("plans", "list", "--json").json()["plans"][0]["status"] == "pending"


def test_an_unknown_plan_id_exits_1_and_says_where_to_look(emulator_bucket):
    ran = ops("plans", "confirm", "0123456789abcdef", "--yes")
    assert ran.code == 1 and "no plan 0123456789abcdef under autopilot/plans/" in ran.err, ran
    assert "`python -m ops plans list` shows the plans waiting" in ran.err


@pytest.mark.parametrize("verb", ["confirm", "decline"])
def test_a_malformed_plan_id_is_refused_before_any_call(emulator, emulator_bucket, verb):
    emulator.request_log.clear()
    ran = ops("plans", verb, "../0123", "--yes")
    assert ran.code == 2 and "plan id '../0123' is not a plan id: 16 hex digits" in ran.err, ran
    assert len(emulator.request_log) == 0


def test_confirm_of_a_declined_plan_exits_1_and_sends_nothing(capped, plan_id):
    ops("plans", "decline", plan_id, "--yes")
    ran = ops("plans", "confirm", plan_id, "--yes")
    assert ran.code == 1 and f"plan {plan_id} was declined at 2026-11-28 16:01:00Z" in ran.err, ran
    assert capped.jobs == {}


def test_confirm_of_an_expired_plan_exits_1_and_sends_nothing(capped, plan_id):
    ran = ops("plans", "confirm", plan_id, "--yes", clock=CLOCK + timedelta(days=8))
    assert ran.code == 1 and "expired at 2026-12-05 16:01:00Z (PLAN_EXPIRY_DAYS=7)" in ran.err, ran
    assert capped.jobs == {}


def test_a_plan_held_under_a_timer_argument_is_confirmed_with_that_argument(emulator_bucket, monkeypatch):
    monkeypatch.setenv("MAX_OBJECTS_PER_JOB", "3")
    seed(emulator_bucket, 4)
    argument = json.dumps({"INPUT_PREFIX": "uploads/"})
    (held,) = tick(message=argument)["held"]
    bare = ops("plans", "confirm", held["plan_id"], "--yes")
    assert bare.code == 1 and "differs from what the current settings build" in bare.err and "--argument" in bare.err
    assert emulator_bucket.jobs == {}
    ran = ops("plans", "confirm", held["plan_id"], "--yes", "--argument", argument)
    assert ran.code == 0 and len(emulator_bucket.jobs) == 1, ran


# --- plans decline ----------------------------------------------------------------------------------------------

def test_decline_drops_the_plan_and_list_all_shows_the_decision(capped, plan_id):
    ran = ops("plans", "decline", plan_id, "--yes")
    assert ran.code == 0 and ran.out == (f"declined plan {plan_id}: job {HELD_JOB} will not be sent; rule hourly "
                                         "goes on from 2026-11-28 16:00:00Z, past the declined window\n"), ran
    assert ops("plans", "list").code == 0
    listed = ops("plans", "list", "--all")
    assert f"plan {plan_id}  timer, rule hourly  declined" in listed.out
    assert "  declined   2026-11-28 16:01:00Z" in listed.out and capped.jobs == {}


def test_declining_a_look_back_rules_plan_says_its_next_tick_is_judged_anew(capped, monkeypatch):
    monkeypatch.setenv("WINDOW", "1h")
    (held,) = tick()["held"]
    ran = ops("plans", "decline", held["plan_id"], "--yes")
    assert ran.code == 0 and ran.out.endswith("; rule hourly's next tick counts its own window anew (held again if it "
                                              "is still over a cap)\n"), ran


def test_after_a_decline_the_next_tick_goes_on_after_the_window(capped, plan_id):
    ops("plans", "decline", plan_id, "--yes")
    nxt = tick(NEXT, NEXT + timedelta(minutes=1))
    assert [(j["window_start"], j["window_end"]) for j in nxt["jobs"]] == [
        ("2026-11-29T00:00:00+0800", "2026-11-29T01:00:00+0800")]


def test_declining_twice_says_it_was_declined_already(capped, plan_id):
    ops("plans", "decline", plan_id, "--yes")
    ran = ops("plans", "decline", plan_id, "--yes")
    assert ran.code == 0 and "was declined at 2026-11-28 16:01:00Z already" in ran.out, ran


def test_decline_of_a_confirmed_plan_exits_1_and_points_to_jobs_cancel(capped, plan_id):
    job_id = ops("plans", "confirm", plan_id, "--yes", "--json").json()["job_id"]
    ran = ops("plans", "decline", plan_id, "--yes")
    assert ran.code == 1 and f"python -m ops jobs cancel {job_id}" in ran.err, ran


# --- plans read back are input ----------------------------------------------------------------------------------

def forged_plan(emulator, claim: str, plan_id: str, **changes: Any) -> HeldPlan:
    """A plan as our runs write it for `claim`, under `plan_id`, with `changes`; stored in the bucket."""
    settings = emulator_settings(emulator, INPUT_PREFIX="uploads/")
    window = Window(TICK - timedelta(hours=1), TICK)
    plan = HeldPlan(plan_id=plan_id, source=PlanSource(kind="timer", claim=claim, rule="hourly",
                                                       window_start=window.start, window_end=window.end),
                    body=timer_body(settings, "hourly", window), reason="4 objects is over MAX_OBJECTS_PER_JOB=3",
                    estimate=Estimate(count=Count(objects=4, method="listing uploads/ in the window")),
                    held_at=CLOCK - timedelta(seconds=30))
    plan = plan.model_copy(update=changes)
    emulator.backend.put_object(BUCKET, f"autopilot/plans/{plan_id}.json", plan.model_dump_json().encode("utf-8"))
    return plan


def test_a_plan_whose_id_its_source_does_not_derive_is_never_listed_or_confirmed(emulator, emulator_bucket,
                                                                                 monkeypatch):
    monkeypatch.setenv("INPUT_PREFIX", "uploads/")
    forged = "00000000deadbeef"
    forged_plan(emulator, "hourly@first", forged)
    listed = ops("plans", "list", "--json").json()
    assert listed["plans"] == [] and any(forged in r for r in listed["refused"]), listed
    ran = ops("plans", "confirm", forged, "--yes")
    assert ran.code == 1 and f"plan autopilot/plans/{forged}.json holds id" in ran.err, ran
    assert "it is not a plan our runs wrote, so it is never confirmed or obeyed" in ran.err
    assert emulator_bucket.jobs == {}


def test_a_hostile_reason_and_rule_are_shown_escaped(emulator, emulator_bucket, monkeypatch):
    monkeypatch.setenv("INPUT_PREFIX", "uploads/")
    claim = "hourly@first"
    plan = forged_plan(emulator, claim, plan_id_of("timer", claim),
                       reason="over\x1b[2J\ncap\u202e", source=PlanSource(
                           kind="timer", claim=claim, rule="hour\rly\x07", window_start=TICK - timedelta(hours=1),
                           window_end=TICK))
    ran = ops("plans", "list")
    assert f"plan {plan.plan_id}  timer, rule hour\\rly\\x07  pending" in ran.out, ran
    assert "held       over\\x1b[2J\\ncap\\u202e" in ran.out
    assert not any(c in ran.out for c in "\x1b\r\x07\u202e")
    assert "\x1b" not in ops("plans", "list", "--json").out



# --- upload plans -----------------------------------------------------------------------------------------------

upload_paths = pytest.mark.skipif(not hasattr(lib.submit.uploads, "confirm_held"),
                                  reason="the upload path's confirm_held arrives with the uploads' gate (i25-uploads)")


@pytest.fixture
def upload_plan_id(emulator_bucket, monkeypatch) -> str:
    """An upload event of 2 objects past MAX_OBJECTS_PER_JOB=1: held as one plan, its manifest not written."""
    monkeypatch.setenv("MAX_OBJECTS_PER_JOB", "1")
    (held,) = submit_entry(clock=lambda: CLOCK)(cos_event(["uploads/a.png", "uploads/b.png"]), CONTEXT)["held"]
    return held["plan_id"]


@upload_paths
def test_list_shows_a_held_upload_plan_with_its_exact_count(upload_plan_id):
    ran = ops("plans", "list")
    assert f"plan {upload_plan_id}  upload  pending" in ran.out, ran
    assert "count      2 objects (upload event)" in ran.out and "input      UrlFile=https://" in ran.out
    assert "window     none: every object the input holds" in ran.out
    assert "held       2 objects is over MAX_OBJECTS_PER_JOB=1" in ran.out


@upload_paths
def test_confirm_sends_a_held_upload_job_once(emulator_bucket, upload_plan_id):
    first = ops("plans", "confirm", upload_plan_id, "--yes", "--json")
    again = ops("plans", "confirm", upload_plan_id, "--yes")
    assert first.code == 0 and first.json()["created"] is True, first
    assert again.code == 0 and f"job {first.json()['job_id']}" in again.out and "confirmed already" in again.out
    assert len(emulator_bucket.jobs) == 1


@upload_paths
def test_a_declined_upload_plan_is_never_sent(emulator_bucket, upload_plan_id):
    ran = ops("plans", "decline", upload_plan_id, "--yes")
    assert ran.code == 0 and ran.out.startswith(f"declined plan {upload_plan_id}: job autopilot-upload-"), ran
    assert ops("plans", "confirm", upload_plan_id, "--yes").code == 1 and emulator_bucket.jobs == {}


def test_invoke_submit_that_holds_its_job_exits_1_with_the_held_plan_in_its_result(capped, tmp_path):
    event = tmp_path / "tick.json"
    event.write_text(json.dumps(timer_event(TICK)), encoding="utf-8")
    ran = ops("invoke", "submit", str(event))
    assert ran.code == 1 and [h["name"] for h in json.loads(ran.out)["held"]] == [HELD_JOB]
