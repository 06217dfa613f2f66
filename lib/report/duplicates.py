"""Live batch jobs of ours that share a name: the one case no lookup prevents, made visible and harmless.

A create that stalls in the network can land after the retry's name lookup (docs/reliability.md), so two live
jobs cover the same window or upload. The oldest is kept; the younger ones are named and, if the setting says
so, cancelled while they can still be stopped."""
from __future__ import annotations

import hashlib
import sys
from datetime import datetime, timezone
from typing import Dict, Iterable, List, NamedTuple, Tuple, Union

from pydantic import BaseModel, ConfigDict

from lib.client import LIVE_STATES, CiClient, JobDetail
from lib.errors import CloudError
from lib.jobs import is_our_job, upload_job_name
from lib.windows import parse_ci_time

CANCELLABLE = frozenset({"Submitted", "Running", "Pause"})
_EARLIEST = datetime.min.replace(tzinfo=timezone.utc)


class DuplicateJobs(BaseModel):
    """One name held by several live jobs: the one kept, the younger ones, and what became of them."""

    model_config = ConfigDict(frozen=True)
    name: str
    kept: str
    younger: Tuple[str, ...]
    cancelled: Tuple[str, ...] = ()
    left: Tuple[str, ...] = ()  # younger jobs not cancelled: the setting is off for them, or they already ended


class LiveJob(NamedTuple):
    """The four fields duplicate detection reads: a report over 20,000 jobs keeps these, not 20,000 JobDetails."""

    Name: str
    JobId: str
    CreationTime: str
    State: str

    @classmethod
    def of(cls, job: JobDetail) -> LiveJob:
        return cls(job.Name, job.JobId, job.CreationTime, job.State)

    @property
    def live(self) -> bool:
        return self.State in LIVE_STATES


Job = Union[JobDetail, LiveJob]


class LiveNames:
    """Live jobs seen so far, one 16-byte name digest each; only a name seen twice keeps its jobs in full.

    At 20,000 jobs a full LiveJob per job (four strings) was 8 MB of the report's 64 MB; find_duplicates over
    `twins()` finds exactly what it finds over every job, since a name held once is never a duplicate."""

    def __init__(self) -> None:
        self._first: Dict[int, Tuple[str, str, str]] = {}  # digest -> JobId, CreationTime, State of its first job
        self._twins: Dict[int, List[LiveJob]] = {}

    def add(self, job: JobDetail) -> None:
        # 128 bits: two different names colliding (and so a wrong cancel) has odds near 2**-100 at 10**7 jobs.
        key = int.from_bytes(hashlib.blake2b(job.Name.encode("utf-8"), digest_size=16).digest(), "big")
        first = self._first.get(key)
        if first is None:
            self._first[key] = (job.JobId, job.CreationTime, sys.intern(job.State))
            return
        self._twins.setdefault(key, [LiveJob(job.Name, *first)]).append(LiveJob.of(job))

    def twins(self) -> List[LiveJob]:
        return [job for group in self._twins.values() for job in group]


def _created(job: Job) -> datetime:
    try:
        return parse_ci_time(job.CreationTime) or _EARLIEST
    except ValueError:
        return _EARLIEST


def find_duplicates(jobs: Iterable[Job]) -> List[DuplicateJobs]:
    """Group live jobs by name; a name held by more than one keeps its oldest (creation time, then JobId)."""
    by_name: Dict[str, Dict[str, Job]] = {}
    for job in jobs:
        if job.live and job.Name:
            by_name.setdefault(job.Name, {})[job.JobId] = job
    found = []
    for name in sorted(by_name):
        same = sorted(by_name[name].values(), key=lambda j: (_created(j), j.JobId))
        if len(same) > 1:
            found.append(DuplicateJobs(name=name, kept=same[0].JobId, younger=tuple(j.JobId for j in same[1:])))
    return found


def should_cancel(mode: str, name: str, upload_prefix: str) -> bool:
    """REPORT_CANCEL_DUPLICATES: `timer` cancels only timer-window jobs, `all` upload jobs too, `off` none."""
    if mode == "all":
        return True
    return mode == "timer" and not name.startswith(upload_prefix)


def cancel_younger(client: CiClient, duplicate: DuplicateJobs, states: Dict[str, str]) -> DuplicateJobs:
    """Cancel each younger job that can still be stopped; one that cannot is left and stays named."""
    cancelled, left = [], []
    for job_id in duplicate.younger:
        if states.get(job_id) not in CANCELLABLE:
            left.append(job_id)
            continue
        try:
            client.cancel_job(job_id)
        except CloudError:
            left.append(job_id)  # it ended meanwhile, or the call failed: the report still names it
            continue
        cancelled.append(job_id)
    return duplicate.model_copy(update={"cancelled": tuple(cancelled), "left": tuple(left)})


def describe(duplicate: DuplicateJobs) -> str:
    text = (f"{len(duplicate.younger) + 1} live jobs share the name {duplicate.name}: kept {duplicate.kept}, "
            f"younger {', '.join(duplicate.younger)}")
    if duplicate.cancelled:
        text += f"; cancelled {', '.join(duplicate.cancelled)}"
    if duplicate.left:
        text += (f"; not cancelled {', '.join(duplicate.left)} (it ended already, or REPORT_CANCEL_DUPLICATES "
                 "leaves it; `jobs cancel JOB_ID` stops a live one)")
    return text


def settle_duplicates(client: CiClient, jobs: Iterable[Job], mode: str, prefix: str) -> List[DuplicateJobs]:
    """Find our live same-name jobs among `jobs` and cancel the younger ones where `mode` allows."""
    ours = [j for j in jobs if is_our_job(j.Name, prefix)]
    states = {j.JobId: j.State for j in ours}
    upload_prefix = upload_job_name(prefix, "")
    return [cancel_younger(client, d, states) if should_cancel(mode, d.name, upload_prefix)
            else d.model_copy(update={"left": d.younger}) for d in find_duplicates(ours)]
