"""The report use case: every batch job in a window, its outcome, its per-object results, as one summary model."""
from __future__ import annotations

import logging
import time
from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Deque, Dict, Iterator, List, Optional, Set, Tuple, cast

from pydantic import BaseModel, ConfigDict, ValidationError

from lib import coalesce
from lib.client import CiClient, InspectObjectResult, JobDetail, WorkflowExecutionItem
from lib.config import Settings
from lib.duplicates import LiveNames, describe, settle_duplicates
from lib.errors import AppError, CloudApiError, CloudError, PaginationError, TamperedStateError
from lib.jobs import is_our_job
from lib.report_cache import NewResults, PreviousResults, cache_key, cacheable
from lib.state import Checkpoint, check_checkpoint
from lib.windows import as_utc, floor_second, format_ci_time, format_duration, parse_ci_time

logger = logging.getLogger(__name__)

JOB_TYPES = ("Job", "Workflow")  # the list API returns one Type per call and defaults to Workflow
STUCK_STATES = frozenset({"Submitted", "Running"})
MAX_LISTED_JOBS = 100  # failed / stuck jobs, and jobs with notable objects, listed by id; totals stay exact
MAX_OBJECTS_PER_JOB = 100
MAX_NOTES = 20
MAX_UNREAD_JOBS_NAMED = 5  # jobs whose per-object results failed, named in the note; the count stays exact
MAX_BATCHES_LISTED = 20  # coalesced-upload batch jobs shown with their uploads (the newest); the count stays exact
BATCH_KEYS_SHOWN = 3
PENDING_TOO_LONG = timedelta(hours=1)  # uploads waiting longer than this for a batch job make the report a problem

Progress = Callable[[str], None]


class _Strict(BaseModel):
    # We own the report's shape: unknown fields are a bug, and a summary never changes after it is built.
    model_config = ConfigDict(extra="forbid", frozen=True)


class CountRow(_Strict):
    """How many jobs of one Type and Tag (Job) or workflow (Workflow) ended in one state."""

    type: str
    group: str
    state: str
    count: int


class JobLine(_Strict):
    """One failed or stuck batch job, with what CI said about it."""

    job_id: str
    name: str
    type: str
    group: str
    state: str
    code: str = ""
    message: str = ""
    created: Optional[datetime] = None
    age_seconds: Optional[int] = None


class ObjectLine(_Strict):
    """One object a batch job flagged as suspicious or failed on, and what was done to it."""

    key: str
    state: str
    suspicious: bool = False
    suspicious_type: str = ""
    begin_byte: Optional[int] = None
    end_byte: Optional[int] = None
    suspicious_size: Optional[int] = None
    action: str = ""
    error: str = ""


class JobObjects(_Strict):
    """Per-object results of one batch job that had something to show (first MAX_OBJECTS_PER_JOB objects)."""

    job_id: str
    name: str
    kind: str  # "ImageInspect" (per-object jobs) or "Workflow" (workflow executions)
    by_state: Dict[str, int]
    suspicious: int = 0
    acted: int = 0
    objects: List[ObjectLine] = []
    truncated: bool = False


class ObjectTotals(_Strict):
    """Per-object totals over every job in the window whose per-object results could be read."""

    inspected: int = 0
    by_state: Dict[str, int] = {}
    suspicious: int = 0
    acted: int = 0
    workflow_executions: Dict[str, int] = {}
    jobs_without_results: int = 0
    cached_jobs: int = 0  # jobs whose counters came from the previous report's cache: calls not made


class RuleCheckpoint(_Strict):
    """Where a timer rule's next window starts, read from its checkpoint object."""

    rule: str
    next_window_start: datetime
    last_job_id: str


class UploadBatchLine(_Strict):
    """One batch job of coalesced uploads (UPLOAD_BATCH_SECONDS): its slot, and the uploads its ledger gave it."""

    job_id: str
    name: str
    state: str
    slot: datetime
    batch: int
    uploads: Optional[int] = None  # None: the ledger is gone (lifecycle rule) or unreadable
    keys: List[str] = []  # the first BATCH_KEYS_SHOWN keys
    more_keys: int = 0


class UploadsSummary(_Strict):
    """Coalesced uploads: the window's batch jobs (exact count, the newest listed) and what still waits for one."""

    batch_jobs: int
    batches: List[UploadBatchLine]
    pending: Optional[int] = None  # uploaded keys in no batch job yet; None when it could not be read
    oldest_pending_slot: Optional[datetime] = None


class ReportSummary(_Strict):
    """Everything one report says; JSON-able, and the same for the function, the CLI and every channel."""

    bucket: str
    region: str
    window_start: datetime
    window_end: datetime
    all_jobs: bool
    job_name_prefix: str
    total_jobs: int
    counts: List[CountRow]
    failed_total: int
    failed: List[JobLine]
    stuck_after_seconds: int
    stuck_total: int
    stuck: List[JobLine]
    objects: ObjectTotals
    jobs_with_objects: List[JobObjects]
    checkpoints: List[RuleCheckpoint]
    uploads: Optional[UploadsSummary] = None  # only when uploads are coalesced or the window holds batch jobs
    notes: List[str]
    complete: bool = True
    api_calls: int
    failed_share: float
    fail_above: Optional[float] = None
    failing: bool
    problem: bool


# --- pure pieces -------------------------------------------------------------------------------------

def group_of(job: JobDetail) -> str:
    """The Tag of a Job-type job (ImageInspect, …) or the workflow ids of a Workflow-type one."""
    if job.Type == "Workflow":
        return ",".join(job.workflow_ids) or "-"
    return job.inspect_tag or "-"


def age_of(job: JobDetail, now: datetime) -> Optional[timedelta]:
    created = _created(job)
    return None if created is None else as_utc(now) - created


def is_stuck(job: JobDetail, now: datetime, stuck_after: timedelta) -> bool:
    """Submitted or Running for longer than stuck_after (strictly), counted from its creation."""
    age = age_of(job, now)
    return job.State in STUCK_STATES and age is not None and age > stuck_after


def in_window(job: JobDetail, start: datetime, end: datetime) -> bool:
    """Created in [start, end) at whole seconds; a job whose creation time CI did not give is kept (the server
    filtered it).

    The batch-job list documents startCreationTime as inclusive (大于等于) and endCreationTime as inclusive too
    (小于等于, cloud.tencent.com/document/product/436/71518), so a job created on the end second comes back in
    this report's list and in the next one's: it is left to the next report, which starts on that second, and so
    is counted once. Bounds are whole seconds because CreationTime and the list bounds carry no finer time."""
    created = _created(job)
    return created is None or floor_second(start) <= created < floor_second(end)


def is_failing(failed: int, total: int, fail_above: Optional[float]) -> bool:
    return fail_above is not None and total > 0 and failed / total > fail_above


def _created(job: JobDetail) -> Optional[datetime]:
    try:
        return parse_ci_time(job.CreationTime)
    except ValueError:
        return None


def _line(job: JobDetail, now: datetime) -> JobLine:
    age = age_of(job, now)
    return JobLine(job_id=job.JobId, name=job.Name, type=job.Type, group=group_of(job), state=job.State,
                   code=job.Code, message=job.Message, created=_created(job),
                   age_seconds=int(age.total_seconds()) if age is not None else None)


def _action(result: InspectObjectResult) -> str:
    if not (result.action_code or result.action_message):
        return ""
    return " ".join(p for p in (result.action_code, result.action_message) if p)


# --- the use case --------------------------------------------------------------------------------------

@dataclass
class _Tally:
    """What a run accumulates while it streams pages: counters and capped lists, never every job."""

    counts: Counter = field(default_factory=Counter)
    seen: Set[str] = field(default_factory=set)
    failed_total: int = 0
    failed: List[JobLine] = field(default_factory=list)
    stuck_total: int = 0
    stuck: List[JobLine] = field(default_factory=list)
    object_states: Counter = field(default_factory=Counter)
    executions: Counter = field(default_factory=Counter)
    inspected: int = 0
    suspicious: int = 0
    acted: int = 0
    jobs_without_results: int = 0
    jobs_with_objects: List[JobObjects] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    api_calls: int = 0
    unavailable: Dict[str, str] = field(default_factory=dict)  # per-object kind -> why its calls were refused
    unread: Set[str] = field(default_factory=set)  # response elements already noted as not understood
    out_of_time: bool = False  # the deadline passed: no more per-object reads are dispatched
    noted_out_of_time: bool = False
    incomplete: bool = False
    cached: Optional[PreviousResults] = None  # the previous report's cache (lib.report_cache)
    keep: Optional[NewResults] = None  # this report's cache: the finished clean jobs of its window
    cached_jobs: int = 0
    unread_jobs: int = 0  # jobs whose per-object reads still failed after the client's retries
    unread_named: List[str] = field(default_factory=list)
    unreadable_results: int = 0  # single per-object results that could not be read; their jobs' others counted
    unreadable_named: List[str] = field(default_factory=list)
    first_read_error: str = ""
    batch_jobs: int = 0
    tampered: int = 0  # state objects that failed a check (lib.errors.TamperedStateError): ignored and reported
    recent_batches: Deque[Tuple[JobDetail, datetime, int]] = field(default_factory=lambda: deque(maxlen=MAX_BATCHES_LISTED))

    def call(self, _page: int = 0) -> None:
        self.api_calls += 1

    def note(self, text: str) -> None:
        if len(self.notes) < MAX_NOTES:
            self.notes.append(text)

    def tampered_state(self, error: Exception) -> None:
        """A state object failed a check: a problem worth a notification, and never an instruction."""
        self.tampered += 1
        self.note(f"tampered or foreign state ignored: {error}")

    def unrecognised(self, elements: Tuple[str, ...]) -> None:
        """Elements of a workflow-execution response this client does not read: said once each, never a silent 0."""
        new = [e for e in elements if e not in self.unread]
        if not new:
            return
        self.unread.update(new)
        self.incomplete = True
        self.note(f"workflow executions: the service answered with element(s) {', '.join(new)} that this version "
                  "does not read; execution counts may be incomplete")

    def add_failed(self, line: JobLine) -> None:
        self.failed_total += 1
        if len(self.failed) < MAX_LISTED_JOBS:
            self.failed.append(line)

    def add_stuck(self, line: JobLine) -> None:
        self.stuck_total += 1
        if len(self.stuck) < MAX_LISTED_JOBS:
            self.stuck.append(line)


def connections_needed(settings: Settings) -> int:
    """The report client's connection pool: one per reader thread and one for the listing thread."""
    return settings.report_concurrency + 1


def build_report(settings: Settings, client: CiClient, end: datetime, *, lookback: Optional[timedelta] = None,
                 progress: Optional[Progress] = None, deadline: Optional[float] = None,
                 monotonic: Callable[[], float] = time.monotonic) -> ReportSummary:
    """List every batch job created in [end - lookback, end) (both Types, all pages) and summarise it.

    Raises CloudError or PaginationError only when the job list itself cannot be read: without it there is no
    report. Per-object results and checkpoints that cannot be read become notes instead, and so does running
    past `deadline` (a monotonic time): the rest of the jobs are counted without their per-object results.
    """
    end = floor_second(end)  # the list bounds are whole seconds: the window is too, so reports tile exactly
    start = floor_second(end - (lookback or settings.report_lookback))
    tally = _Tally()
    _load_cache(client, settings, tally)
    live = LiveNames()
    with _PerObjectReads(client, settings.report_concurrency, tally) as reads:
        for job in _jobs_in_window(settings, client, start, end, tally, progress):
            _count_job(job, end, settings.report_stuck_after, tally)
            if job.live:
                live.add(job)
            batch = coalesce.batch_of_job(settings.job_name_prefix, job.Name)
            if batch is not None:
                tally.batch_jobs += 1
                tally.recent_batches.append((job, *batch))
            if job.State == "Submitted":  # a job that has not started has spawned nothing to list
                continue
            if deadline is not None and not tally.out_of_time and monotonic() > deadline:
                tally.out_of_time = True  # in-flight reads still finish; nothing more is dispatched
            reads.add(job)
    _note_unread_jobs(tally)
    _save_cache(client, settings, tally)
    total = len(tally.seen)
    duplicates = settle_duplicates(client, live.twins(), settings.report_cancel_duplicates, settings.job_name_prefix)
    for duplicate in duplicates:
        tally.note(describe(duplicate))
    _older_stuck_jobs(settings, client, start, end, tally)
    checkpoints = _read_checkpoints(client, settings.state_prefix, tally, settings.job_name_prefix, end)
    uploads = _uploads(settings, client, end, tally) if settings.upload_batch_seconds or tally.batch_jobs else None
    waiting_long = uploads is not None and uploads.oldest_pending_slot is not None \
        and end - uploads.oldest_pending_slot > PENDING_TOO_LONG
    failing = is_failing(tally.failed_total, total, settings.report_fail_above)
    objects = ObjectTotals(inspected=tally.inspected, by_state=dict(sorted(tally.object_states.items())),
                           suspicious=tally.suspicious, acted=tally.acted,
                           workflow_executions=dict(sorted(tally.executions.items())),
                           jobs_without_results=tally.jobs_without_results, cached_jobs=tally.cached_jobs)
    complete = not (tally.out_of_time or tally.incomplete or tally.unavailable)
    # An incomplete report may be hiding a flagged image (issue 22): it is a problem, so on-problem still notifies.
    problem = bool(duplicates or waiting_long or tally.tampered or tally.failed_total or tally.stuck_total or tally.suspicious or failing
                   or tally.object_states.get("Failed") or tally.executions.get("Failed") or not complete)
    return ReportSummary(
        bucket=settings.bucket, region=settings.region, window_start=start, window_end=end,
        all_jobs=settings.report_all_jobs, job_name_prefix=settings.job_name_prefix, total_jobs=total,
        counts=[CountRow(type=t, group=g, state=s, count=n) for (t, g, s), n in sorted(tally.counts.items())],
        failed_total=tally.failed_total, failed=tally.failed,
        stuck_after_seconds=int(settings.report_stuck_after.total_seconds()),
        stuck_total=tally.stuck_total, stuck=tally.stuck, objects=objects,
        jobs_with_objects=tally.jobs_with_objects, checkpoints=checkpoints, uploads=uploads, notes=tally.notes,
        complete=complete,
        api_calls=tally.api_calls, failed_share=round(tally.failed_total / total, 4) if total else 0.0,
        fail_above=settings.report_fail_above, failing=failing, problem=problem,
    )


def _jobs_in_window(settings: Settings, client: CiClient, start: datetime, end: datetime, tally: _Tally,
                    progress: Optional[Progress]) -> Iterator[JobDetail]:
    """Both Types, every state, every page, each JobId once; only our jobs unless REPORT_ALL_JOBS."""
    for job_type in JOB_TYPES:

        def on_page(page: int, job_type: str = job_type) -> None:
            tally.call()
            if progress is not None:
                progress(f"listing {job_type} jobs: page {page} ({len(tally.seen)} in the report so far)")

        for job in client.iter_jobs(job_type, on_page=on_page, States="All", OrderByTime="Asc",
                                    StartCreationTime=format_ci_time(start), EndCreationTime=format_ci_time(end)):
            if job.JobId in tally.seen or not _in_scope(settings, job) or not in_window(job, start, end):
                continue
            tally.seen.add(job.JobId)
            yield job


def _older_stuck_jobs(settings: Settings, client: CiClient, start: datetime, end: datetime, tally: _Tally) -> None:
    """Jobs created before the window and still Submitted/Running: stuck for days, they must not drop out of sight.

    One filtered list call per Type (more only if hundreds are stuck); they join the stuck list, not the counts."""
    for job_type in JOB_TYPES:
        for job in client.iter_jobs(job_type, on_page=tally.call, States=",".join(sorted(STUCK_STATES)),
                                    OrderByTime="Asc", EndCreationTime=format_ci_time(start)):
            if job.JobId in tally.seen or not _in_scope(settings, job) or in_window(job, start, end):
                continue
            tally.seen.add(job.JobId)
            if is_stuck(job, end, settings.report_stuck_after):
                tally.add_stuck(_line(job, end))


def _in_scope(settings: Settings, job: JobDetail) -> bool:
    """Our jobs (named JOB_NAME_PREFIX-*), or every job with REPORT_ALL_JOBS."""
    return settings.report_all_jobs or is_our_job(job.Name, settings.job_name_prefix)


def _count_job(job: JobDetail, now: datetime, stuck_after: timedelta, tally: _Tally) -> None:
    tally.counts[(job.Type, group_of(job), job.State or "-")] += 1
    if job.State == "Failed":
        tally.add_failed(_line(job, now))
    elif is_stuck(job, now, stuck_after):
        tally.add_stuck(_line(job, now))


# per-object kind -> what a report calls it when the service refuses those calls
_UNAVAILABLE = {"ImageInspect": "per-object ImageInspect results", "Workflow": "workflow executions"}


@dataclass
class _JobRead:
    """One job's per-object results as a reader thread computed them; only the calling thread merges it."""

    kind: str
    states: Counter = field(default_factory=Counter)
    lines: List[ObjectLine] = field(default_factory=list)
    suspicious: int = 0
    acted: int = 0
    calls: int = 0
    unrecognised: List[Tuple[str, ...]] = field(default_factory=list)
    refused: str = ""  # the service refused this kind of call (4xx): why
    failed: str = ""  # this job's reads still failed after the client's retries: why
    out_of_time: bool = False  # not read: dispatched after the deadline
    cached: bool = False  # not read: the previous report's cache holds its counters
    unreadable: int = 0  # results whose XML could not be read even leniently (each costs only itself)

    def call(self, _page: int = 0) -> None:
        self.calls += 1


class _PerObjectReads:
    """Per-object reads of the listed jobs, `concurrency` at a time, merged into the tally in listing order.

    At most 2 × concurrency jobs wait in the window, so memory stays flat however many jobs the window holds.
    The first job of each kind is read alone: a refusal (4xx) is then asked once, not once per thread."""

    def __init__(self, client: CiClient, concurrency: int, tally: _Tally) -> None:
        self.client = client
        self.tally = tally
        self.limit = 2 * concurrency if concurrency > 1 else 1
        self.pool = ThreadPoolExecutor(concurrency, thread_name_prefix="report-read") if concurrency > 1 else None
        self.window: deque = deque()  # (job, future of its _JobRead), in listing order
        self.probed: Set[str] = set()
        self.refused: Dict[str, str] = {}  # kind -> why; written by readers (dict.setdefault is atomic)

    def __enter__(self) -> _PerObjectReads:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                while self.window:
                    self._merge_oldest()
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True, cancel_futures=exc[0] is not None)  # a failed listing stops here

    def add(self, job: JobDetail) -> None:
        """Dispatch one job's reads (or record why it is not read); merge the oldest ones once the window is full."""
        kind = job.per_object_kind
        cached = self.tally.cached.get(job.JobId, job.EndTime) if self.tally.cached is not None else None
        if cached is not None and kind in _READERS:  # costs no call, so past the deadline too
            self._push(job, _done(_JobRead(kind=kind, states=cached, cached=True)))
        elif self.tally.out_of_time:
            self._push(job, _done(_JobRead(kind=kind, out_of_time=True)))
        elif kind in _READERS:
            if kind == "ImageInspect":
                self.client.media_queue_id(on_call=self.tally.call)  # once, before any reader needs it
            if self.pool is None or kind not in self.probed:
                self.probed.add(kind)
                self._push(job, _done(_read_job(self.client, job, self.refused)))
            else:
                self._push(job, self.pool.submit(_read_job, self.client, job, self.refused))
        while len(self.window) >= self.limit:
            self._merge_oldest()

    def _push(self, job: JobDetail, read: Future[_JobRead]) -> None:
        self.window.append((job, read))

    def _merge_oldest(self) -> None:
        job, read = self.window.popleft()
        _merge(job, read.result(), self.tally)


def _done(read: _JobRead) -> Future[_JobRead]:
    future: Future = Future()
    future.set_result(read)
    return future


def _read_job(client: CiClient, job: JobDetail, refused: Dict[str, str]) -> _JobRead:
    """Read every page of one job's per-object results (runs on a reader thread; touches no shared state but
    `refused`)."""
    read = _JobRead(kind=job.per_object_kind)
    if read.kind in refused:  # another reader was refused meanwhile: the refusal would repeat
        read.refused = refused[read.kind]
        return read
    try:
        _READERS[read.kind](client, job, read)
    except (CloudError, PaginationError) as exc:
        if _refusal(exc):
            read.refused = refused.setdefault(read.kind, str(exc))
        else:
            read.failed = str(exc)
    return read


def _merge(job: JobDetail, read: _JobRead, tally: _Tally) -> None:
    """Add one job's read to the tally: all of its pages, or none of them (it is then counted without results)."""
    tally.api_calls += read.calls
    for elements in read.unrecognised:
        tally.unrecognised(elements)
    if read.out_of_time:
        if not tally.noted_out_of_time:
            tally.noted_out_of_time = True
            tally.note("per-object results stop here: the function's time limit is near; the remaining jobs are "
                       "counted without them")
        tally.jobs_without_results += 1
    elif read.refused:
        tally.jobs_without_results += 1
        if read.kind not in tally.unavailable:  # the first refusal will repeat for every job: say it once
            tally.unavailable[read.kind] = read.refused
            tally.note(f"{_UNAVAILABLE[read.kind]} unavailable: {read.refused}; showing batch-level counts only")
    elif read.failed:
        tally.jobs_without_results += 1
        tally.unread_jobs += 1
        tally.first_read_error = tally.first_read_error or read.failed
        if len(tally.unread_named) < MAX_UNREAD_JOBS_NAMED:
            tally.unread_named.append(job.JobId)
    else:
        if read.unreadable:
            tally.unreadable_results += read.unreadable
            if len(tally.unreadable_named) < MAX_UNREAD_JOBS_NAMED:
                tally.unreadable_named.append(job.JobId)
        if read.cached:
            tally.cached_jobs += 1
        if tally.keep is not None and not read.unreadable and (read.cached or cacheable(job.State, job.EndTime, read.states,
                                                                bool(read.lines or read.unrecognised))):
            tally.keep.add(job.JobId, job.EndTime, read.states)
        if read.kind == "ImageInspect":
            tally.inspected += sum(read.states.values())
            tally.object_states.update(read.states)
            tally.suspicious += read.suspicious
            tally.acted += read.acted
        else:
            tally.executions.update(read.states)
        _keep_job_objects(job, read.kind, read.states, read.lines, read.suspicious, read.acted, tally)


def _load_cache(client: CiClient, settings: Settings, tally: _Tally) -> None:
    """The previous report's cache; a missing one is normal, an unreadable one a note (every job is then read)."""
    key = cache_key(settings.state_prefix)
    tally.keep = NewResults(settings.bucket)
    try:
        tally.call()  # listed first: a GET of a missing key would log an SDK error on every first report
        if key not in client.list_keys(key):
            return
        tally.call()
        raw = client.get_object(key)
        if raw is not None:
            tally.cached = PreviousResults.parse(raw, settings.bucket)
    except (CloudError, ValueError) as exc:
        tally.note(f"the per-object results cache {key} was not used ({exc}); every finished job was read")


def _save_cache(client: CiClient, settings: Settings, tally: _Tally) -> None:
    """This report's cache, replacing the last one: only its window's jobs, so it never grows past one window."""
    found, tally.cached = tally.cached is not None, None  # done with: free it before the new one is serialised
    keep, tally.keep = tally.keep, None
    if keep is None or not (keep.count or found):
        return
    key = cache_key(settings.state_prefix)
    try:
        tally.call()
        client.put_object(key, keep.dump(), "application/json")
    except CloudError as exc:  # the report is still right; the next one just reads more
        tally.note(f"the per-object results cache {key} could not be written: {exc}")


def _note_unread_jobs(tally: _Tally) -> None:
    """One note for every job whose per-object reads failed after retries, one for single results that could not be
    read; the report is then incomplete."""
    if tally.unreadable_results:
        tally.incomplete = True
        jobs = ", ".join(tally.unreadable_named)
        tally.note(f"{tally.unreadable_results} per-object result(s) could not be read (jobs {jobs}"
                   f"{' and more' if len(tally.unreadable_named) >= MAX_UNREAD_JOBS_NAMED else ''}); whether those "
                   "objects were flagged is unknown; every other result of those jobs is counted")
    if not tally.unread_jobs:
        return
    tally.incomplete = True
    more = tally.unread_jobs - len(tally.unread_named)
    named = ", ".join(tally.unread_named) + (f" and {more} more" if more > 0 else "")
    tally.note(f"per-object results of {tally.unread_jobs} job(s) could not be read after retries ({named}); they "
               f"are counted without them; first error: {tally.first_read_error}")


def read_job_objects(client: CiClient, job: JobDetail) -> Tuple[JobObjects, List[str]]:
    """One job's per-object results read by the report's own readers (for `jobs get`), and the notes they left.

    Unlike the report's list, a job with nothing notable still comes back, with its counts and no objects."""
    tally = _Tally()
    with _PerObjectReads(client, 1, tally) as reads:
        reads.add(job)
    _note_unread_jobs(tally)
    if tally.jobs_with_objects:
        return tally.jobs_with_objects[0], tally.notes
    states = tally.object_states or tally.executions
    return JobObjects(job_id=job.JobId, name=job.Name, kind=job.per_object_kind, by_state=dict(sorted(states.items())),
                      suspicious=tally.suspicious, acted=tally.acted), tally.notes


def _refusal(exc: AppError) -> bool:
    """Whether a failed per-object call is the service refusing that kind of call (and so would refuse them all)."""
    return isinstance(exc, CloudApiError) and 400 <= exc.status < 500  # e.g. insisting on queueId (reference §12)


def _read_inspect_results(client: CiClient, job: JobDetail, read: _JobRead) -> None:
    for result in client.iter_media_jobs(job.JobId, "ImageInspect", on_page=read.call):
        if result.unreadable:
            read.unreadable += 1
            continue
        read.states[result.state or "-"] += 1
        action = _action(result)
        read.suspicious += result.suspicious
        read.acted += bool(result.suspicious and action)
        # Keep one past the cap so the job can say it was truncated.
        if (result.suspicious or result.state == "Failed") and len(read.lines) <= MAX_OBJECTS_PER_JOB:
            read.lines.append(ObjectLine(
                key=result.key, state=result.state, suspicious=result.suspicious,
                suspicious_type=result.suspicious_type, begin_byte=result.begin_byte, end_byte=result.end_byte,
                suspicious_size=result.suspicious_size, action=action,
                error="" if result.state != "Failed" else f"{result.code} {result.message}".strip()))


def _read_executions(client: CiClient, job: JobDetail, read: _JobRead) -> None:
    for workflow_id in job.workflow_ids:
        execution: WorkflowExecutionItem
        for execution in client.iter_workflow_executions(job.JobId, workflow_id, on_page=read.call,
                                                         on_unrecognised=read.unrecognised.append):
            read.states[execution.State or "-"] += 1
            if execution.State == "Failed" and len(read.lines) <= MAX_OBJECTS_PER_JOB:
                read.lines.append(ObjectLine(key=execution.Object, state=execution.State,
                                             error=f"workflow {execution.WorkflowId} run {execution.RunId}"))


_READERS: Dict[str, Callable[[CiClient, JobDetail, _JobRead], None]] = {
    "ImageInspect": _read_inspect_results, "Workflow": _read_executions}


def _keep_job_objects(job: JobDetail, kind: str, states: Counter, lines: List[ObjectLine], suspicious: int,
                      acted: int, tally: _Tally) -> None:
    # Only jobs with something to look at are listed, so ten thousand clean jobs cost no memory here.
    if not lines or len(tally.jobs_with_objects) >= MAX_LISTED_JOBS:
        return
    tally.jobs_with_objects.append(JobObjects(
        job_id=job.JobId, name=job.Name, kind=kind, by_state=dict(sorted(states.items())), suspicious=suspicious,
        acted=acted, objects=lines[:MAX_OBJECTS_PER_JOB], truncated=len(lines) > MAX_OBJECTS_PER_JOB))


class _Counted:
    """A client whose every call adds to the report's count, for readers in other modules (lib.coalesce)."""

    def __init__(self, client: CiClient, tally: _Tally) -> None:
        self._client, self._tally = client, tally

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            self._tally.call()
            return attr(*args, **kwargs)

        return counted


def _uploads(settings: Settings, client: CiClient, end: datetime, tally: _Tally) -> UploadsSummary:
    """Which uploads went into the newest batch jobs (their ledgers), and how many still wait (lib.coalesce).

    State objects that fail a check (forged records, ledgers, a checkpoint after the clock) are counted through
    tally.tampered_state: those met here and those a flush marked under refused/ within the report's look-back."""
    counted = cast(CiClient, _Counted(client, tally))
    refused: Dict[str, TamperedStateError] = {}
    lines = []
    for job, slot, n in tally.recent_batches:
        try:
            ledger = coalesce.read_ledger(counted, settings, slot, n)
            if ledger is not None and ledger.job_id and ledger.job_id != job.JobId:
                raise TamperedStateError(f"batch ledger of slot {format_ci_time(slot)} batch {n} names job "
                                         f"{ledger.job_id!r}, not CI's job {job.JobId} of its name; it is ignored")
        except TamperedStateError as exc:
            refused.setdefault(f"ledger {format_ci_time(slot)} {n}", exc)
            ledger = None
        keys = ledger.keys if ledger is not None else []
        lines.append(UploadBatchLine(job_id=job.JobId, name=job.Name, state=job.State, slot=slot, batch=n,
                                     uploads=len(ledger.records) if ledger is not None else None,
                                     keys=keys[:BATCH_KEYS_SHOWN], more_keys=max(0, len(keys) - BATCH_KEYS_SHOWN)))
    pending: Optional[int] = None
    oldest: Optional[datetime] = None
    if settings.upload_batch_seconds:
        try:
            found: List[coalesce.Refusal] = []
            waiting = coalesce.pending_uploads(counted, settings, now=end, refused=found)
            found += coalesce.read_refusals(counted, settings, end - settings.report_lookback)
        except AppError as exc:
            tally.note(f"uploads waiting for a batch job could not be counted: {exc}")
        else:
            for item in found:
                refused.setdefault(str(item.error), item.error)  # a flush's marker repeats what this read found
            pending = len(waiting)
            slots = [coalesce.parse_slot(s) for ss in waiting.values() for s in ss]
            oldest = min((s for s in slots if s is not None), default=None)
            if oldest is not None and end - oldest > PENDING_TOO_LONG:
                tally.note(f"{pending} uploaded key(s) have waited for a batch job since {format_ci_time(oldest)}: "
                           "a flush runs on the next upload event or submit timer tick; is the submit timer "
                           "deployed and enabled?")
    for error in refused.values():
        tally.tampered_state(error)
    return UploadsSummary(batch_jobs=tally.batch_jobs, batches=lines, pending=pending, oldest_pending_slot=oldest)


def _read_checkpoints(client: CiClient, state_prefix: str, tally: _Tally, job_name_prefix: str,
                      end: datetime) -> List[RuleCheckpoint]:
    """Each timer rule's checkpoint (small JSON objects); unreadable ones become a note, not a failed report.

    Each is checked as the submit run checks it (lib.state.check_checkpoint, one job GET each): a tampered one is
    left out and made a problem through tally.tampered_state. The clock it is checked against is the later of the
    report's end and the real time, so a report over an earlier window never flags today's checkpoint."""
    prefix = f"{state_prefix}checkpoints/"
    now = max(as_utc(end), datetime.now(timezone.utc))
    out: List[RuleCheckpoint] = []
    try:
        tally.call()
        keys = [k for k in client.list_keys(prefix) if k.endswith(".json")]
        for key in sorted(keys):
            tally.call()
            raw = client.get_object(key)
            if raw is None:
                continue
            try:
                cp = Checkpoint.model_validate_json(raw)
            except ValidationError:
                tally.incomplete = True
                tally.note(f"checkpoint {key} is unreadable")
                continue
            try:
                tally.call()
                check_checkpoint(client, cp, key[len(prefix):-len(".json")], job_name_prefix, now)
            except TamperedStateError as exc:
                tally.tampered_state(exc)
                continue
            out.append(RuleCheckpoint(rule=cp.rule, next_window_start=as_utc(cp.end), last_job_id=cp.job_id))
    except CloudError as exc:
        tally.incomplete = True
        tally.note(f"checkpoints under {prefix} could not be read: {exc}")
    return out


def headline(summary: ReportSummary) -> Tuple[str, str]:
    """A one-line verdict and its status word (FAILING / PROBLEM / OK) for messages and tables."""
    status = "FAILING" if summary.failing else "PROBLEM" if summary.problem else "OK"
    jobs = summary.total_jobs
    parts = [f"{jobs} job{'' if jobs == 1 else 's'}", f"{summary.failed_total} failed", f"{summary.stuck_total} stuck"]
    if summary.objects.suspicious:
        n = summary.objects.suspicious
        parts.append(f"{n} image{'' if n == 1 else 's'} flagged")
    # Objects a job could not process make the report a problem too: the headline must say why.
    failed_objects = summary.objects.by_state.get("Failed", 0) + summary.objects.workflow_executions.get("Failed", 0)
    if failed_objects:
        parts.append(f"{failed_objects} object{'' if failed_objects == 1 else 's'} failed")
    if not summary.complete:  # results are missing: what is counted may not be all there is
        parts.append("INCOMPLETE: not everything could be read, see notes")
    window = f"last {format_duration(summary.window_end - summary.window_start)}"
    return status, f"{status}: {', '.join(parts)} ({window})"
