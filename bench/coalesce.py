"""Coalescing mode (issue 16): N upload events over a simulated span, in-process through lib against the emulator,
calls counted from the emulator's request log. Same events in per-event mode beside it.

A fake clock moves each event's eventTime and arrival (1 s after it); events go round-robin to warm instances
(each with its own flush memory); a timer tick after the span settles the last slots. Every uploaded object is
checked to be in exactly one batch ledger whose job exists once in CI."""
from __future__ import annotations

import logging
import time
import tracemalloc
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List

from bench import calls
from bench.common import BUCKET, REGION

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)
INSTANCES = 4
SPAN = timedelta(minutes=10)
BUDGET_JOBS = 12
# Issue 16 set 1.5; issue 22 made every record be checked at its flush against its stored identity (one GET) and the
# object COS holds (one HEAD), a choice of trust over calls: 1 PUT + 2 checks per upload, plus the per-slot cost.
BUDGET_CALLS = 3.5


def _event(key: str, when: datetime, n: int) -> Dict[str, Any]:
    return {"Records": [{
        "cos": {"cosBucket": {"appid": "1250000000", "name": "bench", "region": "gz", "cosRegion": REGION},
                "cosObject": {"key": f"/1250000000/bench/{key}", "size": 1024, "vid": "",
                              "url": f"http://{BUCKET}.cos.{REGION}.myqcloud.com/{key}",
                              "meta": {"ETag": f'"e{n}"', "x-cos-request-id": f"req-{n}"}}},
        "event": {"eventName": "cos:ObjectCreated:Put", "eventTime": int(when.timestamp())}}]}


def simulate(handle: Any, uploads: int, seconds: int, *, trace_memory: bool = False) -> Dict[str, Any]:
    """Run `uploads` events over SPAN with UPLOAD_BATCH_SECONDS=seconds; returns calls, jobs and checks."""
    from lib import upload_state
    from lib.client import make_client
    from lib.config import load_settings
    from lib.events import parse_event
    from lib.submit import coalesce
    from lib.submit.run import Deps
    from lib.submit.timer import submit_timer
    from lib.submit.uploads import submit_upload

    handle.reset()
    handle.backend.create_bucket(BUCKET)
    settings = load_settings({"COS_BUCKET": BUCKET, "COS_REGION": REGION, "COS_EMULATOR_URL": handle.url,
                              "TENCENTCLOUD_SECRETID": handle.secret_id, "TENCENTCLOUD_SECRETKEY": handle.secret_key,
                              "UPLOAD_BATCH_SECONDS": str(seconds), "WINDOW": "all"})
    now = [T0]

    def clock() -> datetime:
        return now[0]

    def deps(owner: str) -> Deps:
        return Deps(client=make_client(settings, sleep=lambda _s: None), clock=clock, sleep=lambda _s: None,
                    owner=owner, time_limit=30, memory=coalesce.FlushMemory())

    fleet = [deps(f"i{n}") for n in range(INSTANCES)]
    passes: List[Dict[str, Any]] = []
    real_pass = coalesce.flush_pass

    def measured_pass(*args: Any, **kwargs: Any) -> Any:
        before = len(handle.request_log)
        if trace_memory:
            tracemalloc.start()
        try:
            result = real_pass(*args, **kwargs)
        finally:
            peak = tracemalloc.get_traced_memory()[1] if trace_memory else 0
            if trace_memory:
                tracemalloc.stop()
        pass_calls = calls.count(handle.request_log[before:])
        passes.append({"batches": len(result.flushed), "calls": sum(pass_calls.values()),
                       "lists": pass_calls.get("list objects", 0), "peak_mb": peak / 2 ** 20})
        return result

    coalesce.flush_pass = measured_pass  # type: ignore[assignment] - measuring, not changing, each pass
    logging.getLogger("autopilot").disabled = True  # one JSON line per upload would swamp the run's output
    started = time.perf_counter()
    try:
        step = SPAN / uploads
        for i in range(uploads):
            moment = T0 + step * i
            now[0] = moment + timedelta(seconds=1)
            submit_upload(settings, parse_event(_event(f"photos/{i % (uploads // 2 or 1)}.jpg", moment, i)),
                          fleet[i % INSTANCES])
        if seconds:  # the timer tick that flushes the last slots (per-event mode has nothing left to do)
            now[0] = T0 + SPAN + timedelta(seconds=seconds) + upload_state.GRACE + timedelta(seconds=1)
            tick = parse_event({"Type": "Timer", "TriggerName": "hourly",
                                "Time": now[0].strftime("%Y-%m-%dT%H:%M:%SZ")})
            submit_timer(settings, tick, deps("timer"))
    finally:
        coalesce.flush_pass = real_pass  # type: ignore[assignment]
        logging.getLogger("autopilot").disabled = False
    wall = time.perf_counter() - started
    counted = calls.count(handle.request_log)
    return {"uploads": uploads, "seconds": seconds, "wall_s": wall, "calls": calls.as_dict(counted),
            "total": sum(counted.values()), "per_upload": sum(counted.values()) / uploads,
            **_check(handle, settings, uploads, seconds), "passes": [p for p in passes if p["batches"]],
            "idle_passes": sum(1 for p in passes if not p["batches"])}


def _check(handle: Any, settings: Any, uploads: int, seconds: int) -> Dict[str, Any]:
    """Every upload in exactly one job: per-event mode by job input, coalescing mode by ledger and CI job name."""
    from lib.upload_state import UploadBatch

    backend = handle.backend
    with backend.lock:
        jobs = list(backend.jobs.values())
        objects = backend.buckets[BUCKET]
        ledgers = [UploadBatch.model_validate_json(objects[k].data) for k in sorted(objects)
                   if k.startswith(f"{settings.state_prefix}uploads/batches/")]
        records = [k for k in objects if k.startswith(f"{settings.state_prefix}uploads/pending/")]
    names = Counter(j.name for j in jobs)
    if not seconds:  # one event, one upload, one job: as many distinct names as uploads
        return {"jobs": len(jobs), "exactly_once": len(names) == uploads and set(names.values()) == {1}}
    counted = Counter(r for b in ledgers for r in b.records)
    ok = (len(records) == uploads and len(counted) == uploads and set(counted.values()) == {1}
          and all(b.job_id and names[b.job_name] == 1 for b in ledgers))
    batch_jobs = sum(1 for j in jobs if "-upload-batch-" in j.name)
    return {"jobs": batch_jobs, "exactly_once": ok, "largest_batch": max(len(b.records) for b in ledgers)}


def measure(handle: Any, quick: bool) -> Dict[str, Any]:
    """The budget run (10,000 coalesced), per-event mode beside it (1,000: its calls per upload are constant), and
    10x the size to show how cost grows."""
    base, per_event, big = (200, 50, 1000) if quick else (10_000, 1_000, 100_000)
    return {"coalesced": simulate(handle, base, 60), "per_event": simulate(handle, per_event, 0),
            "big": simulate(handle, big, 60, trace_memory=True)}
