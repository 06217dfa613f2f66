"""Reports to render and to trend: a sample report with one of everything, a sample trend, day-by-day histories, and
the golden files the renderings must match.

Regenerate the golden files after an intended change with `UPDATE_GOLDEN=1 pytest tests/lib/test_render.py
tests/lib/test_render_trends.py` and review the diff."""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import List

from lib.report.models import CountRow, JobLine, JobObjects, ObjectLine, ObjectTotals, ReportSummary, RuleCheckpoint
from lib.report.trends import Trend, TrendPoint, TrendRow, compare, point_of
from tests.support.settings import BUCKET, REGION

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
END = datetime(2026, 11, 28, 16, 0, tzinfo=timezone.utc)
DAY0 = END  # the trend tests' today


def sample_summary(**changes) -> ReportSummary:
    """A report with one of everything: a failed and a stuck job, a flagged image, a failed object, a rule."""
    flagged = ObjectLine(key="uploads/cat.png", state="Success", suspicious=True, suspicious_type="MPEG-TS",
                         begin_byte=120, end_byte=1097475, suspicious_size=1097356, action="Success BackupObject")
    broken = ObjectLine(key="uploads/huge.png", state="Failed", error="Failed image too large")
    summary = ReportSummary(
        bucket="examplebucket-1250000000", region="ap-guangzhou", window_start=END - timedelta(days=1),
        window_end=END, all_jobs=False, job_name_prefix="autopilot", total_jobs=12,
        counts=[CountRow(type="Job", group="ImageInspect", state="Failed", count=1),
                CountRow(type="Job", group="ImageInspect", state="Running", count=1),
                CountRow(type="Job", group="ImageInspect", state="Success", count=9),
                CountRow(type="Workflow", group="w2504f47ad46e4a1b9c0d1e2f3a4b5c6d", state="Success", count=1)],
        failed_total=1,
        failed=[JobLine(job_id="b00000000000000000000000000000001", name="autopilot-hourly-20261128T000000Z",
                        type="Job", group="ImageInspect", state="Failed", code="InternalError",
                        message="inventory unreadable", created=END - timedelta(hours=16), age_seconds=57600)],
        stuck_after_seconds=21600, stuck_total=1,
        stuck=[JobLine(job_id="b00000000000000000000000000000002", name="autopilot-upload-3f2a", type="Job",
                       group="ImageInspect", state="Running", created=END - timedelta(hours=9), age_seconds=32400)],
        objects=ObjectTotals(inspected=240, by_state={"Failed": 1, "Success": 239}, suspicious=1, acted=1,
                             workflow_executions={"Success": 30}),
        jobs_with_objects=[JobObjects(job_id="b00000000000000000000000000000003", name="autopilot-hourly-x",
                                      kind="ImageInspect", by_state={"Failed": 1, "Success": 239}, suspicious=1,
                                      acted=1, objects=[flagged, broken])],
        checkpoints=[RuleCheckpoint(rule="hourly", next_window_start=END - timedelta(hours=1),
                                    last_job_id="b00000000000000000000000000000004")],
        notes=[], api_calls=7, failed_share=0.0833, fail_above=None, failing=False, problem=True)
    return summary.model_copy(update=changes)


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} changed; see the module docstring to regenerate"


def sample_trend() -> Trend:
    """Today is the sample report; 30 earlier days with a growing failure count, no report 3 and 4 days ago."""
    points = [point_of(sample_summary(window_end=END - timedelta(days=d), total_jobs=10 + d % 4,
                                      failed_share=round((d % 6) / 20, 4)))
              for d in range(30, 0, -1) if d not in (3, 4)]
    return compare(points, point_of(sample_summary()))


def day_summary(end: datetime, *, success: int = 10, failed: int = 0, inspected: int = 100, flagged: int = 0,
                acted: int = 0) -> ReportSummary:
    """A day's report ending at `end` with these counts, as the trend index stores it."""
    total = success + failed
    counts = [CountRow(type="Job", group="ImageInspect", state=s, count=n)
              for s, n in (("Failed", failed), ("Success", success)) if n]
    return ReportSummary(
        bucket=BUCKET, region=REGION, window_start=end - timedelta(days=1), window_end=end, all_jobs=False,
        job_name_prefix="autopilot", total_jobs=total, counts=counts, failed_total=failed, failed=[],
        stuck_after_seconds=21600, stuck_total=0, stuck=[],
        objects=ObjectTotals(inspected=inspected, suspicious=flagged, acted=acted), jobs_with_objects=[],
        checkpoints=[], notes=[], api_calls=1, failed_share=round(failed / total, 4) if total else 0.0,
        fail_above=None, failing=False, problem=bool(failed or flagged))


def daily_history(days: int, *, skip=(), end: datetime = DAY0) -> List[TrendPoint]:
    """One point per day for `days` days before `end` (day i has i failed jobs), except the days in skip."""
    return [point_of(day_summary(end - timedelta(days=i), failed=i % 5, flagged=i % 3))
            for i in range(days, 0, -1) if i not in skip]


def trend_row(trend: Trend, metric: str) -> TrendRow:
    """The trend's row for one metric (a state, 'jobs', 'flagged', 'failed share'...)."""
    return next(r for r in trend.rows if r.metric == metric)
