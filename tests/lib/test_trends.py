"""Trends over generated histories: against yesterday and the mean, gaps, shares, merging reports of one day, and the
90-day bound (the stored index, over the emulator, is tests/emulated/test_trends.py)."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from lib.report.trends import KEEP_DAYS, compare, merge, point_of
from tests.support.reports import DAY0, daily_history, day_summary, trend_row

# --- the numbers -----------------------------------------------------------------------------------------

def test_with_no_history_today_stands_alone():
    trend = compare([], point_of(day_summary(DAY0, failed=2)))
    assert (trend.days_compared, trend.has_history) == (0, False)
    assert all(r.yesterday is None and r.mean is None for r in trend.rows)
    assert trend_row(trend, "jobs").today == 12


def test_against_yesterday_and_the_mean_of_the_last_30_days():
    points = daily_history(40)  # day i back has i % 5 failed jobs, i % 3 flagged images, 10 successes
    trend = compare(points, point_of(day_summary(DAY0, failed=4, flagged=6)))
    assert trend.days_compared == 30
    failed = trend_row(trend, "Failed")
    assert (failed.today, failed.yesterday, failed.vs_yesterday) == (4, 1, 3)
    assert failed.mean == pytest.approx(sum(i % 5 for i in range(1, 31)) / 30)
    flagged = trend_row(trend, "flagged")
    assert flagged.mean == pytest.approx(sum(i % 3 for i in range(1, 31)) / 30)
    assert trend_row(trend, "jobs").yesterday == 11


def test_missing_days_are_gaps_not_zeros():
    points = daily_history(30, skip={1, 2, 3, 10})
    trend = compare(points, point_of(day_summary(DAY0)))
    assert trend.days_compared == 26
    assert trend_row(trend, "jobs").yesterday is None
    failed = trend_row(trend, "Failed")
    assert failed.mean == pytest.approx(sum(i % 5 for i in range(1, 31) if i not in {1, 2, 3, 10}) / 26)
    assert [p.day for p in trend.recent][-2:] == [date(2026, 11, 24), date(2026, 11, 28)]


def test_a_state_seen_only_in_the_past_is_compared_as_zero_today():
    trend = compare(daily_history(3), point_of(day_summary(DAY0, failed=0)))
    assert trend_row(trend, "Failed").today == 0
    assert trend_row(trend, "Failed").yesterday == 1


def test_failed_share_is_a_share():
    trend = compare([], point_of(day_summary(DAY0, success=3, failed=1)))
    share = trend_row(trend, "failed share")
    assert (share.today, share.share) == (0.25, True)


def test_two_reports_on_one_day_keep_the_later_window_only():
    early = point_of(day_summary(DAY0 - timedelta(hours=6), failed=9))
    late = point_of(day_summary(DAY0, failed=1))
    assert merge([late], early) == [late]
    assert merge([early], late) == [late]


def test_the_same_report_twice_is_counted_once():
    point = point_of(day_summary(DAY0, failed=1))
    assert merge([point], point) == [point]


@pytest.mark.parametrize("days", [0, 1, 89, 90, 91, 200])
def test_the_history_keeps_at_most_90_days(days):
    merged = merge(daily_history(days), point_of(day_summary(DAY0)))
    assert len(merged) == min(days + 1, KEEP_DAYS)
    assert (DAY0.date() - merged[0].day).days == min(days, KEEP_DAYS - 1)
    assert merged[-1].day == DAY0.date()
