"""Trends over generated histories: the numbers are right, the index stays bounded, overlaps and bad indexes are safe.

The index lives in COS as numbered generations written with `x-cos-forbid-overwrite: true`, the only conditional
write the emulator supports (emulator/cos.py; COS documents the header on PUT Object,
https://cloud.tencent.com/document/product/436/7749, and the official SDK sends it as given through
`put_object(..., Metadata=...)`: qcloud_cos/cos_client.py, read 2026-12-01). A refused write is HTTP 409
FileAlreadyExists. These tests drive the real SDK against the emulator over HTTP.
"""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from typing import List

import pytest

from lib.report.models import CountRow, ObjectTotals, ReportSummary
from lib.report.trends import (
    KEEP_DAYS,
    TrendIndex,
    TrendPoint,
    compare,
    index_key,
    index_prefix,
    merge,
    point_of,
    update_trends,
)
from tests.support.emulator import emulator_settings, fast_client
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator

STATE = "autopilot/"
DAY0 = datetime(2026, 11, 28, 16, 0, tzinfo=timezone.utc)


def summary(end: datetime, *, success: int = 10, failed: int = 0, inspected: int = 100, flagged: int = 0,
            acted: int = 0) -> ReportSummary:
    total = success + failed
    counts = [CountRow(type="Job", group="ImageInspect", state=s, count=n)
              for s, n in (("Failed", failed), ("Success", success)) if n]
    return ReportSummary(
        bucket=BUCKET, region="ap-guangzhou", window_start=end - timedelta(days=1), window_end=end, all_jobs=False,
        job_name_prefix="autopilot", total_jobs=total, counts=counts, failed_total=failed, failed=[],
        stuck_after_seconds=21600, stuck_total=0, stuck=[],
        objects=ObjectTotals(inspected=inspected, suspicious=flagged, acted=acted), jobs_with_objects=[],
        checkpoints=[], notes=[], api_calls=1, failed_share=round(failed / total, 4) if total else 0.0,
        fail_above=None, failing=False, problem=bool(failed or flagged))


def history(days: int, *, skip=(), end: datetime = DAY0) -> List[TrendPoint]:
    """One point per day for `days` days before `end` (day i has i failed jobs), except the days in skip."""
    return [point_of(summary(end - timedelta(days=i), failed=i % 5, flagged=i % 3))
            for i in range(days, 0, -1) if i not in skip]


def row(trend, metric):
    return next(r for r in trend.rows if r.metric == metric)


@pytest.fixture
def client(emulator):
    emulator.backend.create_bucket(BUCKET)
    return fast_client(emulator_settings(emulator))


def stored(client) -> List[str]:
    return sorted(client.list_keys(index_prefix(STATE)))


def put_index(client, generation: int, body: bytes) -> None:
    client.put_object(index_key(STATE, generation), body, "application/json")


# --- the numbers -----------------------------------------------------------------------------------------

def test_with_no_history_today_stands_alone():
    trend = compare([], point_of(summary(DAY0, failed=2)))
    assert (trend.days_compared, trend.has_history) == (0, False)
    assert all(r.yesterday is None and r.mean is None for r in trend.rows)
    assert row(trend, "jobs").today == 12


def test_against_yesterday_and_the_mean_of_the_last_30_days():
    points = history(40)  # day i back has i % 5 failed jobs, i % 3 flagged images, 10 successes
    trend = compare(points, point_of(summary(DAY0, failed=4, flagged=6)))
    assert trend.days_compared == 30
    failed = row(trend, "Failed")
    assert (failed.today, failed.yesterday, failed.vs_yesterday) == (4, 1, 3)
    assert failed.mean == pytest.approx(sum(i % 5 for i in range(1, 31)) / 30)
    flagged = row(trend, "flagged")
    assert flagged.mean == pytest.approx(sum(i % 3 for i in range(1, 31)) / 30)
    assert row(trend, "jobs").yesterday == 11


def test_missing_days_are_gaps_not_zeros():
    points = history(30, skip={1, 2, 3, 10})
    trend = compare(points, point_of(summary(DAY0)))
    assert trend.days_compared == 26
    assert row(trend, "jobs").yesterday is None
    failed = row(trend, "Failed")
    assert failed.mean == pytest.approx(sum(i % 5 for i in range(1, 31) if i not in {1, 2, 3, 10}) / 26)
    assert [p.day for p in trend.recent][-2:] == [date(2026, 11, 24), date(2026, 11, 28)]


def test_a_state_seen_only_in_the_past_is_compared_as_zero_today():
    trend = compare(history(3), point_of(summary(DAY0, failed=0)))
    assert row(trend, "Failed").today == 0
    assert row(trend, "Failed").yesterday == 1


def test_failed_share_is_a_share():
    trend = compare([], point_of(summary(DAY0, success=3, failed=1)))
    share = row(trend, "failed share")
    assert (share.today, share.share) == (0.25, True)


def test_two_reports_on_one_day_keep_the_later_window_only():
    early = point_of(summary(DAY0 - timedelta(hours=6), failed=9))
    late = point_of(summary(DAY0, failed=1))
    assert merge([late], early) == [late]
    assert merge([early], late) == [late]


def test_the_same_report_twice_is_counted_once():
    point = point_of(summary(DAY0, failed=1))
    assert merge([point], point) == [point]


@pytest.mark.parametrize("days", [0, 1, 89, 90, 91, 200])
def test_the_history_keeps_at_most_90_days(days):
    merged = merge(history(days), point_of(summary(DAY0)))
    assert len(merged) == min(days + 1, KEEP_DAYS)
    assert (DAY0.date() - merged[0].day).days == min(days, KEEP_DAYS - 1)
    assert merged[-1].day == DAY0.date()


# --- the index in COS ------------------------------------------------------------------------------------

def test_the_first_report_writes_generation_one(client):
    trend = update_trends(client, STATE, summary(DAY0))
    assert (trend.has_history, trend.notes) == (False, [])
    assert stored(client) == [index_key(STATE, 1)]
    index = TrendIndex.model_validate_json(client.get_object(index_key(STATE, 1)))
    assert [p.day for p in index.points] == [DAY0.date()]


def test_daily_reports_build_a_history_and_old_generations_are_removed(client):
    for i in range(5, -1, -1):
        trend = update_trends(client, STATE, summary(DAY0 - timedelta(days=i), failed=i))
    assert trend.days_compared == 5
    assert row(trend, "Failed").yesterday == 1
    assert stored(client) == [index_key(STATE, 5), index_key(STATE, 6)]  # the newest two stay


def test_a_daily_report_lists_reads_writes_and_prunes_the_index_once_each(client, emulator):
    for i in (2, 1):
        update_trends(client, STATE, summary(DAY0 - timedelta(days=i)))
    emulator.request_log.clear()
    update_trends(client, STATE, summary(DAY0))
    calls = [(r.method, r.path, r.query.get("prefix")) for r in emulator.request_log]
    assert calls == [("GET", "/", index_prefix(STATE)),  # GET Bucket: the generations there are
                     ("GET", "/" + index_key(STATE, 2), None), ("PUT", "/" + index_key(STATE, 3), None),
                     ("DELETE", "/" + index_key(STATE, 1), None)]


def test_120_daily_reports_leave_an_index_of_90_days(client):
    put_index(client, 1, TrendIndex(points=merge(history(119), point_of(summary(DAY0 - timedelta(days=120))))
                                    ).model_dump_json().encode())
    update_trends(client, STATE, summary(DAY0))
    index = TrendIndex.model_validate_json(client.get_object(index_key(STATE, 2)))
    assert len(index.points) == KEEP_DAYS
    assert index.points[0].day == DAY0.date() - timedelta(days=KEEP_DAYS - 1)


class Overlapping:
    """The real client, except that another report runs to completion just before our first index write."""

    def __init__(self, client, other: ReportSummary):
        self.client, self.other, self.fired = client, other, False

    def __getattr__(self, name):
        return getattr(self.client, name)

    def put_object(self, key, data, content_type="application/octet-stream", *, if_absent=False):
        if not self.fired:
            self.fired = True
            update_trends(self.client, STATE, self.other)
        return self.client.put_object(key, data, content_type, if_absent=if_absent)


def test_two_overlapping_reports_both_land_in_the_index(client):
    update_trends(client, STATE, summary(DAY0 - timedelta(days=2)))
    racing = Overlapping(client, summary(DAY0 - timedelta(days=1), failed=3))
    trend = update_trends(racing, STATE, summary(DAY0))
    assert racing.fired
    assert row(trend, "Failed").yesterday == 3  # the other report's day, read again after the refused write
    index = TrendIndex.model_validate_json(client.get_object(stored(client)[-1]))
    assert [p.day for p in index.points] == [DAY0.date() - timedelta(days=d) for d in (2, 1, 0)]
    assert stored(client)[-1] == index_key(STATE, 3)


def test_a_redelivered_timer_racing_itself_stores_its_day_once(client):
    trend = update_trends(Overlapping(client, summary(DAY0)), STATE, summary(DAY0))
    index = TrendIndex.model_validate_json(client.get_object(stored(client)[-1]))
    assert len(index.points) == 1 and trend.notes == []


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b""])
def test_a_corrupt_index_falls_back_to_the_previous_generation_with_a_note(client, body):
    put_index(client, 1, TrendIndex(points=history(3)).model_dump_json().encode())
    put_index(client, 2, body)
    trend = update_trends(client, STATE, summary(DAY0))
    assert trend.days_compared == 3
    assert any("index-000000002.json is not JSON" in n for n in trend.notes)
    assert stored(client)[-1] == index_key(STATE, 3)


def test_a_corrupt_only_index_is_rebuilt_from_this_report(client):
    put_index(client, 1, b"\x00garbage")
    trend = update_trends(client, STATE, summary(DAY0))
    assert trend.has_history is False and len(trend.notes) == 1
    assert TrendIndex.model_validate_json(client.get_object(index_key(STATE, 2))).points == [trend.today]


def test_unreadable_points_are_dropped_and_the_rest_kept(client):
    good = json.loads(TrendIndex(points=history(2)).model_dump_json())
    good["points"].append({"day": "yesterday", "total_jobs": "many"})
    put_index(client, 1, json.dumps(good).encode())
    trend = update_trends(client, STATE, summary(DAY0))
    assert trend.days_compared == 2
    assert trend.notes == [f"trend index {index_key(STATE, 1)}: 1 unreadable point(s) dropped; the rest are kept"]


@pytest.mark.parametrize("body", [
    {"kind": "someone-elses-index", "points": []},
    {"kind": "cos-batch-autopilot/trend-index", "version": 2, "points": []},
    ["a", "list"],
])
def test_a_foreign_index_is_left_alone_and_trends_skipped_with_a_note(client, body):
    put_index(client, 1, json.dumps(body).encode())
    trend = update_trends(client, STATE, summary(DAY0))
    assert trend.has_history is False
    assert "move it away, or set STATE_PREFIX" in trend.notes[0]
    assert stored(client) == [index_key(STATE, 1)]  # nothing written over or beside it


def test_other_objects_in_the_trend_folder_are_ignored(client):
    client.put_object(index_prefix(STATE) + "README.txt", b"hello", "text/plain")
    client.put_object(index_prefix(STATE) + "index-latest.json", b"{}", "application/json")
    trend = update_trends(client, STATE, summary(DAY0))
    assert trend.notes == []
    assert index_key(STATE, 1) in stored(client) and index_prefix(STATE) + "README.txt" in stored(client)


def test_an_unwritable_index_still_gives_the_trend_with_a_note(client, emulator):
    update_trends(client, STATE, summary(DAY0 - timedelta(days=1), failed=2))

    class Refusing(Overlapping):
        def put_object(self, *args, **kwargs):
            from lib.errors import CloudApiError

            raise CloudApiError("PutObject", 403, "AccessDenied", "Access Denied.")

    trend = update_trends(Refusing(client, summary(DAY0)), STATE, summary(DAY0))
    assert row(trend, "Failed").yesterday == 2
    assert "trend index not updated" in trend.notes[-1] and "AccessDenied" in trend.notes[-1]
