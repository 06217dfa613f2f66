"""Execution of batch jobs: select objects from the Input, run ImageInspect on each, apply AutoProcess."""
from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
import uuid
from collections import deque
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import unquote, urlsplit

from .models import BACKUP_PREFIX, TERMINAL_STATES, BatchJob, InspectJob, Workflow, WorkflowExecution
from .xmlio import parse_ci_time

if TYPE_CHECKING:
    from .backend import Backend

COS_HOST_RE = re.compile(r"^(?P<bucket>[a-z0-9][a-z0-9-]*)\.cos\.(?P<region>[a-z0-9-]+)\.myqcloud\.com$")
PERSIST_EVERY = 200


class JobFailure(Exception):
    """A batch job cannot run: it ends Failed with this Code and Message."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _detector() -> Tuple[Callable[[bytes], dict], type, type]:
    from detector import DetectorError, ImageTooLargeError, inspect_bytes  # lazy: separate component

    return inspect_bytes, DetectorError, ImageTooLargeError


def inspect(backend: Backend, data: bytes) -> Tuple[Optional[Dict[str, Any]], Optional[Tuple[str, str]]]:
    """Run the detector: ``(result without "detail", None)`` or ``(None, (code, message))``."""
    if backend.inspector is not None:
        try:
            result = dict(backend.inspector(data))
        except Exception as exc:  # noqa: BLE001 - an injected inspector's failure is a per-object failure
            return None, (getattr(exc, "code", "InvalidImage"), str(exc))
    else:
        inspect_bytes, detector_error, too_large = _detector()
        try:
            result = dict(inspect_bytes(data))
        except too_large as exc:
            return None, ("ImageTooLarge", str(exc) or "image larger than 32 MB")
        except detector_error as exc:
            return None, (getattr(exc, "code", "InvalidImage"), str(exc) or type(exc).__name__)
    result.pop("detail", None)
    return result, None


def object_url(bucket: str, region: str, key: str) -> str:
    from urllib.parse import quote

    return f"http://{bucket}.cos.{region}.myqcloud.com/{quote(key, safe='/-_.~')}"


# ----- selection ---------------------------------------------------------------------------------------
def _interval(job: BatchJob) -> Tuple[Optional[datetime], Optional[datetime]]:
    start = parse_ci_time(job.interval_start, "TimeInterval.Start") if job.interval_start else None
    end = parse_ci_time(job.interval_end, "TimeInterval.End") if job.interval_end else None
    return start, end


def select_keys(backend: Backend, job: BatchJob) -> List[str]:
    """Keys a job processes, in order (caller holds the lock). ``Prefix`` '/' or '' is the whole bucket, and
    only Prefix input is filtered by TimeInterval on Last-Modified: Start inclusive, End exclusive.

    Raises:
        JobFailure: the Input cannot be read.
    """
    objects = backend.buckets.get(job.bucket)
    if objects is None:
        raise JobFailure("InvalidInput", f"bucket not found: {job.bucket}")
    if job.input_kind == "Prefix":
        prefix = "" if job.input_value in ("", "/") else job.input_value
        start, end = _interval(job)
        keys = []
        for key in sorted(k for k in objects if k.startswith(prefix)):
            lm = objects[key].last_modified
            if (start is not None and lm < start) or (end is not None and lm >= end):
                continue
            keys.append(key)
    elif job.input_kind == "Object":
        keys = [job.input_value]
    elif job.input_kind == "UrlFile":
        keys = _read_url_file(objects, job, _input_file_key(job))
    else:
        keys = _read_manifest(objects, job, _input_file_key(job))
    return [k for k in keys if not k.startswith(BACKUP_PREFIX)]


def _cos_url(url: str) -> Optional[Tuple[str, str]]:
    """(bucket, key) of a COS object URL, or None when it is not one.

    The path is decoded once (`%2E` is `.`) and never dot-segment resolved: COS keys are opaque, `a/../b` is a key."""
    parts = urlsplit(url)
    match = COS_HOST_RE.match(parts.hostname or "")
    if parts.scheme not in ("http", "https") or match is None or len(parts.path) < 2:
        return None
    return match.group("bucket"), unquote(parts.path[1:])


def _input_file_key(job: BatchJob) -> str:
    """UrlFile and Manifest name a file by its object URL (seed example, SDK demo/ci_media.py); CI fetches it,
    so a bare key cannot be fetched and the job fails."""
    named = _cos_url(job.input_value)
    if named is None or named[0] != job.bucket:
        raise JobFailure("InvalidInput", f"Input.{job.input_kind} must be the URL of an object in this bucket "
                                         f"(https://{job.bucket}.cos.{job.region}.myqcloud.com/<key>), "
                                         f"got {job.input_value[:200]!r}")
    return named[1]


def _read_url_file(objects: Dict, job: BatchJob, file_key: str) -> List[str]:
    record = objects.get(file_key)
    if record is None:
        raise JobFailure("InvalidInput", f"UrlFile not found: {job.input_value}")
    try:
        content = record.data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise JobFailure("InvalidInput", f"UrlFile is not UTF-8: {job.input_value}") from exc
    keys: List[str] = []
    seen = set()
    for number, line in enumerate(content.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        named = _cos_url(line)
        if named is None:
            raise JobFailure("InvalidInput", f"UrlFile line {number} is not a COS object URL: {line[:200]}")
        if named[0] != job.bucket:
            raise JobFailure("InvalidInput", f"UrlFile line {number} names another bucket: {named[0]}")
        key = named[1]
        if key not in seen:
            seen.add(key)
            keys.append(key)
    return keys


def _read_manifest(objects: Dict, job: BatchJob, manifest_key: str) -> List[str]:
    """Keys of a COS inventory report's rows (``Input.Manifest`` = the manifest.json's object URL, the Go SDK's
    example/CI/workflow_and_job/inventory.go). Each data file named in ``files[]`` is read and checked against its
    ``md5Checksum``; ``Key`` is URL-decoded; a row of another bucket is skipped. What CI does on a bad checksum or a
    foreign row is not published: failing the job, and skipping the row, are this emulator's choices."""
    record = objects.get(manifest_key)
    if record is None:
        raise JobFailure("InvalidInput", f"Manifest not found: {job.input_value}")
    try:
        manifest = json.loads(record.data.decode("utf-8"))
        columns = [c.strip() for c in str(manifest["fileSchema"]).split(",")]
        bucket_col, key_col = columns.index("Bucket"), columns.index("Key")
        appid_col = columns.index("Appid") if "Appid" in columns else None
        files = [(str(f["key"]), str(f.get("md5Checksum") or f.get("MD5checksum") or "")) for f in manifest["files"]]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise JobFailure("InvalidInput", f"Manifest is not an inventory manifest.json ({exc!r}): "
                                         f"{job.input_value}") from exc
    keys: List[str] = []
    seen = set()
    for file_key, md5 in files:
        data_file = objects.get(file_key)
        if data_file is None:
            raise JobFailure("InvalidInput", f"Manifest names a data file that does not exist: {file_key}")
        if md5 and hashlib.md5(data_file.data).hexdigest() != md5.lower():  # noqa: S324 - the documented checksum
            raise JobFailure("InvalidInput", f"Manifest data file {file_key} does not match its md5Checksum")
        try:
            rows = csv.reader(io.StringIO(gzip.decompress(data_file.data).decode("utf-8"), newline=""))
            for row in rows:
                if not row:
                    continue
                name = row[bucket_col]
                full = f"{name}-{row[appid_col]}" if appid_col is not None else name
                if job.bucket not in (name, full):
                    continue
                key = unquote(row[key_col])
                if key not in seen:
                    seen.add(key)
                    keys.append(key)
        except (OSError, EOFError, UnicodeDecodeError, IndexError, csv.Error) as exc:
            raise JobFailure("InvalidInput", f"Manifest data file {file_key} is not gzip CSV per fileSchema "
                                             f"({exc!r})") from exc
    return keys


# ----- one object ------------------------------------------------------------------------------------
def _auto_process(backend: Backend, bucket: str, key: str, etag: str, process_type: str) -> Tuple[str, str]:
    """Apply AutoProcess to a suspicious object (caller holds the lock). Deletes are a COS DELETE without versionId,
    so a versioned bucket keeps the image as an old version under a delete marker (docs/emulator.md: inference)."""
    objects = backend.buckets.get(bucket) or {}
    record = objects.get(key)
    if record is None or record.etag != etag:
        return "Failed", "object changed or deleted before AutoProcess"
    if process_type == "BackupObject":
        target = BACKUP_PREFIX + key
        backend.put_object(bucket, target, record.data, content_type=record.content_type,
                           metadata=dict(record.metadata), headers=dict(record.headers))
        backend.delete_object(bucket, key)
        return "Success", f"moved to {target}"
    if process_type == "SwitchObjectToPrivate":
        backend.set_object_acl(bucket, key, "private")
        return "Success", "switched to private"
    backend.delete_object(bucket, key)
    return "Success", "deleted"


def inspect_object(backend: Backend, bucket: str, region: str, key: str, auto_process: bool,
                   process_type: str, batch_job_id: str = "", workflow_id: str = "",
                   run_id: str = "") -> InspectJob:
    """Inspect one object and record the per-object job; the detector runs outside the backend lock."""
    with backend.lock:
        now = backend.clock()
        record = (backend.buckets.get(bucket) or {}).get(key)
        ij = InspectJob(job_id="j" + uuid.uuid4().hex, seq=backend._next_seq(), bucket=bucket, region=region,
                        key=key, state="Running", creation_time=now, start_time=now,
                        auto_process=auto_process, process_type=process_type, batch_job_id=batch_job_id,
                        workflow_id=workflow_id, run_id=run_id)
    if record is None:
        ij.state, ij.code, ij.message = "Failed", "NoSuchKey", "The specified key does not exist."
    else:
        result, error = inspect(backend, record.data)
        if error is not None:
            ij.state, (ij.code, ij.message) = "Failed", error
        else:
            ij.result = result
            ij.state = "Success"
            if auto_process and result.get("suspicious"):
                with backend.lock:
                    ij.auto_code, ij.auto_message = _auto_process(backend, bucket, key, record.etag,
                                                                  process_type)
    with backend.lock:
        ij.end_time = backend.clock()
        backend.inspect_jobs[ij.job_id] = ij
        if batch_job_id:
            backend.inspect_jobs_by_batch[batch_job_id].append(ij)
    return ij


def run_workflow(backend: Backend, wf: Workflow, bucket: str, region: str, key: str,
                 batch_job_id: str = "") -> WorkflowExecution:
    """Run one workflow on one object (for a batch job, or ``POST /triggerworkflow``); return its execution."""
    with backend.lock:
        ex = WorkflowExecution(run_id="i" + uuid.uuid4().hex, seq=backend._next_seq(), bucket=bucket,
                               workflow_id=wf.workflow_id, workflow_name=wf.name, key=key,
                               state="Running", creation_time=backend.clock(), batch_job_id=batch_job_id)
        backend.executions[ex.run_id] = ex
        if batch_job_id:
            backend.executions_by_batch[batch_job_id].append(ex)
    state = "Success"
    for node in wf.nodes:
        ij = inspect_object(backend, bucket, region, key, node["auto_process"], node["process_type"],
                            workflow_id=wf.workflow_id, run_id=ex.run_id)
        ex.task_job_ids.append(ij.job_id)
        ex.task_names.append(node["name"])
        if ij.state != "Success":
            state = "Failed"
            break
    with backend.lock:
        ex.state = state
        ex.end_time = backend.clock()
    return ex


def _run_workflows(backend: Backend, job: BatchJob, workflows: List[Workflow], key: str) -> None:
    for wf in workflows:
        run_workflow(backend, wf, job.bucket, job.region, key, batch_job_id=job.job_id)


def _workflows_of(backend: Backend, job: BatchJob) -> List[Workflow]:
    out = []
    for wid in job.workflow_ids:
        wf = backend.workflows.get(wid)
        if wf is None or wf.bucket != job.bucket:
            raise JobFailure("InvalidInput", f"workflow not found: {wid}")
        if wf.state != "Active":
            raise JobFailure("InvalidInput", f"workflow {wid} is {wf.state}, not Active")
        out.append(wf)
    return out


# ----- job state machine -----------------------------------------------------------------------------
def _claim(backend: Backend) -> Optional[BatchJob]:
    """The oldest unfinished job no other thread is moving, claimed; None when there is none."""
    with backend.lock:
        for job_id in backend.unfinished_job_ids():
            job = _claim_id(backend, job_id)
            if job is not None:
                return job
    return None


def _claim_id(backend: Backend, job_id: str) -> Optional[BatchJob]:
    """This job, claimed, if it is unfinished and no other thread is moving it."""
    with backend.lock:
        job = backend.jobs.get(job_id)
        if job is None or job.state not in ("Submitted", "Running") or job_id in backend._claimed:
            return None
        backend._claimed.add(job_id)
        return job


def _release(backend: Backend, job: BatchJob) -> None:
    with backend.work:
        backend._claimed.discard(job.job_id)
        backend.work.notify_all()


def _fail(backend: Backend, job: BatchJob, failure: JobFailure) -> None:
    job.state, job.code, job.message = "Failed", failure.code, failure.message
    job.end_time = backend.clock()
    backend._queues.pop(job.job_id, None)


def _start(backend: Backend, job: BatchJob) -> None:
    with backend.lock:
        if job.state != "Submitted":
            return
        job.state = "Running"
        job.start_time = backend.clock()
        _fill_queue(backend, job)
        backend.persist_job(job)


def _fill_queue(backend: Backend, job: BatchJob) -> None:
    try:
        if job.type == "Workflow":
            _workflows_of(backend, job)
        keys = select_keys(backend, job)
    except JobFailure as failure:
        _fail(backend, job, failure)
        return
    done = {ij.key for ij in backend.inspect_jobs_by_batch.get(job.job_id, [])}
    done.update(ex.key for ex in backend.executions_by_batch.get(job.job_id, []))
    backend._queues[job.job_id] = deque(k for k in keys if k not in done)


def _advance(backend: Backend, job: BatchJob, max_objects: Optional[int]) -> None:
    with backend.lock:
        if job.state != "Running":
            return
        if job.job_id not in backend._queues:  # resumed after a restart
            _fill_queue(backend, job)
            if job.state != "Running":
                backend.persist_job(job)
                return
        try:
            workflows = _workflows_of(backend, job) if job.type == "Workflow" else []
        except JobFailure as failure:
            _fail(backend, job, failure)
            backend.persist_job(job)
            return
    done = 0
    while max_objects is None or done < max_objects:
        with backend.lock:
            queue = backend._queues.get(job.job_id)
            if job.state != "Running" or queue is None:
                return  # cancelled
            if not queue:
                break
            key = queue.popleft()
        if job.type == "Workflow":
            _run_workflows(backend, job, workflows, key)
        else:
            inspect_object(backend, job.bucket, job.region, key, job.auto_process, job.process_type,
                           batch_job_id=job.job_id)
        done += 1
        with backend.lock:
            job.processed += 1
            if backend.store is not None and job.processed % PERSIST_EVERY == 0:
                backend.persist_job(job)
    with backend.lock:
        queue = backend._queues.get(job.job_id)
        if job.state == "Running" and queue is not None and not queue:
            job.state = "Success"
            job.end_time = backend.clock()
            backend._queues.pop(job.job_id, None)
        backend.persist_job(job)


def _move(backend: Backend, job: Any, max_objects: Optional[int]) -> None:
    """One state move of a claimed job: start it, or process (up to max_objects of) its objects."""
    if job.state == "Submitted":
        _start(backend, job)
    else:
        _advance(backend, job, max_objects)


def _move_claimed(backend: Backend, job: Optional[BatchJob], max_objects: Optional[int]) -> bool:
    if job is None:
        return False
    try:
        _move(backend, job, max_objects)
    finally:
        _release(backend, job)
    return True


def step(backend: Backend, max_objects: Optional[int] = None) -> bool:
    return _move_claimed(backend, _claim(backend), max_objects)


def advance_job(backend: Backend, job_id: str) -> bool:
    """One state move of this job: Submitted → Running, or Running → ended (all its objects processed).

    Returns False when the job is unknown, ended or being moved by another thread."""
    return _move_claimed(backend, _claim_id(backend, job_id), None)


def run_pending(backend: Backend) -> int:
    ran = 0
    while True:
        job = _claim(backend)
        if job is None:
            with backend.work:
                if not backend._claimed:
                    return ran
                backend.work.wait(0.5)  # another thread is running a job: wait for it to finish
            continue
        try:
            while job.state not in TERMINAL_STATES:
                _move(backend, job, None)
        finally:
            _release(backend, job)
        ran += 1
