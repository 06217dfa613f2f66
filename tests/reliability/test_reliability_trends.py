"""Trends over random histories: any days, in any order, with repeats, gaps and damaged index objects.

Pure properties check the numbers against a brute-force recount; the emulator property drives update_trends
through the SDK and damages the index between reports: it never raises and the index stays within 90 days.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from lib.report.models import CountRow, ObjectTotals, ReportSummary
from lib.report.trends import KEEP_DAYS, TrendIndex, compare, index_key, index_prefix, merge, point_of, update_trends
from tests.reliability.support import examples
from tests.support.emulator import emulator_settings, fast_client
from tests.support.settings import BUCKET

BASE = datetime(2026, 6, 1, tzinfo=timezone.utc)
STATE = "autopilot/"


def report(day: int, hour: int, failed: int, success: int = 5) -> ReportSummary:
    end = BASE + timedelta(days=day, hours=hour)
    counts = [CountRow(type="Job", group="ImageInspect", state="Failed", count=failed)] if failed else []
    counts.append(CountRow(type="Job", group="ImageInspect", state="Success", count=success))
    total = failed + success
    return ReportSummary(
        bucket=BUCKET, region="ap-guangzhou", window_start=end - timedelta(days=1), window_end=end, all_jobs=False,
        job_name_prefix="autopilot", total_jobs=total, counts=counts, failed_total=failed, failed=[],
        stuck_after_seconds=21600, stuck_total=0, stuck=[], objects=ObjectTotals(inspected=total), jobs_with_objects=[],
        checkpoints=[], notes=[], api_calls=1, failed_share=round(failed / total, 4), fail_above=None,
        failing=False, problem=bool(failed))


runs = st.lists(st.tuples(st.integers(0, 150), st.integers(0, 23), st.integers(0, 9)), max_size=60)


@examples(default=60, soak=3000)
@given(runs)
def test_merging_in_any_order_keeps_one_latest_point_per_day_within_90_days(history):
    points = []
    for day, hour, failed in history + [(150, 12, 0)]:
        points = merge(points, point_of(report(day, hour, failed)))
    days = [p.day for p in points]
    assert days == sorted(set(days)) and len(days) <= KEEP_DAYS
    assert (points[-1].day - points[0].day).days < KEEP_DAYS
    for p in points:
        same_day = [(d, h) for d, h, _ in history + [(150, 12, 0)] if (BASE + timedelta(days=d)).date() == p.day]
        assert p.window_end == BASE + timedelta(days=max(same_day)[0], hours=max(h for _, h in same_day))


@examples(default=60, soak=3000)
@given(runs, st.integers(0, 9))
def test_the_30_day_mean_is_the_mean_over_the_days_that_had_a_report(history, today_failed):
    points = []
    for day, hour, failed in history:
        points = merge(points, point_of(report(day, hour, failed)))
    today = point_of(report(151, 0, today_failed))
    trend = compare(points, today)
    window = [p for p in points if 1 <= (today.day - p.day).days <= 30]
    assert trend.days_compared == len(window)
    row = next((r for r in trend.rows if r.metric == "Failed"), None)
    if row is None:  # a state no report in the window had is not a row
        assert today_failed == 0 and not any(p.by_state.get("Failed") for p in window)
        return
    expected = sum(p.by_state.get("Failed", 0) for p in window) / len(window) if window else None
    assert row.mean == expected
    yesterday = [p for p in points if (today.day - p.day).days == 1]
    assert row.yesterday == (yesterday[0].by_state.get("Failed", 0) if yesterday else None)


damage = st.sampled_from([None, None, None, b"", b"{oops", b"[1,2]", b'{"kind":"other"}', b"\xff" * 10,
                          b'{"kind":"cos-batch-autopilot/trend-index","version":1,"points":[{"day":1}]}'])


@examples(default=8, soak=300)
@given(st.lists(st.tuples(st.integers(0, 120), damage), min_size=1, max_size=12))
def test_reports_with_a_damaged_index_never_raise_and_the_index_stays_bounded(emulator, env, reports):
    emulator.reset()
    emulator.backend.create_bucket(BUCKET)
    client = fast_client(emulator_settings(emulator))
    for day, bad in reports:
        if bad is not None:
            keys = [k for k in client.list_keys(index_prefix(STATE)) if k.endswith(".json")]
            target = max(keys) if keys else index_key(STATE, 1)
            client.put_object(target, bad, "application/json")
        trend = update_trends(client, STATE, report(day, 12, day % 4))
        assert trend.today.day == (BASE + timedelta(days=day)).date()
    keys = sorted(client.list_keys(index_prefix(STATE)))
    assert len(keys) <= 3  # the newest two, plus at most one foreign object left alone
    raw = client.get_object(keys[-1]) or b""
    try:
        index = TrendIndex.model_validate_json(raw)
    except ValueError:
        return  # the newest is a foreign object the reports had to leave alone
    assert len(index.points) <= KEEP_DAYS
