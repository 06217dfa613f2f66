"""Per-object results of the listed jobs, read concurrently and merged into the tally in listing order."""

from __future__ import annotations

from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Set, Tuple

from lib.client import CiClient, JobDetail, WorkflowExecutionItem
from lib.errors import AppError, CloudApiError, CloudError, PaginationError
from lib.report.cache import cacheable
from lib.report.classify import action_of, created_at
from lib.report.models import JobObjects, ObjectLine
from lib.report.tally import MAX_LISTED_JOBS, MAX_UNREAD_JOBS_NAMED, Tally

MAX_OBJECTS_PER_JOB = 100

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
    unrecognised: List[Tuple[str, ...]] = field(default_factory=list)
    refused: str = ""  # the service refused this kind of call (4xx): why
    failed: str = ""  # this job's reads still failed after the client's retries: why
    out_of_time: bool = False  # not read: dispatched after the deadline
    cached: bool = False  # not read: the previous report's cache holds its counters
    unreadable: int = 0  # results whose XML could not be read even leniently (each costs only itself)


class PerObjectReads:
    """Per-object reads of the listed jobs, `concurrency` at a time, merged into the tally in listing order.

    At most 2 × concurrency jobs wait in the window, so memory stays flat however many jobs the window holds.
    The first job of each kind is read alone: a refusal (4xx) is then asked once, not once per thread."""

    def __init__(self, client: CiClient, concurrency: int, tally: Tally) -> None:
        self.client = client
        self.tally = tally
        self.limit = 2 * concurrency if concurrency > 1 else 1
        self.pool = ThreadPoolExecutor(concurrency, thread_name_prefix="report-read") if concurrency > 1 else None
        self.window: deque = deque()  # (job, future of its _JobRead), in listing order
        self.probed: Set[str] = set()
        self.refused: Dict[str, str] = {}  # kind -> why; written by readers (dict.setdefault is atomic)

    def __enter__(self) -> PerObjectReads:
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
                self.client.media_queue_id()  # once, before any reader needs it
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


def _merge(job: JobDetail, read: _JobRead, tally: Tally) -> None:
    """Add one job's read to the tally: all of its pages, or none of them (it is then counted without results)."""
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


def note_unread_jobs(tally: Tally) -> None:
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
    tally = Tally()
    with PerObjectReads(client, 1, tally) as reads:
        reads.add(job)
    note_unread_jobs(tally)
    if tally.jobs_with_objects:
        return tally.jobs_with_objects[0], tally.notes
    states = tally.object_states or tally.executions
    return JobObjects(job_id=job.JobId, name=job.Name, kind=job.per_object_kind, by_state=dict(sorted(states.items())),
                      suspicious=tally.suspicious, acted=tally.acted), tally.notes


def _refusal(exc: AppError) -> bool:
    """Whether a failed per-object call is the service refusing that kind of call (and so would refuse them all)."""
    return isinstance(exc, CloudApiError) and 400 <= exc.status < 500  # e.g. insisting on queueId (reference §12)


def _read_inspect_results(client: CiClient, job: JobDetail, read: _JobRead) -> None:
    for result in client.iter_media_jobs(job.JobId, "ImageInspect"):
        if result.unreadable:
            read.unreadable += 1
            continue
        read.states[result.state or "-"] += 1
        action = action_of(result)
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
        for execution in client.iter_workflow_executions(job.JobId, workflow_id,
                                                         on_unrecognised=read.unrecognised.append):
            read.states[execution.State or "-"] += 1
            if execution.State == "Failed" and len(read.lines) <= MAX_OBJECTS_PER_JOB:
                read.lines.append(ObjectLine(key=execution.Object, state=execution.State,
                                             error=f"workflow {execution.WorkflowId} run {execution.RunId}"))


_READERS: Dict[str, Callable[[CiClient, JobDetail, _JobRead], None]] = {
    "ImageInspect": _read_inspect_results, "Workflow": _read_executions}


def _keep_job_objects(job: JobDetail, kind: str, states: Counter, lines: List[ObjectLine], suspicious: int,
                      acted: int, tally: Tally) -> None:
    # Only jobs with something to look at are listed, so ten thousand clean jobs cost no memory here.
    if not lines or len(tally.jobs_with_objects) >= MAX_LISTED_JOBS:
        return
    tally.jobs_with_objects.append(JobObjects(
        job_id=job.JobId, name=job.Name, kind=kind, by_state=dict(sorted(states.items())), suspicious=suspicious,
        acted=acted, objects=lines[:MAX_OBJECTS_PER_JOB], truncated=len(lines) > MAX_OBJECTS_PER_JOB,
        created=created_at(job)))
