"""The spend section as each target shows it (Markdown, chat styles, the HTML page, the terminal): figures against
the caps, held plans with their commands, decisions, the per-day trend beside the charts, every string inert."""
from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest

from emulator.visual import Chromium, find_chromium
from lib.report.html import render_html
from lib.report.models import JobLine, JobSpend, PlanLine, Spend, SpendDay, SpendFigures
from lib.report.render import (
    MESSAGE_ITEMS,
    decision_text,
    figures_text,
    render_markdown,
    render_message,
    render_summary_table,
    webhook_payload,
)
from lib.spend import PRICE_SOURCE
from tests.support.reports import END, sample_summary, sample_trend

HOSTILE = "</td><script>alert(1)</script> [x](https://evil.example) `tick` | pipe\n@all <@U1>"
HELD_AT = END - timedelta(hours=3)


def plan(n: int = 0, **changes) -> PlanLine:
    line = PlanLine(plan_id=f"{n:016x}", kind="timer", job_name=f"autopilot-hourly-{n}", objects=100_000,
                    complete=False, method="listing uploads/ in the window", cost=Decimal("1.493"), currency="USD",
                    reason="at least 100,000 objects is over MAX_OBJECTS_PER_JOB=50000", held_at=HELD_AT,
                    expires_at=HELD_AT + timedelta(days=7), status="pending")
    return line.model_copy(update=changes)


def spend(**changes) -> Spend:
    today = SpendFigures(label="today 2026-11-28", days=1, jobs=3, objects=500, cost=Decimal("0.007465"),
                         object_cap=1000, cost_cap=Decimal(1))
    month = SpendFigures(label="this month 2026-11-01 → 2026-11-28", days=28, jobs=40, objects=8000,
                         cost=Decimal("0.11944"), unpriced_jobs=2, unpriced_objects=30, other_currency={"EUR": 1},
                         object_cap=28000, cost_cap=Decimal(28))
    days = [SpendDay(day=date(2026, 11, 26) + timedelta(days=n), jobs=1, objects=o, cost=Decimal(o) / 1000)
            for n, o in enumerate((100, 0, 500))]
    section = Spend(currency="USD", price_per_1000=Decimal("0.01493"), price_source=PRICE_SOURCE, today=today,
                    month=month, days=days, window_jobs=3, window_objects=500, window_unmatched=1,
                    largest=[JobSpend(job_id="b1", name="autopilot-a", state="Success", objects=400,
                                      cost=Decimal("0.005972"), currency="USD")],
                    held=[plan()], held_total=1, expiry_days=7)
    return section.model_copy(update=changes)


def test_today_is_shown_against_each_daily_cap_with_its_share():
    text = figures_text(spend().today, "USD")  # type: ignore[arg-type]
    assert text == ("today 2026-11-28: 3 jobs, 500 objects of DAILY_OBJECT_CAP 1,000 objects (50.0%), "
                    "≈ 0.007465 USD of DAILY_COST_CAP 1 USD (0.7%)")


def test_the_month_is_shown_against_the_most_the_daily_caps_allowed_and_names_what_the_estimate_leaves_out():
    text = figures_text(spend().month, "USD")  # type: ignore[arg-type]
    assert "8,000 objects of 28,000 objects (28 days x DAILY_OBJECT_CAP; 28.6%)" in text
    assert "2 unpriced jobs (30 objects, not in the estimate)" in text and "1 job priced in EUR" in text


def test_an_unset_cap_reads_no_cap():
    figures = SpendFigures(label="today 2026-11-28", days=1, jobs=1, objects=7)
    assert figures_text(figures, "USD") == ("today 2026-11-28: 1 job, 7 objects (no DAILY_OBJECT_CAP), ≈ 0 USD "
                                            "(no DAILY_COST_CAP)")


def test_the_markdown_report_has_the_section_with_each_held_plan_and_its_confirm_command():
    text = render_markdown(sample_summary(spend=spend()))
    section = text.split("## Spend", 1)[1].split("## Jobs by state", 1)[0]
    assert "| 0000000000000000 | autopilot-hourly-0 | at least 100,000 objects" in section
    assert "| 2026-12-05 13:00:00Z | `python -m ops plans confirm 0000000000000000` |" in section  # held + 7 days
    assert "Drop one with `python -m ops plans decline ID`" in section


def test_the_default_price_is_shown_with_its_source_and_a_set_price_as_set():
    assert f"- price: {PRICE_SOURCE}\n" in render_markdown(sample_summary(spend=spend()))
    mine = spend(price_per_1000=Decimal("0.0200"), currency="EUR", price_source="PRICE_PER_1000_IMAGES")
    assert "price: 0.02 EUR per 1,000 objects (PRICE\\_PER\\_1000\\_IMAGES)" in render_markdown(sample_summary(spend=mine))


@pytest.mark.parametrize("status, words", [
    ("declined", "declined by the operator at 2026-11-28 15:00:00Z, never sent"),
    ("expired", "expired after 7 days at 2026-11-28 15:00:00Z, never sent"),
    ("confirmed", "confirmed by the operator at 2026-11-28 15:00:00Z, sent as job b9"),
])
def test_a_decision_reads_as_what_became_of_the_plan(status, words):
    decided = plan(status=status, decided_at=END - timedelta(hours=1), job_id="b9" if status == "confirmed" else None)
    assert decision_text(decided).endswith(words)


def test_a_plan_expired_by_this_report_says_so():
    expired = plan(status="expired", decided_at=END, expired_now=True)
    assert decision_text(expired).endswith("expired after 7 days by this report, never sent")


def test_the_headline_counts_plans_held_and_plans_expired_now():
    summary = sample_summary(spend=spend(held_total=2, expired_now=1))
    assert "2 plans held for confirmation, 1 held plan expired, never sent" in render_message(summary)


def test_the_chat_message_names_the_first_held_plans_and_how_many_more():
    many = [plan(n) for n in range(MESSAGE_ITEMS + 2)]
    text = render_message(sample_summary(spend=spend(held=many, held_total=len(many))))
    assert text.count("at least 100,000 objects (listing uploads/ in the window)") == MESSAGE_ITEMS
    assert "- … and 2 more" in text and "`python -m ops plans confirm ID`" in text


def test_the_chat_message_lists_decisions_under_their_own_heading_this_reports_expiries_first():
    decided = [plan(1, status="declined", decided_at=END), plan(2, status="expired", decided_at=END, expired_now=True)]
    lines = render_message(sample_summary(spend=spend(held=[], held_total=0, decisions=decided))).splitlines()
    start = lines.index("plans decided (2):")
    assert "0000000000000002" in lines[start + 1] and "0000000000000001" in lines[start + 2]


def test_a_failed_job_on_the_ledger_gets_a_count_column_and_the_golden_tables_are_unchanged_without():
    counted = JobLine(job_id="b1", name="autopilot-a", type="Job", group="ImageInspect", state="Failed",
                      spend=JobSpend(job_id="b1", name="autopilot-a", state="Failed", objects=250, cost=None,
                                     currency="USD"))
    text = render_markdown(sample_summary(failed=[counted], spend=spend()))
    assert "| Count, estimate |" in text and "| 250 objects, unpriced |" in text
    assert "Count, estimate" not in render_markdown(sample_summary())


def test_the_page_draws_objects_and_estimate_per_day_beside_the_trend_charts():
    page = render_html(sample_summary(spend=spend()), sample_trend())
    trend = page.split('<section id="trend">', 1)[1].split("</section>", 1)[0]
    assert trend.count("<figure>") == 6 and 'aria-label="objects sent per day"' in trend
    assert "<figure>" not in page.split('<section id="spend">', 1)[1].split("</section>", 1)[0]


def test_without_a_trend_the_page_draws_the_spend_charts_in_its_section():
    page = render_html(sample_summary(spend=spend()))
    section = page.split('<section id="spend">', 1)[1].split("</section>", 1)[0]
    assert section.count("<figure>") == 2


def test_a_ledger_that_could_not_be_read_is_said_not_shown_as_zero():
    text = render_markdown(sample_summary(spend=spend(today=None, month=None, days=[])))
    assert "the ledger could not be read" in text and "today 2026" not in text


def _hostile_summary():
    return sample_summary(spend=spend(held=[plan(job_name=HOSTILE, reason=HOSTILE)],
                                      decisions=[plan(1, job_name=HOSTILE, status="declined", decided_at=END)],
                                      largest=[JobSpend(job_id=HOSTILE, name=HOSTILE, state="Success", objects=1,
                                                        currency="USD")]))


def test_a_hostile_job_name_and_reason_are_inert_on_the_page():
    page = render_html(_hostile_summary())
    assert "<script>" not in page and "</td><script>" not in page and page.count("&lt;script&gt;") >= 4


def test_a_hostile_job_name_and_reason_are_inert_in_the_markdown_report():
    section = render_markdown(_hostile_summary()).split("## Spend", 1)[1].split("## Jobs by state", 1)[0]
    assert "<script>" not in section and "](https://" not in section and "\n@all" not in section
    tables = re.findall(r"(?m)(?:^\|.*\n)+", section)
    assert len(tables) == 2
    for table in tables:  # no pipe in a name or reason adds a cell
        cells = {len(re.findall(r"(?<!\\)\|", row)) for row in table.splitlines()}
        assert len(cells) == 1


def _chat_text(fmt: str) -> str:
    payload = webhook_payload(fmt, _hostile_summary())
    return {"wecom": lambda: payload["markdown"]["content"], "dingtalk": lambda: payload["markdown"]["text"],
            "feishu": lambda: payload["content"]["text"], "slack": lambda: payload["text"]}[fmt]()


@pytest.mark.parametrize("fmt", ["wecom", "dingtalk", "feishu", "slack"])
def test_a_hostile_job_name_and_reason_are_inert_in_every_chat_style(fmt):
    text = _chat_text(fmt)
    assert "<script>" not in text and "https://evil" not in text and "\n@all" not in text and "<@U1>" not in text


def test_a_hostile_job_name_and_reason_are_inert_at_a_terminal():
    text = render_summary_table(_hostile_summary())
    assert "\n@all" not in text and "\\n@all" in text


@pytest.mark.skipif(find_chromium() is None, reason="no Chromium on PATH: the page was not laid out in a browser")
@pytest.mark.parametrize("width", [390, 1280])
def test_the_page_with_the_spend_section_fits_the_window_without_sideways_tables(tmp_path, width):
    page = tmp_path / "page.html"
    page.write_text(render_html(sample_summary(spend=spend(held=[plan(0), plan(1)], held_total=2)), sample_trend()),
                    encoding="utf-8")
    with Chromium(find_chromium()) as browser:
        seen = browser.measure(browser.open(page.as_uri(), width))
    assert seen["scrollWidth"] <= seen["innerWidth"] == width and seen["sideways"] == []
