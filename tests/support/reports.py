"""Reports to render: a sample report with one of everything, a sample trend, and the golden files they must match.

Regenerate the golden files after an intended change with `UPDATE_GOLDEN=1 pytest tests/lib/test_render.py
tests/lib/test_render_trends.py` and review the diff."""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from lib.report.models import CountRow, JobLine, JobObjects, ObjectLine, ObjectTotals, ReportSummary, RuleCheckpoint
from lib.report.trends import Trend, compare, point_of

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
END = datetime(2026, 11, 28, 16, 0, tzinfo=timezone.utc)


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
