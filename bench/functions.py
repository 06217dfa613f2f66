"""The two functions measured as SCF runs them: fresh child interpreters against the emulator (which stays in
the runner's process, so its memory is not counted). Peak memory, API calls, report wall time, upload calls."""
from __future__ import annotations

import copy
import json
import math
import tempfile
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional
from urllib.parse import quote

from bench import calls
from bench.common import BUCKET, CHILD_REPORT, REPO, emulator_env, run_child
from bench.seed import add_result, seed_jobs

MEMORY_BUDGET_MB = 64
REPORT_N = (0, 1, 100, 101, 1050, 10000)
# Issue 16: the report at a real region's call cost. 20 ms is the order of an in-region COS/CI call (inferred: no
# published figure); the wall budget leaves room under SCF's 900 s limit for a busier bucket.
IN_REGION_LATENCY = 0.02
REPORT_WALL_BUDGET_S = 60
SCF_TIME_LIMIT_S = 900
LATENCY_N = {"concurrent": 10000, "sequential": 1000, "large": 100000}
LATENCY_N_QUICK = {"concurrent": 60, "sequential": 20, "large": 120}
UPLOAD_R = (1, 2, 10, 1000)
JOBS_FROM = datetime(2026, 2, 1, tzinfo=timezone.utc)
REPORT_TICK = JOBS_FROM + timedelta(hours=12)  # the window [tick - 1d, tick] holds every seeded job
WINDOW_AFTER_JOBS_FROM_S = 12 * 3600 - 60

REPORT_CHILD = CHILD_REPORT + """
import time
_t0 = time.perf_counter()
from handlers.report import main_handler
_t1 = time.perf_counter()
result = main_handler(_event(), {"request_id": "bench-report"})
_t2 = time.perf_counter()
summary = result.get("summary") or {}
_cpu = __import__("os").times()
_report(import_s=_t1 - _t0, run_s=_t2 - _t1, total_jobs=summary.get("total_jobs"),
        api_calls=summary.get("api_calls"), complete=summary.get("complete"),
        cached_jobs=(summary.get("objects") or {}).get("cached_jobs"), cpu_s=_cpu.user + _cpu.system)
"""

SUBMIT_CHILD = CHILD_REPORT + """
import time
_t0 = time.perf_counter()
from handlers.submit import main_handler
_t1 = time.perf_counter()
result = main_handler(_event(), {"request_id": "bench-upload"})
_t2 = time.perf_counter()
_report(import_s=_t1 - _t0, run_s=_t2 - _t1, jobs=len(result.get("jobs", [])),
        created=[j["created"] for j in result.get("jobs", [])])
"""


def report_available() -> Optional[str]:
    """None if the report function exists in this checkout, else why it cannot be measured."""
    if not (REPO / "handlers" / "report.py").exists():
        return "handlers/report.py does not exist yet in this checkout"
    return None


def report_event() -> Dict[str, Any]:
    return {"Type": "Timer", "TriggerName": "bench-report", "Time": REPORT_TICK.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Message": ""}


def seed_report(handle: Any, per_type: int, results_per_job: int = 0) -> None:
    """A clean emulator holding `per_type` finished jobs of each Type, each with `results_per_job` clean results."""
    handle.reset()
    handle.backend.create_bucket(BUCKET)
    # One job a second from JOBS_FROM; more than fit in the 12 h up to REPORT_TICK share seconds, so every one is
    # inside the window (a 100,000-job run at one a second would spill past it).
    step = min(1.0, WINDOW_AFTER_JOBS_FROM_S / max(1, per_type))

    def created(i: int) -> datetime:
        return JOBS_FROM + timedelta(seconds=int(i * step))

    for job_type in ("Job", "Workflow"):
        ids = seed_jobs(handle, job_type, per_type, created=created)
        with handle.backend.lock:
            for i, job_id in enumerate(ids):
                for k in range(results_per_job):
                    add_result(handle.backend, job_id, job_type, f"images/{i:06d}-{k}.png", created(i))


def run_report(handle: Any, per_type: int, *, latency: float = 0.0, concurrency: Optional[int] = None,
               results_per_job: int = 0, again: bool = False) -> Dict[str, Any]:
    """Seed `per_type` finished jobs of each Type into a clean emulator, run the report once in a fresh child.

    `latency` is the emulator's per-request delay (a real region's call cost); `concurrency` sets
    REPORT_CONCURRENCY (default: the setting's own); `again` runs a second report over the same window, which
    reuses the first one's per-object results cache, and adds its figures under "again"."""
    seed_report(handle, per_type, results_per_job)
    handle.request_log.clear()
    extra = {"REPORT_CONCURRENCY": str(concurrency)} if concurrency is not None else {}
    env = emulator_env(handle.url, handle.secret_id, handle.secret_key, REPORT_LOOKBACK="1d",
                       BENCH_EVENT=json.dumps(report_event()), **extra)
    handle.latency = latency
    try:
        result = _report_figures(handle, per_type, env)
        if again:
            handle.request_log.clear()
            result["again"] = _report_figures(handle, per_type, env)
    finally:
        handle.latency = 0.0
    result.update(latency_s=latency, concurrency=concurrency, results_per_job=results_per_job)
    return result


def _report_figures(handle: Any, per_type: int, env: Dict[str, str]) -> Dict[str, Any]:
    wall, rep = run_child(REPORT_CHILD, env, timeout=1800)
    counted = calls.count(handle.request_log.snapshot())
    expected_list = math.ceil(per_type / 100) if per_type else 1  # an empty window still costs one call
    return {
        "per_type": per_type, "wall_s": wall, "import_s": rep["import_s"], "run_s": rep["run_s"],
        "maxrss_mb": rep["maxrss_kb"] / 1024, "total_jobs": rep.get("total_jobs"),
        "self_counted": rep.get("api_calls"), "calls": counted,
        "list_job": calls.list_calls(counted, "Job"), "list_workflow": calls.list_calls(counted, "Workflow"),
        "expected_list": expected_list, "per_object": calls.per_object_calls(counted),
        "list_ok": calls.list_calls(counted, "Job") == expected_list
        and calls.list_calls(counted, "Workflow") == expected_list,
        "cpu_s": rep.get("cpu_s"), "complete": rep.get("complete"), "cached_jobs": rep.get("cached_jobs"),
    }


def upload_event(keys: List[str]) -> Dict[str, Any]:
    """A COS upload event of one record per key, for the bench bucket (shape of events/cos-upload-one.json)."""
    template = json.loads((REPO / "events" / "cos-upload-one.json").read_text())["Records"][0]
    name, appid = BUCKET.rsplit("-", 1)
    records = []
    for i, key in enumerate(keys):
        record = copy.deepcopy(template)
        record["cos"]["cosBucket"].update(name=name, appid=appid)
        record["cos"]["cosObject"]["key"] = f"/{appid}/{name}/{key}"
        record["cos"]["cosObject"]["url"] = (f"http://{BUCKET}.cos.ap-guangzhou.myqcloud.com/"
                                             f"{quote(key, safe='/-_.~')}")
        record["cos"]["cosObject"]["meta"]["x-cos-request-id"] = f"bench-req-{i}"
        record["cos"]["cosObject"]["meta"]["ETag"] = f'"{i:032x}"'
        records.append(record)
    return {"Records": records}


def run_upload(handle: Any, records: int) -> Dict[str, Any]:
    """One upload event of `records` records through the submit handler in a fresh child; calls by operation."""
    handle.reset()
    handle.backend.create_bucket(BUCKET)
    keys = [f"uploads/{i // 100:03d}/photo-{i:05d}.jpg" for i in range(records)]
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="bench-event-") as event_file:
        json.dump(upload_event(keys), event_file)
        event_file.flush()
        env = emulator_env(handle.url, handle.secret_id, handle.secret_key, BENCH_EVENT_FILE=event_file.name)
        wall, rep = run_child(SUBMIT_CHILD, env)
    counted = calls.count(handle.request_log.snapshot())
    manifest_writes = sum(1 for r in handle.request_log.snapshot()
                          if r.method == "PUT" and "/manifests/" in r.path)
    return {
        "records": records, "wall_s": wall, "maxrss_mb": rep["maxrss_kb"] / 1024, "calls": counted,
        "creates": counted.get("create batch job", 0), "manifest_writes": manifest_writes,
        "dup_checks": calls.list_calls(counted, "Job"), "jobs": rep.get("jobs"),
        "ok": counted.get("create batch job", 0) == 1 and manifest_writes <= 1
        and calls.list_calls(counted, "Job") <= 1,
    }


def run_report_at_latency(handle: Any, quick: bool) -> Dict[str, Any]:
    """The issue-16 figures at IN_REGION_LATENCY: concurrent (default REPORT_CONCURRENCY) with a second, cached
    report over the same window; one-at-a-time (REPORT_CONCURRENCY=1) at a size that fits in a minute, projected
    linearly; and the concurrent report at ten times the size (no per-object results seeded there, which costs the
    same calls and keeps the runner's emulator small)."""
    from lib.config import Settings

    sizes = LATENCY_N_QUICK if quick else LATENCY_N
    concurrency = Settings.model_fields["report_concurrency"].default
    return {
        "latency_s": IN_REGION_LATENCY, "default_concurrency": concurrency, "sizes": sizes,
        "concurrent": run_report(handle, sizes["concurrent"], latency=IN_REGION_LATENCY, results_per_job=1,
                                 again=True),
        "sequential": run_report(handle, sizes["sequential"], latency=IN_REGION_LATENCY, concurrency=1,
                                 results_per_job=1),
        "large": run_report(handle, sizes["large"], latency=IN_REGION_LATENCY),
    }

