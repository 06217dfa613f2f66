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
from bench.seed import seed_jobs

MEMORY_BUDGET_MB = 64
REPORT_N = (0, 1, 100, 101, 1050, 10000)
UPLOAD_R = (1, 2, 10, 1000)
JOBS_FROM = datetime(2026, 2, 1, tzinfo=timezone.utc)
REPORT_TICK = JOBS_FROM + timedelta(hours=12)  # the window [tick - 1d, tick] holds every seeded job

REPORT_CHILD = CHILD_REPORT + """
import time
_t0 = time.perf_counter()
from handlers.report import main_handler
_t1 = time.perf_counter()
result = main_handler(_event(), {"request_id": "bench-report"})
_t2 = time.perf_counter()
summary = result.get("summary") or {}
_report(import_s=_t1 - _t0, run_s=_t2 - _t1, total_jobs=summary.get("total_jobs"),
        api_calls=summary.get("api_calls"))
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


def run_report(handle: Any, per_type: int) -> Dict[str, Any]:
    """Seed `per_type` finished jobs of each Type into a clean emulator, run the report once in a fresh child."""
    handle.reset()
    handle.backend.create_bucket(BUCKET)
    for job_type in ("Job", "Workflow"):
        seed_jobs(handle, job_type, per_type, created=lambda i: JOBS_FROM + timedelta(seconds=i))
    handle.request_log.clear()
    env = emulator_env(handle.url, handle.secret_id, handle.secret_key, REPORT_LOOKBACK="1d",
                       BENCH_EVENT=json.dumps(report_event()))
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
