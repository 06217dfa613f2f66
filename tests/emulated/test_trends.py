"""The trend index in COS: it stays bounded, and overlapping reports and bad indexes are safe (the numbers themselves
are tests/lib/test_trends.py).

The index lives in COS as numbered generations written with `x-cos-forbid-overwrite: true`, the only conditional
write the emulator supports (emulator/cos.py; COS documents the header on PUT Object,
https://cloud.tencent.com/document/product/436/7749, and the official SDK sends it as given through
`put_object(..., Metadata=...)`: qcloud_cos/cos_client.py, read 2026-12-01). A refused write is HTTP 409
FileAlreadyExists. These tests drive the real SDK against the emulator over HTTP.
"""
from __future__ import annotations

import json
from datetime import timedelta
from typing import List

import pytest

from lib.report.models import ReportSummary
from lib.report.trends import (
    KEEP_DAYS,
    TrendIndex,
    index_key,
    index_prefix,
    merge,
    point_of,
    update_trends,
)
from tests.support.reports import DAY0, daily_history, day_summary, trend_row

pytestmark = pytest.mark.emulator

STATE = "autopilot/"


def stored(emulated_ci_client) -> List[str]:
    return sorted(emulated_ci_client.list_keys(index_prefix(STATE)))


def put_index(emulated_ci_client, generation: int, body: bytes) -> None:
    emulated_ci_client.put_object(index_key(STATE, generation), body, "application/json")


# --- the index in COS ------------------------------------------------------------------------------------

def test_the_first_report_writes_generation_one(emulated_ci_client):
    trend = update_trends(emulated_ci_client, STATE, day_summary(DAY0))
    assert (trend.has_history, trend.notes) == (False, [])
    assert stored(emulated_ci_client) == [index_key(STATE, 1)]
    index = TrendIndex.model_validate_json(emulated_ci_client.get_object(index_key(STATE, 1)))
    assert [p.day for p in index.points] == [DAY0.date()]


def test_daily_reports_build_a_history_and_old_generations_are_removed(emulated_ci_client):
    for i in range(5, -1, -1):
        trend = update_trends(emulated_ci_client, STATE, day_summary(DAY0 - timedelta(days=i), failed=i))
    assert trend.days_compared == 5
    assert trend_row(trend, "Failed").yesterday == 1
    assert stored(emulated_ci_client) == [index_key(STATE, 5), index_key(STATE, 6)]  # the newest two stay


def test_a_daily_report_lists_reads_writes_and_prunes_the_index_once_each(emulated_ci_client, emulator):
    for i in (2, 1):
        update_trends(emulated_ci_client, STATE, day_summary(DAY0 - timedelta(days=i)))
    emulator.request_log.clear()
    update_trends(emulated_ci_client, STATE, day_summary(DAY0))
    calls = [(r.method, r.path, r.query.get("prefix")) for r in emulator.request_log]
    assert calls == [("GET", "/", index_prefix(STATE)),  # GET Bucket: the generations there are
                     ("GET", "/" + index_key(STATE, 2), None), ("PUT", "/" + index_key(STATE, 3), None),
                     ("DELETE", "/" + index_key(STATE, 1), None)]


def test_120_daily_reports_leave_an_index_of_90_days(emulated_ci_client):
    oldest = point_of(day_summary(DAY0 - timedelta(days=120)))
    put_index(emulated_ci_client, 1, TrendIndex(points=merge(daily_history(119), oldest)).model_dump_json().encode())
    update_trends(emulated_ci_client, STATE, day_summary(DAY0))
    index = TrendIndex.model_validate_json(emulated_ci_client.get_object(index_key(STATE, 2)))
    assert len(index.points) == KEEP_DAYS
    assert index.points[0].day == DAY0.date() - timedelta(days=KEEP_DAYS - 1)


class Overlapping:
    """The real client, except that another report runs to completion just before our first index write."""

    def __init__(self, emulated_ci_client, other: ReportSummary):
        self.client, self.other, self.fired = emulated_ci_client, other, False

    def __getattr__(self, name):
        return getattr(self.client, name)

    def put_object(self, key, data, content_type="application/octet-stream", *, if_absent=False):
        if not self.fired:
            self.fired = True
            update_trends(self.client, STATE, self.other)
        return self.client.put_object(key, data, content_type, if_absent=if_absent)


def test_two_overlapping_reports_both_land_in_the_index(emulated_ci_client):
    update_trends(emulated_ci_client, STATE, day_summary(DAY0 - timedelta(days=2)))
    racing = Overlapping(emulated_ci_client, day_summary(DAY0 - timedelta(days=1), failed=3))
    trend = update_trends(racing, STATE, day_summary(DAY0))
    assert racing.fired
    assert trend_row(trend, "Failed").yesterday == 3  # the other report's day, read again after the refused write
    index = TrendIndex.model_validate_json(emulated_ci_client.get_object(stored(emulated_ci_client)[-1]))
    assert [p.day for p in index.points] == [DAY0.date() - timedelta(days=d) for d in (2, 1, 0)]
    assert stored(emulated_ci_client)[-1] == index_key(STATE, 3)


def test_a_redelivered_timer_racing_itself_stores_its_day_once(emulated_ci_client):
    trend = update_trends(Overlapping(emulated_ci_client, day_summary(DAY0)), STATE, day_summary(DAY0))
    index = TrendIndex.model_validate_json(emulated_ci_client.get_object(stored(emulated_ci_client)[-1]))
    assert len(index.points) == 1 and trend.notes == []


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b""])
def test_a_corrupt_index_falls_back_to_the_previous_generation_with_a_note(emulated_ci_client, body):
    put_index(emulated_ci_client, 1, TrendIndex(points=daily_history(3)).model_dump_json().encode())
    put_index(emulated_ci_client, 2, body)
    trend = update_trends(emulated_ci_client, STATE, day_summary(DAY0))
    assert trend.days_compared == 3
    assert any("index-000000002.json is not JSON" in n for n in trend.notes)
    assert stored(emulated_ci_client)[-1] == index_key(STATE, 3)


def test_a_corrupt_only_index_is_rebuilt_from_this_report(emulated_ci_client):
    put_index(emulated_ci_client, 1, b"\x00garbage")
    trend = update_trends(emulated_ci_client, STATE, day_summary(DAY0))
    assert trend.has_history is False and len(trend.notes) == 1
    assert TrendIndex.model_validate_json(emulated_ci_client.get_object(index_key(STATE, 2))).points == [trend.today]


def test_unreadable_points_are_dropped_and_the_rest_kept(emulated_ci_client):
    good = json.loads(TrendIndex(points=daily_history(2)).model_dump_json())
    good["points"].append({"day": "yesterday", "total_jobs": "many"})
    put_index(emulated_ci_client, 1, json.dumps(good).encode())
    trend = update_trends(emulated_ci_client, STATE, day_summary(DAY0))
    assert trend.days_compared == 2
    assert trend.notes == [f"trend index {index_key(STATE, 1)}: 1 unreadable point(s) dropped; the rest are kept"]


@pytest.mark.parametrize("body", [
    {"kind": "someone-elses-index", "points": []},
    {"kind": "cos-batch-autopilot/trend-index", "version": 2, "points": []},
    ["a", "list"],
])
def test_a_foreign_index_is_left_alone_and_trends_skipped_with_a_note(emulated_ci_client, body):
    put_index(emulated_ci_client, 1, json.dumps(body).encode())
    trend = update_trends(emulated_ci_client, STATE, day_summary(DAY0))
    assert trend.has_history is False
    assert "move it away, or set STATE_PREFIX" in trend.notes[0]
    assert stored(emulated_ci_client) == [index_key(STATE, 1)]  # nothing written over or beside it


def test_other_objects_in_the_trend_folder_are_ignored(emulated_ci_client):
    emulated_ci_client.put_object(index_prefix(STATE) + "README.txt", b"hello", "text/plain")
    emulated_ci_client.put_object(index_prefix(STATE) + "index-latest.json", b"{}", "application/json")
    trend = update_trends(emulated_ci_client, STATE, day_summary(DAY0))
    assert trend.notes == []
    keys = stored(emulated_ci_client)
    assert index_key(STATE, 1) in keys and index_prefix(STATE) + "README.txt" in keys


def test_an_unwritable_index_still_gives_the_trend_with_a_note(emulated_ci_client, emulator):
    update_trends(emulated_ci_client, STATE, day_summary(DAY0 - timedelta(days=1), failed=2))

    class Refusing(Overlapping):
        def put_object(self, *args, **kwargs):
            from lib.errors import CloudApiError

            raise CloudApiError("PutObject", 403, "AccessDenied", "Access Denied.")

    trend = update_trends(Refusing(emulated_ci_client, day_summary(DAY0)), STATE, day_summary(DAY0))
    assert trend_row(trend, "Failed").yesterday == 2
    assert "trend index not updated" in trend.notes[-1] and "AccessDenied" in trend.notes[-1]
