"""The report's spend section over the emulator: the ledger and the held plans are written through lib.spend and
lib.plans as the submit path writes them (reserve before the job is created, hold instead of sending), and the report
reads them back through the official SDK: today and the month against the caps, the window's jobs with their count,
the trend, held plans as problems, and the plans it expires."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from lib.jobs import JobInput, build_job_body
from lib.plans import HeldPlan, PlanSource, PlanStore, plan_id_of
from lib.report.build import build_report
from lib.report.html import render_html
from lib.report.models import ReportSummary, Spend
from lib.report.render import render_markdown, render_message
from lib.spend import Count, SpendLedger, estimate
from lib.state import Lease, StateStore
from tests.support.emulator import emulator_settings, fast_client

pytestmark = pytest.mark.emulator
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)  # the report's clock and its window's end
def reader_clock() -> datetime:
    """Reading back what the report wrote: its decisions are stamped by the later of its clock and the real one."""
    return max(NOW, datetime.now(timezone.utc))


HOSTILE = "</td><script>alert(1)</script> [x](https://evil.example) `tick` | pipe\n@all"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(emulator_with_bucket):
    """The clock the submit side writes with; the emulator dates jobs by it too."""
    moving = Clock(NOW - timedelta(hours=1))
    emulator_with_bucket.backend.set_clock(moving)
    return moving


def sent(settings, clock: Clock, name: str, objects: int, *, create: bool = True) -> None:
    """What the submit path does for a job under the caps: count it on the day's ledger, then create it."""
    est = estimate(settings, Count(objects=objects, method="upload event"))
    ledger = SpendLedger(fast_client(settings), settings, clock, lambda _s: None)
    assert ledger.reserve(name, est, lambda _t: "").entry is not None
    if create:
        fast_client(settings).create_job(build_job_body(settings, name, JobInput(Prefix="uploads/"), None))


def held(settings, clock: Clock, claim: str, objects: int = 5000, *, reason: str = "over DAILY_OBJECT_CAP=1000",
         complete: bool = True) -> HeldPlan:
    """What the gate does for a job over a cap: a held plan, nothing sent."""
    body = build_job_body(settings, f"autopilot-{claim.replace('@', '-')}", JobInput(Prefix="uploads/"), None)
    count = Count(objects=objects, method="listing uploads/ in the window", complete=complete)
    plan = HeldPlan(plan_id=plan_id_of("timer", claim), source=PlanSource(kind="timer", claim=claim, rule="r"),
                    body=body, estimate=estimate(settings, count), reason=reason, held_at=clock())
    return PlanStore(fast_client(settings), settings.state_prefix, clock).hold(plan)


def report(settings, now: datetime = NOW) -> ReportSummary:
    return build_report(settings, fast_client(settings), now, lookback=timedelta(days=1), clock=lambda: now)


def spend_of(summary: ReportSummary) -> Spend:
    assert summary.spend is not None
    return summary.spend


def test_today_and_the_month_are_read_from_the_ledger_against_the_daily_caps(emulator_with_bucket, clock):
    settings = emulator_settings(emulator_with_bucket, DAILY_OBJECT_CAP="1000", DAILY_COST_CAP="1")
    clock.now = NOW - timedelta(days=6)  # 2026-12-01
    sent(settings, clock, "autopilot-a", 300, create=False)
    clock.now = NOW - timedelta(hours=2)
    sent(settings, clock, "autopilot-b", 400)
    sent(settings, clock, "autopilot-c", 100)
    spend = spend_of(report(settings))
    assert spend.today is not None and spend.month is not None
    assert (spend.today.jobs, spend.today.objects, spend.today.object_cap) == (2, 500, 1000)
    assert spend.today.cost == Decimal("0.007465") and spend.today.cost_cap == Decimal(1)
    assert (spend.month.jobs, spend.month.objects, spend.month.days, spend.month.object_cap) == (3, 800, 7, 7000)


def test_without_caps_the_section_says_no_cap_and_names_the_default_price_source(emulator_with_bucket, clock):
    settings = emulator_settings(emulator_with_bucket)
    sent(settings, clock, "autopilot-a", 10)
    summary = report(settings)
    assert "10 objects (no DAILY_OBJECT_CAP)" in render_message(summary)
    assert "(no DAILY_COST_CAP)" in render_message(summary)
    assert "price: ImageInspect list price 0.01493 USD per 1,000 images (Tencent Cloud" in render_markdown(summary)
    assert not summary.problem


def test_unpriced_jobs_and_jobs_priced_in_another_currency_are_counted_apart_from_the_estimate(
        emulator_with_bucket, clock):
    workflow = emulator_settings(emulator_with_bucket, JOB_TYPE="Workflow", WORKFLOW_IDS="w" + "0" * 32)
    sent(workflow, clock, "autopilot-w", 40, create=False)
    euro = emulator_settings(emulator_with_bucket, PRICE_PER_1000_IMAGES="0.02", PRICE_CURRENCY="EUR")
    sent(euro, clock, "autopilot-e", 1000, create=False)
    spend = spend_of(report(emulator_settings(emulator_with_bucket)))
    assert spend.today is not None
    assert (spend.today.objects, spend.today.cost) == (1040, Decimal(0))
    assert (spend.today.unpriced_jobs, spend.today.unpriced_objects, spend.today.other_currency) == (1, 40, {"EUR": 1})


def test_each_job_of_the_window_is_matched_to_its_ledger_entry_by_name(emulator_with_bucket, clock):
    settings = emulator_settings(emulator_with_bucket)
    sent(settings, clock, "autopilot-small", 3)
    sent(settings, clock, "autopilot-big", 3000)
    fast_client(settings).create_job(build_job_body(settings, "autopilot-unledgered", JobInput(Prefix="u/"), None))
    spend = spend_of(report(settings))
    assert [(j.name, j.objects) for j in spend.largest] == [("autopilot-big", 3000), ("autopilot-small", 3)]
    assert (spend.window_jobs, spend.window_objects, spend.window_unmatched) == (2, 3003, 1)


def test_a_failed_job_shows_its_ledger_count_in_the_failed_jobs_table(emulator_with_bucket, clock):
    settings = emulator_settings(emulator_with_bucket)
    sent(settings, clock, "autopilot-broken", 250)
    with emulator_with_bucket.backend.lock:
        for job in emulator_with_bucket.backend.jobs.values():
            job.state = "Failed"
    summary = report(settings)
    (line,) = summary.failed
    assert line.spend is not None and line.spend.objects == 250
    assert "250 objects, ≈ 0.003732 USD" in render_markdown(summary)


def test_the_trend_runs_from_the_first_day_on_the_ledger_to_today(emulator_with_bucket, clock):
    settings = emulator_settings(emulator_with_bucket)
    for days_ago, objects in ((3, 30), (1, 10)):
        clock.now = NOW - timedelta(days=days_ago)
        sent(settings, clock, f"autopilot-{days_ago}", objects, create=False)
    spend = spend_of(report(settings))
    assert [(d.day.isoformat(), d.objects) for d in spend.days] == [
        ("2026-12-04", 30), ("2026-12-05", 0), ("2026-12-06", 10), ("2026-12-07", 0)]


def test_a_pending_plan_is_listed_with_its_count_reason_expiry_and_command_and_is_a_problem(
        emulator_with_bucket, clock):
    settings = emulator_settings(emulator_with_bucket)
    plan = held(settings, clock, "r@first", 100_000, complete=False)
    summary = report(settings)
    (line,) = spend_of(summary).held
    assert (line.plan_id, line.objects, line.complete, line.expires_at) == (
        plan.plan_id, 100_000, False, clock.now + timedelta(days=7))
    assert summary.problem and "1 plan held for confirmation" in render_message(summary)
    text = render_markdown(summary)
    assert f"python -m ops plans confirm {plan.plan_id}" in text and "at least 100,000 objects" in text


def test_a_plan_past_plan_expiry_days_is_expired_by_the_report_which_says_so_once(emulator_with_bucket, clock):
    settings = emulator_settings(emulator_with_bucket, PLAN_EXPIRY_DAYS="2")
    clock.now = NOW - timedelta(days=2, minutes=1)
    plan = held(settings, clock, "r@first")
    first = report(settings)
    stored = PlanStore(fast_client(settings), settings.state_prefix, reader_clock).get(plan.plan_id)
    assert stored is not None and stored.status == "expired"
    assert first.problem and spend_of(first).expired_now == 1 and not spend_of(first).held
    assert "expired after 2 days by this report, never sent" in render_markdown(first)
    later = report(settings, NOW + timedelta(hours=1))
    assert spend_of(later).expired_now == 0 and not later.problem


def test_a_due_plan_an_operator_is_deciding_is_left_to_them_and_the_report_says_so(emulator_with_bucket, clock):
    settings = emulator_settings(emulator_with_bucket, PLAN_EXPIRY_DAYS="1")
    clock.now = NOW - timedelta(days=1, minutes=1)
    plan = held(settings, clock, "r@first")
    claim = Lease(lease_id=f"plan-{plan.plan_id}", owner="operator", generation=0, expires_at=NOW,
                  job_name=f"plan-{plan.plan_id}")  # as confirm_plan takes it
    # The operator's claim is live by the real clock too: the report checks claims against the later of the two.
    StateStore(fast_client(settings), settings.state_prefix, lambda: max(NOW, datetime.now(timezone.utc))).acquire(
        claim, timedelta(minutes=5))
    summary = report(settings)
    stored = PlanStore(fast_client(settings), settings.state_prefix, reader_clock).get(plan.plan_id)
    assert stored is not None and stored.status == "pending" and spend_of(summary).expired_now == 0
    assert any(f"held plan {plan.plan_id} is due to expire but an operator is deciding it now" in n
               for n in summary.notes)


def test_a_plan_declined_in_the_window_is_listed_as_declined_and_is_no_problem(emulator_with_bucket, clock):
    settings = emulator_settings(emulator_with_bucket)
    plan = held(settings, clock, "r@first")
    clock.now = NOW - timedelta(minutes=30)
    PlanStore(fast_client(settings), settings.state_prefix, clock).decide(plan, "declined")
    summary = report(settings)
    (line,) = spend_of(summary).decisions
    assert (line.plan_id, line.status, spend_of(summary).held_total) == (plan.plan_id, "declined", 0)
    assert "declined by the operator at 2026-12-07 09:30:00Z" in render_markdown(summary)
    assert not summary.problem


def test_a_forged_plan_is_not_listed_and_makes_the_report_a_problem(emulator_with_bucket, clock):
    settings = emulator_settings(emulator_with_bucket)
    plan = held(settings, clock, "r@first")
    forged = plan.model_copy(update={"source": PlanSource(kind="timer", claim="other@first")})
    fast_client(settings).put_object(f"autopilot/plans/{plan_id_of('upload', 'x')}.json",
                                     forged.model_dump_json().encode(), "application/json")
    summary = report(settings)
    assert [p.plan_id for p in spend_of(summary).held] == [plan.plan_id]
    assert summary.problem and any("is ignored" in n for n in summary.notes)


def test_a_hostile_reason_in_a_plan_is_inert_in_markdown_chat_and_html(emulator_with_bucket, clock):
    settings = emulator_settings(emulator_with_bucket)
    held(settings, clock, "r@first", reason=HOSTILE)
    summary = report(settings)
    page = render_html(summary)
    assert "<script>" not in page and "&lt;script&gt;" in page
    markdown = render_markdown(summary)
    assert "<script>" not in markdown and "](https://" not in markdown and "\n@all" not in markdown
    message = render_message(summary)
    assert "<script>" not in message and "https://" not in message and "\n@all" not in message


def test_api_calls_equal_the_requests_served_with_a_spend_section(emulator_with_bucket, clock):
    settings = emulator_settings(emulator_with_bucket, PLAN_EXPIRY_DAYS="1")
    clock.now = NOW - timedelta(days=1, hours=1)
    held(settings, clock, "r@old")  # expired by the report: two more PUTs
    clock.now = NOW - timedelta(hours=1)
    held(settings, clock, "r@new")
    sent(settings, clock, "autopilot-a", 10)
    emulator_with_bucket.request_log.clear()
    summary = report(settings)
    assert spend_of(summary).expired_now == 1
    assert summary.api_calls == len(emulator_with_bucket.request_log.snapshot())
