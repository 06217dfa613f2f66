"""Issue 25: held plans are state read back from the bucket. A forged plan never gets a body sent, never aims or
skips a timer window it does not match, and a decision our commands did not record is ignored by the tick and named
by the report. The forger PUTs over HTTP with the function's own key pair (timer_support.forger); the tick and the
report go through the handlers, the confirm through lib.submit.confirm as the CLI calls it."""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import pytest

from handlers.report import main_handler as report_handler
from lib.config import load_settings
from lib.errors import PlanError
from lib.jobs import JobInput, build_job_body
from lib.plans import HeldPlan, PlanSource, plan_id_of
from lib.spend import Count, estimate
from lib.submit.confirm import confirm_plan
from lib.submit.run import Deps
from lib.windows import Window
from tests.security.timer_support import HOUR, REAL_WINDOW, TICK, forge, inspected, name, tick, windows
from tests.support.entries import no_sleep, quick_client
from tests.support.events import timer_event

pytestmark = pytest.mark.emulator
CLAIM = "hourly@first"  # the claim a first tick of rule `hourly` holds its window under (lib.submit.timer)


def forged_plan(window, status="declined", *, claim=CLAIM, process="BackupObject", at=None):
    """A plan of rule `hourly`'s claim `claim`, as our runs would write it; held (and decided) a few minutes before
    `at` (default: the real clock, as the handlers' tick runs on it)."""
    at = at or datetime.now(timezone.utc)
    settings = load_settings(dict(os.environ, INSPECT_PROCESS_TYPE=process))
    start, end = window
    body = build_job_body(settings, name(start, end), JobInput(Prefix=settings.input_prefix), Window(start, end))
    return HeldPlan(plan_id=plan_id_of("timer", claim), source=PlanSource(kind="timer", claim=claim, rule="hourly",
                    window_start=start, window_end=end), body=body,
                    estimate=estimate(settings, Count(objects=1, method="forged")), reason="forged",
                    held_at=at - timedelta(minutes=5), status=status,
                    decided_at=at - timedelta(minutes=1) if status != "pending" else None)


def put_plan(emulator, plan: HeldPlan) -> None:
    forge(emulator, f"autopilot/plans/{plan.plan_id}.json", plan.model_dump(mode="json"))


def test_a_forged_decline_of_another_window_is_ignored_and_the_real_window_is_scanned(emulator, timer_bucket):
    put_plan(emulator, forged_plan((TICK - 2 * HOUR, TICK)))  # not the first window FIRST_RUN_LOOKBACK gives
    result = tick()
    assert windows(emulator) == [REAL_WINDOW] and inspected(timer_bucket)
    assert "ignored" in result["note"]


def test_a_consistent_forged_decline_without_its_recorded_decision_is_ignored(emulator, timer_bucket):
    put_plan(emulator, forged_plan(REAL_WINDOW))  # exactly the window the tick would cover, declined
    tick()
    assert windows(emulator) == [REAL_WINDOW] and inspected(timer_bucket)


def test_the_report_names_a_decision_no_command_of_ours_recorded_as_a_problem(emulator, timer_bucket):
    put_plan(emulator, forged_plan(REAL_WINDOW, at=TICK))  # decided inside the report's window
    summary = report_handler(timer_event(TICK + timedelta(minutes=5), name="daily"), {"request_id": "report"})["summary"]
    assert summary["problem"] is True and any("no decision of it is recorded" in n for n in summary["notes"])


def test_a_forged_pending_plan_that_is_not_the_rules_window_does_not_stop_the_rule(emulator, timer_bucket):
    put_plan(emulator, forged_plan((TICK - 3 * HOUR, TICK - HOUR), status="pending"))  # 2 h: no first window
    tick()
    assert windows(emulator) == [REAL_WINDOW]


def test_confirming_a_forged_plan_whose_body_deletes_sends_nothing(emulator, timer_bucket, monkeypatch):
    plan = forged_plan(REAL_WINDOW, status="pending", process="DeleteObject")
    put_plan(emulator, plan)
    settings = load_settings(os.environ)  # the operator's settings: BackupObject
    deps = Deps(client=quick_client(settings), clock=lambda: datetime.now(timezone.utc), sleep=no_sleep)
    with pytest.raises(PlanError, match="differs from what the current settings build"):
        confirm_plan(settings, deps, plan.plan_id)
    assert windows(emulator) == []
