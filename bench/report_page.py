"""`python -m bench.report_page`: what the trend index and the HTML page cost, at their largest.

Prints the size of a full 90-day index, the time to merge and compare it, and the size and render time of the
HTML page for the largest report the summary can hold (100 jobs x 100 listed objects), plus the import time the
two modules add to the report function's cold start. Budgets: index < 64 KB, page render < 0.5 s.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from typing import Callable, List

from lib.report.html import render_html
from lib.report.models import CountRow, JobObjects, ObjectLine, ObjectTotals, ReportSummary
from lib.report.objects import MAX_OBJECTS_PER_JOB
from lib.report.tally import MAX_LISTED_JOBS
from lib.report.trends import KEEP_DAYS, TrendIndex, compare, merge, point_of

END = datetime(2026, 11, 28, 16, 0, tzinfo=timezone.utc)
INDEX_BUDGET_BYTES = 64 * 1024
RENDER_BUDGET_S = 0.5


def largest_summary(end: datetime = END) -> ReportSummary:
    objects = [ObjectLine(key=f"photos/2026/11/{i:05d}-a-fairly-long-object-name.png", state="Success",
                          suspicious=True, suspicious_type="MPEG-TS", begin_byte=120, end_byte=1097475,
                          suspicious_size=1097356, action="Success BackupObject") for i in range(MAX_OBJECTS_PER_JOB)]
    jobs = [JobObjects(job_id=f"b{j:032d}", name=f"autopilot-hourly-{j}", kind="ImageInspect",
                       by_state={"Success": MAX_OBJECTS_PER_JOB}, suspicious=MAX_OBJECTS_PER_JOB,
                       acted=MAX_OBJECTS_PER_JOB, objects=objects) for j in range(MAX_LISTED_JOBS)]
    return ReportSummary(
        bucket="examplebucket-1250000000", region="ap-guangzhou", window_start=end - timedelta(days=1),
        window_end=end, all_jobs=False, job_name_prefix="autopilot", total_jobs=10000,
        counts=[CountRow(type="Job", group="ImageInspect", state=s, count=5000) for s in ("Failed", "Success")],
        failed_total=5000, failed=[], stuck_after_seconds=21600, stuck_total=0, stuck=[],
        objects=ObjectTotals(inspected=1000000, suspicious=10000, acted=10000), jobs_with_objects=jobs,
        checkpoints=[], notes=[], api_calls=1, failed_share=0.5, fail_above=None, failing=False, problem=True)


def best_of(fn: Callable[[], object], runs: int = 5) -> float:
    times: List[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def import_cost() -> float:
    """Median import time of lib.report.html on top of lib.report.render (which already imports lib.report.trends), fresh process."""
    code = "import time, lib.report.render; t = time.perf_counter(); import lib.report.html; print(time.perf_counter() - t)"
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
            for _ in range(5)]
    return statistics.median(runs)


def main() -> int:
    summary = largest_summary()
    points = [point_of(summary.model_copy(update={"window_end": END - timedelta(days=d)})) for d in range(KEEP_DAYS)]
    index = TrendIndex(points=points).model_dump_json().encode("utf-8")
    merge_s = best_of(lambda: compare(merge(points, points[0]), points[0]))
    trend = compare(points[1:], points[0])
    page = render_html(summary, trend).encode("utf-8")
    render_s = best_of(lambda: render_html(summary, trend), runs=3)
    print(f"90-day trend index: {len(index)} bytes (budget {INDEX_BUDGET_BYTES})")
    print(f"merge + compare over 90 days: {merge_s * 1000:.2f} ms")
    print(f"HTML page, {MAX_LISTED_JOBS} jobs x {MAX_OBJECTS_PER_JOB} objects: {len(page) / 1024:.0f} KB, "
          f"rendered in {render_s * 1000:.0f} ms (budget {RENDER_BUDGET_S * 1000:.0f} ms)")
    print(f"import of lib.report.html after lib.report.render: {import_cost() * 1000:.1f} ms")
    ok = len(index) < INDEX_BUDGET_BYTES and render_s < RENDER_BUDGET_S
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
