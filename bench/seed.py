"""Fast seeding through the emulator's backend: thousands of batch jobs or images in well under a second.

Templates go through the real create call (so the stored XML is exactly what lib sends); copies are made in
the backend, which is what a real account with that history would list."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Optional, Tuple

from bench.common import BUCKET, REGION

WORKFLOW_ID = "w" + "0123456789abcdef" * 2
IMAGE_MAKERS = ("png", "jpeg", "gif", "bmp", "webp")


def settings(url: str, secret_id: str, secret_key: str, **fields: Any) -> Any:
    from lib.config import Settings

    base: Dict[str, Any] = dict(bucket=BUCKET, region=REGION, emulator_url=url, secret_id=secret_id,
                                secret_key=secret_key)
    base.update(fields)
    return Settings(**base)


def client(url: str, secret_id: str, secret_key: str, **fields: Any) -> Any:
    from lib.client import make_client

    return make_client(settings(url, secret_id, secret_key, **fields))


def job_body(job_type: str, name: str, prefix: str = "images/") -> Any:
    """The body lib builds for a timer job of this Type (Settings' defaults otherwise)."""
    from lib.config import Settings
    from lib.jobs import JobInput, build_job_body
    from lib.windows import Window

    cfg = Settings(bucket=BUCKET, region=REGION, job_type=job_type,
                   workflow_ids=(WORKFLOW_ID,) if job_type == "Workflow" else ())
    end = datetime(2026, 1, 1, tzinfo=timezone.utc)
    return build_job_body(cfg, name, JobInput(Prefix=prefix), Window(end - timedelta(hours=1), end))


def _spec_of(job: Any) -> Any:
    from emulator.validation import BatchJobSpec

    names = [f.name for f in dataclasses.fields(BatchJobSpec)]
    return BatchJobSpec(**{n: getattr(job, n) for n in names})


def seed_jobs(handle: Any, job_type: str, count: int, *, state: str = "Success", prefix: str = "autopilot",
              created: Optional[Callable[[int], datetime]] = None) -> List[str]:
    """`count` finished batch jobs of one Type named `<prefix>-bench-<type>-<i>`; returns their ids.

    One template is created through the SDK; the others are copies made in the backend, with their state set
    as if they had run (Success by default: a finished job is what the report asks per-object results for)."""
    if count <= 0:
        return []
    cli = client(handle.url, handle.secret_id, handle.secret_key)
    backend = handle.backend
    template = cli.create_job(job_body(job_type, f"{prefix}-bench-{job_type.lower()}-template"))
    spec = _spec_of(backend.get_job(template.JobId))
    ids = [template.JobId]
    for i in range(1, count):
        ids.append(backend.create_batch_job(BUCKET, REGION, dataclasses.replace(
            spec, name=f"{prefix}-bench-{job_type.lower()}-{i:06d}")).job_id)
    with backend.lock:
        for i, job_id in enumerate(ids):
            job = backend.jobs[job_id]
            if created is not None:
                job.creation_time = created(i)
            job.state = state
            if state not in ("Submitted",):
                job.start_time = job.creation_time
            if state in ("Success", "Failed", "Cancel"):
                job.end_time = job.creation_time
    return ids


def add_result(backend: Any, batch_job_id: str, job_type: str, key: str, created: datetime, *,
               state: str = "Success", suspicious: bool = False) -> None:
    """One per-object result of a batch job, straight into the backend: an ImageInspect job (Type Job) or a workflow
    execution (Type Workflow), as the job would have spawned it (caller holds backend.lock)."""
    import uuid

    from emulator.models import InspectJob, WorkflowExecution

    if job_type == "Job":
        result: Dict[str, Any] = {"picSize": 10, "picType": "png", "suspicious": suspicious}
        if suspicious:
            result.update(suspiciousBeginByte=8, suspiciousEndByte=10, suspiciousSize=2, suspiciousType="trailer")
        record = InspectJob(job_id="j" + uuid.uuid4().hex, seq=backend._next_seq(), bucket=BUCKET, region=REGION,
                            key=key, state=state, creation_time=created, auto_process=False, process_type="",
                            code="Success" if state == "Success" else "InternalError",
                            result=result if state == "Success" else None, batch_job_id=batch_job_id)
        backend.inspect_jobs[record.job_id] = record
        backend.inspect_jobs_by_batch[batch_job_id].append(record)
    else:
        execution = WorkflowExecution(run_id="i" + uuid.uuid4().hex, seq=backend._next_seq(), bucket=BUCKET,
                                      workflow_id=WORKFLOW_ID, workflow_name="inspect", key=key, state=state,
                                      creation_time=created, batch_job_id=batch_job_id)
        backend.executions[execution.run_id] = execution
        backend.executions_by_batch[batch_job_id].append(execution)


def small_image(i: int) -> Tuple[str, bytes, str]:
    """The i-th of a cycle of tiny PNG/JPEG/GIF/BMP/WebP images from emulator.demo: (extension, bytes, type)."""
    from emulator import demo

    kind = IMAGE_MAKERS[i % len(IMAGE_MAKERS)]
    data = demo.png(4, 4, i % 251) if kind == "png" else getattr(demo, kind)(i % 251)
    ext = "jpg" if kind == "jpeg" else kind
    return ext, data, f"image/{kind}"


def seed_images(backend: Any, count: int, prefix: str = "images/") -> int:
    """`count` small images under prefix, straight into the backend; returns their total bytes."""
    total = 0
    cache: Dict[int, Tuple[str, bytes, str]] = {}
    for i in range(count):
        ext, data, content_type = cache.setdefault(i % 1255, small_image(i))
        backend.put_object(BUCKET, f"{prefix}{i // 1000:03d}/img-{i:06d}.{ext}", data, content_type=content_type)
        total += len(data)
    return total
