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
from lib.errors import AppError, CloudApiError, CloudUnavailableError, JobMismatchError, SafetyError
from lib.events import CosEvent, TimerEvent, UnreadableRecord, UploadedObject, shown_key, uploaded_object
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
from lib.upload_rules import skip_reason
from lib.windows import (
    CLOCK_SKEW,
    Window,
    as_utc,
    compact,
    format_ci_time,
    format_duration,
    format_utc,
    parse_ci_time,
)

if TYPE_CHECKING:
    from lib.coalesce import FlushMemory

CREATE_ATTEMPTS = 3
# A run re-plans when the checkpoint moved between its plan and its claim; more than twice in a row means a storm.
REPLANS = 3
# SCF retries a failed (or killed) run a minute later: a claim must lapse before that, but never while the run lives.
LEASE_MARGIN = timedelta(seconds=30)
DEFAULT_LEASE = timedelta(seconds=900) + LEASE_MARGIN  # 900 s is the longest an event function may run
# A first-run claim is taken over within a tick or two of the run that died; one ending longer before the tick's
# Time than this is not finished as stored: a forged one could aim the first job, and so the checkpoint, at any old
# hour, and the next tick would re-scan everything since.
FIRST_CLAIM_HORIZON = timedelta(days=1)


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
    The next run (SCF's retry a minute later) takes over the abandoned lease and looks the name up first.
    A job found by name must do what `body` asks (check_found_job), or JobMismatchError."""
    last: Optional[AppError] = None
    for attempt in range(CREATE_ATTEMPTS):
        existing = find_live_job(client, body.Name, body.Type)
        if existing is not None:
            return check_found_job(existing, body), False
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
        return check_found_job(existing, body), False
    assert last is not None
    raise last


_INPUT_KINDS = ("Prefix", "Object", "UrlFile", "Manifest")


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _interval(value: object) -> Optional[Tuple[Optional[datetime], Optional[datetime]]]:
    """A TimeInterval as instants (CI answers in +0800, we send +0800 too, either may be Z); None when absent."""
    if not isinstance(value, dict):
        return None
    try:
        return tuple(parse_ci_time(_text(value.get(k))) for k in ("Start", "End"))  # type: ignore[return-value]
    except ValueError:
        return (None, None)


def job_differences(found: JobDetail, body: JobBody) -> List[Tuple[str, str, str]]:
    """(field, found value, our value) for each field of `body` the found job does otherwise.

    Compared: Type, Input (all four kinds), TimeInterval (as instants), WorkflowIds (as a list, however CI groups
    them), and, where the answer carries them, Operation.Tag and JobParam.ImageInspect (AutoProcess case-blind).
    The documented DescribeInventoryTriggerJob sample (tests/contract/samples) has no Tag; the Go SDK's
    InventoryTriggerJobOperation declares Tag and JobParam, both omitempty, so their absence is tolerated."""
    ours = body.to_sdk()
    out: List[Tuple[str, str, str]] = []
    if found.Type != body.Type:
        out.append(("Type", found.Type, body.Type))
    for kind in _INPUT_KINDS:
        there = _text(found.Input[kind]) if kind in found.Input else None
        here = _text(ours["Input"][kind]) if kind in ours["Input"] else None
        if (there is None) != (here is None) or _input_value(kind, there) != _input_value(kind, here):
            out.append((f"Input.{kind}", "(none)" if there is None else there, "(none)" if here is None else here))
    operation = ours["Operation"]
    there_interval, here_interval = _interval(found.Operation.get("TimeInterval")), _interval(
        operation.get("TimeInterval"))
    if there_interval != here_interval:
        out.append(("Operation.TimeInterval", _shown_interval(found.Operation.get("TimeInterval")),
                    _shown_interval(operation.get("TimeInterval"))))
    if "WorkflowIds" in operation or found.workflow_ids:
        here_ids = operation.get("WorkflowIds") or []
        here_ids = tuple(here_ids if isinstance(here_ids, list) else [here_ids])
        if found.workflow_ids != here_ids:
            out.append(("Operation.WorkflowIds", ",".join(found.workflow_ids) or "(none)",
                        ",".join(here_ids) or "(none)"))
    if found.Operation.get("Tag") is not None and _text(found.Operation.get("Tag")) != _text(operation.get("Tag")):
        out.append(("Operation.Tag", _text(found.Operation.get("Tag")), _text(operation.get("Tag")) or "(none)"))
    param = found.Operation.get("JobParam")
    there_inspect = param.get("ImageInspect") if isinstance(param, dict) else None
    here_inspect = (operation.get("JobParam") or {}).get("ImageInspect")
    if isinstance(there_inspect, dict):
        for item in ("AutoProcess", "ProcessType"):
            a, b = _text(there_inspect.get(item)), _text((here_inspect or {}).get(item))
            if (a.lower() != b.lower()) if item == "AutoProcess" else (a != b):  # CI may answer True/true
                out.append((f"Operation.JobParam.ImageInspect.{item}", a or "(none)", b or "(none)"))
    elif isinstance(param, dict) and here_inspect is not None:
        out.append(("Operation.JobParam.ImageInspect", "(none)", _text(here_inspect)))
    return out


def _input_value(kind: str, text: Optional[str]) -> Optional[str]:
    # INPUT_PREFIX "/" is the whole bucket; whether CI echoes it as "/" or "" is not published (inference): same.
    return text[1:] if kind == "Prefix" and text and text.startswith("/") else text


def _shown_interval(value: object) -> str:
    if not isinstance(value, dict):
        return "(none)"
    return f"{_text(value.get('Start'))}..{_text(value.get('End'))}"


def check_found_job(found: JobDetail, body: JobBody) -> JobDetail:
    """The found job, if it does what `body` asks; JobMismatchError naming each difference and the fix if not."""
    differences = job_differences(found, body)
    if differences:
        listed = "; ".join(f"{name} is {there!r} there, {here!r} here" for name, there, here in differences)
        raise JobMismatchError(
            f"job {found.Name} ({found.JobId}) already exists under the name this run would use, but {listed}: the "
            "work this run means is NOT done by it. The settings changed since that job was made: use a new "
            "RULE_NAME or JOB_NAME_PREFIX for them, or let this window pass (the next one gets its own name); to redo "
            f"this window with the new settings, cancel job {found.JobId} first")
    return found


def describe_input(job: JobDetail) -> str:
    """`Prefix=uploads/` etc.: the input CI holds for the job ('' if its answer carried none)."""
    for kind in _INPUT_KINDS:
        if kind in job.Input:
            return f"{kind}={_text(job.Input.get(kind))}"
    return ""


def _ref(job: JobDetail, created: bool, job_input: str, window: Optional[Window]) -> JobRef:
    """The result line; `input` is what CI holds for the job (`job_input` keeps its detail when it says the same)."""
    held = describe_input(job)
    if held and job_input != held and not job_input.startswith(f"{held} ("):
        job_input = held
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


def future_time_refusal(event: TimerEvent, now: datetime) -> str:
    """Why a timer's Time cannot end a window ('' if it can): after this function's own clock plus CLOCK_SKEW.

    A window never ends in the future: a checkpoint there makes every real tick until then 'already covered'."""
    if as_utc(event.time) <= as_utc(now) + CLOCK_SKEW:
        return ""
    return (f"timer Time {format_utc(event.time)} is after this function's clock {format_utc(now)} "
            f"(+{format_duration(CLOCK_SKEW)} allowed skew); no window may end in the future, so nothing was "
            "submitted and no state moved. Fix: invoke with the tick's real Time (a UTC time no later than "
            f"{format_utc(as_utc(now) + CLOCK_SKEW)}), or correct the host clock")


def window_timer(settings: Settings, event: TimerEvent, deps: Deps) -> SubmitResult:
    """One job for the window ending at the tick's Time; the checkpoint moves only after the job exists.

    A Time after the function's clock is refused with a note (a clean skip: SCF retrying the same Time is pointless,
    and a manual `scf invoke` gets the reason as its result). State read back is checked, never obeyed as is:
    see incremental_timer."""
    check_safety(settings)
    rule = rule_of(settings, event)
    refusal = future_time_refusal(event, deps.clock())
    if refusal:
        logs.log("timer_refused", rule=rule, reason=refusal)
        return SubmitResult(trigger="timer", rule=rule, note=refusal)
    store = StateStore(deps.client, settings.state_prefix, deps.clock)
    if settings.window.kind != "incremental":
        window = plan_timer_window(settings, event.time, None)
        assert window is not None
        body = timer_body(settings, rule, window)
        with store.holding(_proposal(deps, body.Name, window, body), lease_ttl(settings, deps.time_limit)):
            result = _timer_result(settings, rule, window, *ensure_job(deps.client, body, deps.sleep))
    else:
        result = incremental_timer(settings, event, deps, rule, store)
    if store.tampered:
        ignored = "; ".join(str(e) for e in store.tampered[:3])
        result = result.model_copy(update={"note": "; ".join(n for n in (result.note, f"ignored: {ignored}") if n)})
    return result


def incremental_timer(settings: Settings, event: TimerEvent, deps: Deps, rule: str,
                      store: StateStore) -> SubmitResult:
    """The window from the checkpoint to the tick's Time, under the claim named after that checkpoint.

    A checkpoint that fails check_checkpoint (forged, or naming a job CI does not hold) is read as none: the rule
    plans as on a first run, [Time - FIRST_RUN_LOOKBACK, Time). Refusing instead would let one forged object stop
    the rule for good (the 2099 case); trusting it skips or rewinds windows. A first-run window is bounded by a
    setting the deployer chose, so a forger cannot force a larger re-scan than deleting the checkpoint already
    could; it can overlap windows already covered (objects inspected twice) or, after an outage longer than the
    look-back, leave the gap a first run leaves. The forged object is overwritten by the tick's own checkpoint."""
    checkpoint = store.read_checked_checkpoint(rule, settings.job_name_prefix)
    check = timer_claim_check(settings, rule, event.time)
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
        with store.holding(proposal, lease_ttl(settings, deps.time_limit), check) as lease:
            # Work from the state as it is now that the claim is ours: a run may have moved the checkpoint meanwhile.
            latest = store.read_checked_checkpoint(rule, settings.job_name_prefix)
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


def timer_claim_check(settings: Settings, rule: str, tick: datetime) -> Callable[[Lease, datetime], str]:
    """Why a stored window claim cannot be one our runs wrote for `rule` ('' if it can), as StateStore.acquire asks.

    A takeover finishes the stored window under the stored name, so both are derived again: the window starts at
    the checkpoint the claim is named after (a first claim spans FIRST_RUN_LOOKBACK), ends by the clock, and the
    name is this rule's name for it. A forged claim could otherwise aim the next job at any window."""
    def problem(lease: Lease, now: datetime) -> str:
        start, end = lease.window_start, lease.window_end
        if start is None or end is None or as_utc(start) >= as_utc(end):
            return "holds no window a timer claim has"
        start, end = as_utc(start), as_utc(end)
        named = lease.lease_id.split("@", 1)[-1]
        if named == "first":
            if end - start != settings.first_run_lookback:
                return (f"holds a first window of {format_duration(end - start)}, not FIRST_RUN_LOOKBACK "
                        f"{format_duration(settings.first_run_lookback)}")
            if end < as_utc(tick) - FIRST_CLAIM_HORIZON:
                return (f"holds a first window ending at {format_utc(end)}, more than "
                        f"{format_duration(FIRST_CLAIM_HORIZON)} before this tick's Time {format_utc(tick)}")
        elif named != compact(start):
            return f"holds a window starting at {format_utc(start)}, not at the checkpoint {named} it is named after"
        if end > as_utc(now) + CLOCK_SKEW:
            return f"holds a window ending at {format_utc(end)}, after this function's clock {format_utc(now)}"
        if lease.job_name != timer_job_name(settings.job_name_prefix, rule, Window(start, end)):
            return f"holds job name {lease.job_name[:160]!r}, not this rule's name for its window"
        return ""

    return problem


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
            skipped.append(SkippedKey(key=shown_key(record.cos.cos_object.key), reason=f"unreadable record: {exc}"))
            continue
        reason = skip_reason(settings, obj)
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
