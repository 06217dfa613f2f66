"""Emulator throughput: one ImageInspect batch job over N small images, executed in-process (run_pending)."""
from __future__ import annotations

import time
from typing import Any, Dict

from bench.common import BUCKET, median
from bench.seed import client, job_body, seed_images

GOAL = 500.0


def measure(handle: Any, images: int = 10000) -> Dict[str, Any]:
    handle.reset()
    backend = handle.backend
    backend.create_bucket(BUCKET)
    total_bytes = seed_images(backend, images, prefix="images/")
    cli = client(handle.url, handle.secret_id, handle.secret_key)
    body = job_body("Job", "autopilot-bench-throughput", prefix="images/")
    # No time window: every image under the prefix is selected, whatever its Last-Modified.
    body = body.model_copy(update={"Operation": body.Operation.model_copy(update={"TimeInterval": None})})
    job = cli.create_job(body)
    started = time.perf_counter()
    backend.run_pending()
    elapsed = time.perf_counter() - started
    done = backend.get_job(job.JobId)
    inspected = len(backend.inspect_jobs_by_batch.get(job.JobId, []))
    detector_s = _detector_seconds(backend, images)
    return {"images": images, "bytes": total_bytes, "seconds": elapsed, "per_s": inspected / elapsed,
            "inspected": inspected, "state": done.state, "detector_s": detector_s, "pass": inspected / elapsed >= GOAL
            and done.state == "Success" and inspected == images}


def _detector_seconds(backend: Any, images: int) -> float:
    """The detector alone over the same bytes (median of 3), to show what share of the job it is."""
    from detector import inspect_bytes

    datas = [rec.data for key, rec in backend.buckets[BUCKET].items() if key.startswith("images/")][:images]
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        for data in datas:
            inspect_bytes(data)
        runs.append(time.perf_counter() - t)
    return median(runs)
