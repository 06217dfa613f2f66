"""What a report run accumulates while it streams pages: counters and capped lists, never every job."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Deque, Dict, List, Optional, Set, Tuple

from lib.client import JobDetail
from lib.report.cache import NewResults, PreviousResults
from lib.report.models import JobLine, JobObjects

MAX_LISTED_JOBS = 100  # failed / stuck jobs, and jobs with notable objects, listed by id; totals stay exact

MAX_NOTES = 20

MAX_UNREAD_JOBS_NAMED = 5  # jobs whose per-object results failed, named in the note; the count stays exact

MAX_BATCHES_LISTED = 20  # coalesced-upload batch jobs shown with their uploads (the newest); the count stays exact


@dataclass
class Tally:
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
    unavailable: Dict[str, str] = field(default_factory=dict)  # per-object kind -> why its calls were refused
    unread: Set[str] = field(default_factory=set)  # response elements already noted as not understood
    out_of_time: bool = False  # the deadline passed: no more per-object reads are dispatched
    noted_out_of_time: bool = False
    incomplete: bool = False
    cached: Optional[PreviousResults] = None  # the previous report's cache (lib.report.cache)
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
