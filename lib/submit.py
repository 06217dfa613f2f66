"""Submitting batch jobs: a timer tick becomes one job per window, an upload event one job per set of objects."""

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Callable, List, Optional, Tuple

from pydantic import BaseModel, ConfigDict

from lib import logs
from lib.client import CiClient, JobDetail
from lib.config import Settings
from lib.errors import AppError, CloudApiError, CloudUnavailableError, SafetyError
from lib.events import CosEvent, TimerEvent, UnreadableRecord, UploadedObject, uploaded_object
from lib.jobs import (
    JobBody,
    JobInput,
    build_job_body,
    manifest_lines,
    object_url,
    timer_job_name,
    upload_digest,
    upload_job_name,
    xml_carries,
)
from lib.state import Checkpoint, Lease, StateStore
from lib.windows import Window, as_utc, compact, format_ci_time, format_utc

if TYPE_CHECKING:
    from lib.coalesce import FlushMemory

CREATE_ATTEMPTS = 3
# A run re-plans when the checkpoint moved between its plan and its claim; more than twice in a row means a storm.
REPLANS = 3
# SCF retries a failed (or killed) run a minute later: a claim must lapse before that, but never while the run lives.
LEASE_MARGIN = timedelta(seconds=30)
DEFAULT_LEASE = timedelta(seconds=900) + LEASE_MARGIN  # 900 s is the longest an event function may run


@dataclass
class Deps:
    """The side effects a submit run uses, passed in so tests can give fakes."""

    client: CiClient
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))
    sleep: Callable[[float], None] = time.sleep
    owner: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    time_limit: Optional[float] = None  # seconds SCF lets this run live (context time_limit_in_ms)
    memory: Optional["FlushMemory"] = None  # coalescing mode: this warm instance's (None: lib.coalesce.INSTANCE)


def lease_ttl(settings: Settings, time_limit: Optional[float]) -> timedelta:
    """How long a claim lasts: LEASE_SECONDS if set, else the run's time limit + 30 s.

    Longer, and a run SCF killed would still hold its claim when both retries come, so an upload would be lost."""
    if settings.lease_seconds is not None:
        return timedelta(seconds=settings.lease_seconds)
    if time_limit:
        return timedelta(seconds=time_limit) + LEASE_MARGIN
    return DEFAULT_LEASE


class JobRef(BaseModel):
    model_config = ConfigDict(frozen=True)
    job_id: str
    name: str
    state: str
    created: bool
    input: str
    window_start: Optional[str] = None
    window_end: Optional[str] = None


class SkippedKey(BaseModel):
    model_config = ConfigDict(frozen=True)
    key: str
    reason: str


class SubmitResult(BaseModel):
    """What a submit run did, JSON-able for the handler's return value."""

    trigger: str
    rule: Optional[str] = None
    jobs: List[JobRef] = []
    skipped: List[SkippedKey] = []
    note: str = ""
    recorded: int = 0  # coalescing mode: uploads recorded for a later batch job
    late: int = 0  # of those, records that may have missed their slot's first flush (a late marker was left)


def check_safety(settings: Settings) -> None:
    """Refuse a whole-bucket DeleteObject scan unless the user said so explicitly."""
    if settings.deletes_objects and settings.whole_bucket and not settings.allow_delete_whole_bucket:
        raise SafetyError(
            "INSPECT_PROCESS_TYPE=DeleteObject with INSPECT_AUTO_PROCESS=true and INPUT_PREFIX covering the whole "
            "bucket would delete every flagged image in it; set INPUT_PREFIX to a folder, use BackupObject, or set "
            "ALLOW_DELETE_WHOLE_BUCKET=true if that is really what you want")


def find_live_job(client: CiClient, name: str, job_type: str) -> Optional[JobDetail]:
    """A job with exactly this name that has not failed or been cancelled."""
    for job in client.iter_jobs(job_type, Name=name, States="All"):
        if job.Name == name and job.live:
            return job
    return None


def ensure_job(client: CiClient, body: JobBody, sleep: Callable[[float], None]) -> Tuple[JobDetail, bool]:
    """Create the job unless one with its name is live; look the name up before every attempt.

    After a create that got no answer (timeout, reset) the request may still be in flight and land after our
    lookup, so this run never creates again: it looks once more and, if the job is not there yet, fails loudly.
    The next run (SCF's retry a minute later) takes over the abandoned lease and looks the name up first."""
    last: Optional[AppError] = None
    for attempt in range(CREATE_ATTEMPTS):
        existing = find_live_job(client, body.Name, body.Type)
        if existing is not None:
            return existing, False
        if isinstance(last, CloudUnavailableError):
            raise last
        try:
            return client.create_job(body), True
        except CloudApiError as exc:
            if not exc.retryable:
                raise
            last = exc
        except CloudUnavailableError as exc:
            last = exc  # the create may have happened or may still happen: look, but never create again
        logs.log("create_retry", job_name=body.Name, attempt=attempt + 1, error=str(last))
        sleep(0.5 * (2 ** attempt))
    existing = find_live_job(client, body.Name, body.Type)
    if existing is not None:
        return existing, False
    assert last is not None
    raise last


def _ref(job: JobDetail, created: bool, job_input: str, window: Optional[Window]) -> JobRef:
    return JobRef(
        job_id=job.JobId, name=job.Name, state=job.State, created=created, input=job_input,
        window_start=format_ci_time(window.start) if window and window.start else None,
        window_end=format_ci_time(window.end) if window else None,
    )


def rule_of(settings: Settings, event: TimerEvent) -> str:
    return settings.rule_name or event.trigger_name


def plan_timer_window(settings: Settings, end: datetime, checkpoint: Optional[Checkpoint]) -> Optional[Window]:
    """The window a tick at `end` covers; None when an earlier run already covered it."""
    end = as_utc(end)
    kind = settings.window.kind
    if kind == "all":
        return Window(None, end)
    if kind == "lookback":
        assert settings.window.lookback is not None
        return Window(end - settings.window.lookback, end)
    start = as_utc(checkpoint.end) if checkpoint else end - settings.first_run_lookback
    if start >= end:
        return None
    return Window(start, end)


def timer_body(settings: Settings, rule: str, window: Window) -> JobBody:
    name = timer_job_name(settings.job_name_prefix, rule, window)
    return build_job_body(settings, name, JobInput(Prefix=settings.input_prefix), window)


def window_claim(rule: str, checkpoint: Optional[Checkpoint]) -> str:
    """The claim on the window that starts at the checkpoint: every run planning from it contends for this one."""
    return f"{rule}@{compact(checkpoint.end) if checkpoint else 'first'}"


def submit_timer(settings: Settings, event: TimerEvent, deps: Deps) -> SubmitResult:
    """The window's job; in coalescing mode also a flush pass, which bounds how long a quiet bucket's uploads wait.

    One failing does not stop the other; the first failure is raised once both ran, so SCF retries the tick."""
    if not settings.upload_batch_seconds:
        return window_timer(settings, event, deps)
    failure: Optional[AppError] = None
    try:
        result = window_timer(settings, event, deps)
    except AppError as exc:
        failure, result = exc, SubmitResult(trigger="timer", rule=rule_of(settings, event))
    try:
        batches = flush_uploads(settings, deps)
    except AppError as exc:
        logs.log_error("batch_flush_failed", exc)
        failure, batches = failure or exc, []
    if failure is not None:
        raise failure
    return result.model_copy(update={"jobs": result.jobs + batches})


def window_timer(settings: Settings, event: TimerEvent, deps: Deps) -> SubmitResult:
    """One job for the window ending at the tick's Time; the checkpoint moves only after the job exists."""
    check_safety(settings)
    rule = rule_of(settings, event)
    store = StateStore(deps.client, settings.state_prefix, deps.clock)
    if settings.window.kind != "incremental":
        window = plan_timer_window(settings, event.time, None)
        assert window is not None
        body = timer_body(settings, rule, window)
        with store.holding(_proposal(deps, body.Name, window, body), lease_ttl(settings, deps.time_limit)):
            return _timer_result(settings, rule, window, *ensure_job(deps.client, body, deps.sleep))
    checkpoint = store.read_checkpoint(rule)
    for replan in range(REPLANS):
        window = plan_timer_window(settings, event.time, checkpoint)
        if window is None:
            assert checkpoint is not None
            if checkpoint.lease_id:
                store.clear_expired(checkpoint.lease_id)  # the claim of a run killed before it released it
            note = f"window already covered up to {format_utc(checkpoint.end)} by job {checkpoint.job_id}"
            if replan:
                note = f"another run moved the checkpoint to {format_utc(checkpoint.end)} meanwhile; {note}"
            logs.log("timer_skip", rule=rule, reason=note)
            return SubmitResult(trigger="timer", rule=rule, note=note)
        body = timer_body(settings, rule, window)
        proposal = _proposal(deps, window_claim(rule, checkpoint), window, body)
        with store.holding(proposal, lease_ttl(settings, deps.time_limit)) as lease:
            # Work from the state as it is now that the claim is ours: a run may have moved the checkpoint meanwhile.
            latest = store.read_checkpoint(rule)
            result = _timer_job(settings, store, deps, rule, lease, window, body) if latest == checkpoint else None
        if result is not None:
            if checkpoint is not None and checkpoint.lease_id:
                store.clear_expired(checkpoint.lease_id)  # the previous window's claim, if its run never released it
            return result
        # A stale claim: released on leaving the block (with any dead run's generations under it); plan again.
        logs.log("timer_replan", rule=rule, planned_from=format_ci_time(checkpoint.end) if checkpoint else None,
                 now_from=format_ci_time(latest.end) if latest else None)
        checkpoint = latest
    note = f"the checkpoint moved {REPLANS} times while this run planned; the next tick covers from it"
    logs.log("timer_skip", rule=rule, reason=note)
    return SubmitResult(trigger="timer", rule=rule, note=note)


def _proposal(deps: Deps, lease_id: str, window: Window, body: JobBody) -> Lease:
    return Lease(lease_id=lease_id, owner=deps.owner, generation=0, expires_at=deps.clock(),
                 window_start=window.start, window_end=window.end, job_name=body.Name)


def _timer_job(settings: Settings, store: StateStore, deps: Deps, rule: str, lease: Lease, window: Window,
               body: JobBody) -> SubmitResult:
    if lease.job_name != body.Name:
        # Taking over a claim a failed run left: finish exactly its window so windows never overlap.
        window = Window(lease.window_start, lease.window_end or window.end)
        body = timer_body(settings, rule, window)
    job, created = ensure_job(deps.client, body, deps.sleep)
    store.write_checkpoint(Checkpoint(rule=rule, end=window.end, job_id=job.JobId, job_name=job.Name,
                                      lease_id=lease.lease_id))
    return _timer_result(settings, rule, window, job, created)


def _timer_result(settings: Settings, rule: str, window: Window, job: JobDetail, created: bool) -> SubmitResult:
    logs.log("job_created" if created else "job_found", rule=rule, job_id=job.JobId, job_name=job.Name,
             window_start=format_ci_time(window.start) if window.start else None,
             window_end=format_ci_time(window.end))
    return SubmitResult(trigger="timer", rule=rule, jobs=[_ref(job, created, f"Prefix={settings.input_prefix}", window)])


def select_uploads(settings: Settings, event: CosEvent) -> Tuple[List[UploadedObject], List[SkippedKey]]:
    """The records worth inspecting, in event order without duplicates, and why the others were skipped."""
    chosen: List[UploadedObject] = []
    skipped: List[SkippedKey] = []
    seen = set()
    for bad in event.malformed:
        skipped.append(SkippedKey(key=bad.key, reason=f"malformed record {bad.index} of the event: {bad.reason}"))
    for record in event.records:
        try:
            obj = uploaded_object(record)
        except UnreadableRecord as exc:
            # The key may hold the very text that cannot be encoded: report it escaped, as logs and JSON need.
            key = record.cos.cos_object.key[-200:].encode("utf-8", "backslashreplace").decode("utf-8")
            skipped.append(SkippedKey(key=key, reason=f"unreadable record: {exc}"))
            continue
        reason = _skip_reason(settings, obj)
        if reason:
            skipped.append(SkippedKey(key=obj.key, reason=reason))
        elif _identity(settings, obj) not in seen:
            seen.add(_identity(settings, obj))
            chosen.append(obj)
    return chosen, skipped


def _identity(settings: Settings, obj: UploadedObject) -> object:
    # One job per event needs each key once; coalescing keeps every upload (a re-upload is its own record).
    if not settings.upload_batch_seconds:
        return obj.key
    from lib import coalesce  # coalescing mode only (here and below): a per-event run never pays its import

    return coalesce.record_id(obj)


def _skip_reason(settings: Settings, obj: UploadedObject) -> str:
    if obj.event_name and not obj.event_name.startswith("cos:ObjectCreated"):
        return f"event {obj.event_name} is not an upload"
    if obj.bucket != settings.bucket:
        return f"bucket {obj.bucket} is not COS_BUCKET"
    if obj.key.endswith("/"):
        return "folder marker"
    if not settings.watches(obj.key):
        return (f"key {obj.key!r} is outside UPLOAD_PREFIXES={','.join(settings.upload_prefixes)!r}, the prefixes "
                "this function's COS triggers watch")
    for prefix in settings.skip_prefixes():
        if obj.key.startswith(prefix):
            return f"under {prefix} (our own state or CI's backups; processing it would recurse)"
    if not obj.key.lower().endswith(settings.upload_suffixes):
        return "suffix not in UPLOAD_SUFFIXES"
    return ""


class UploadPlan(BaseModel):
    """The job an upload event maps to, and the manifest it needs (if several objects)."""

    model_config = ConfigDict(frozen=True, defer_build=True)  # upload path only: a timer tick never builds it
    body: JobBody
    described: str
    manifest_key: Optional[str] = None
    manifest_text: Optional[str] = None


def plan_upload(settings: Settings, objects: List[UploadedObject]) -> UploadPlan:
    """Pure: Input.Object for one object, a UrlFile manifest for several; the name derives from the records.

    One object whose key XML cannot carry exactly (lib.jobs.xml_carries) goes in a one-line manifest, where its
    URL percent-encodes it: in Input.Object CI would inspect (and act on) another key, or refuse the body."""
    digest = upload_digest(objects)
    name = upload_job_name(settings.job_name_prefix, digest)
    if len(objects) == 1 and xml_carries(objects[0].key):
        body = build_job_body(settings, name, JobInput(Object=objects[0].key), None)
        return UploadPlan(body=body, described=f"Object={objects[0].key}")
    manifest = f"{settings.state_prefix}manifests/{digest}.txt"
    text = manifest_lines(settings.bucket, settings.region, [o.key for o in objects])
    url = object_url(settings.bucket, settings.region, manifest)
    body = build_job_body(settings, name, JobInput(UrlFile=url), None)
    count = f"{len(objects)} objects" if len(objects) > 1 else "1 object, its key not safe in XML"
    return UploadPlan(body=body, described=f"UrlFile={url} ({count})", manifest_key=manifest, manifest_text=text)


def submit_upload(settings: Settings, event: CosEvent, deps: Deps) -> SubmitResult:
    """One job over exactly the uploaded objects: Input.Object for one, a UrlFile manifest for several."""
    objects, skipped = select_uploads(settings, event)
    for item in skipped:
        logs.log("upload_skip", key=item.key, reason=item.reason)
    if not objects:
        return SubmitResult(trigger="cos", skipped=skipped, note="nothing to inspect in this event")
    if settings.upload_batch_seconds:
        return coalesce_upload(settings, objects, skipped, deps)
    plan = plan_upload(settings, objects)
    store = StateStore(deps.client, settings.state_prefix, deps.clock)
    proposal = Lease(lease_id=plan.body.Name, owner=deps.owner, generation=0, expires_at=deps.clock(),
                     job_name=plan.body.Name)
    with store.holding(proposal, lease_ttl(settings, deps.time_limit)):
        if plan.manifest_key is not None and plan.manifest_text is not None:
            # Same records, same bytes: rewriting it on a redelivery is harmless.
            deps.client.put_object(plan.manifest_key, plan.manifest_text.encode("utf-8"), "text/plain; charset=utf-8")
        job, created = ensure_job(deps.client, plan.body, deps.sleep)
        logs.log("job_created" if created else "job_found", job_id=job.JobId, job_name=job.Name, input=plan.described)
    return SubmitResult(trigger="cos", jobs=[_ref(job, created, plan.described, None)], skipped=skipped)


def flush_uploads(settings: Settings, deps: Deps) -> List[JobRef]:
    """One flush pass over the pending uploads; the batch jobs it made or finished."""
    from lib import coalesce

    store = StateStore(deps.client, settings.state_prefix, deps.clock)
    done = coalesce.flush_pass(deps.client, settings, store, deps.owner, lease_ttl(settings, deps.time_limit),
                               lambda body: ensure_job(deps.client, body, deps.sleep))
    return [JobRef(job_id=b.job_id, name=b.job_name, state=b.state, created=b.job_name in done.created,
                   input=f"UrlFile={coalesce.batch_body(settings, b).Input.UrlFile} ({len(b.keys)} objects)")
            for b in done.flushed]


def coalesce_upload(settings: Settings, objects: List[UploadedObject], skipped: List[SkippedKey],
                    deps: Deps) -> SubmitResult:
    """Record the uploads; then, if a slot became due since this instance last looked, run one flush pass.

    A failing pass does not fail the event (its records are stored): the next event or the timer flushes them."""
    from lib import coalesce

    late = coalesce.record_uploads(deps.client, settings, objects, deps.clock)
    logs.log("uploads_recorded", uploads=len(objects), late=late)
    result = SubmitResult(trigger="cos", skipped=skipped, recorded=len(objects), late=late)
    now, seconds = deps.clock(), settings.upload_batch_seconds
    memory = deps.memory or coalesce.INSTANCE
    if not coalesce.pass_needed(memory, now, seconds):
        return result
    try:
        jobs = flush_uploads(settings, deps)
    except AppError as exc:
        logs.log_error("batch_flush_failed", exc)
        return result.model_copy(update={"note": f"flush pass failed, the next event or the timer retries: {exc}"})
    memory.due_until = coalesce.newest_due_slot(now, seconds)
    return result.model_copy(update={"jobs": jobs})
