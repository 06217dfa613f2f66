"""The report's shape: the summary model every renderer, the delivery and the CLI read, and its headline."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Dict, List, Optional, Tuple

from pydantic import BaseModel, ConfigDict

from lib.windows import format_duration


class _Strict(BaseModel):
    # We own the report's shape: unknown fields are a bug, and a summary never changes after it is built.
    model_config = ConfigDict(extra="forbid", frozen=True)


class CountRow(_Strict):
    """How many jobs of one Type and Tag (Job) or workflow (Workflow) ended in one state."""

    type: str
    group: str
    state: str
    count: int


class JobSpend(_Strict):
    """A job of the window as the spend ledger counted it before it was sent (lib.spend): objects and estimate."""

    job_id: str
    name: str
    state: str
    objects: int
    cost: Optional[Decimal] = None  # None: unpriced (a Workflow without PRICE_PER_1000_IMAGES)
    currency: str


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
    spend: Optional[JobSpend] = None  # its entry on the spend ledger, when it has one


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
    review: Optional[str] = None  # a flagged image: pending | restored | released; None when not read


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
    created: Optional[datetime] = None  # a review decided after this covers the job's flags (lib.review)


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


class InventoryLine(_Strict):
    """One inventory rule (INPUT_SOURCE=inventory): the report it last processed, counts and jobs, or why none."""

    inventory_id: str
    status: str  # ok | late | none (nothing processed yet) | ignored (stored state refused) | missing | unreadable
    day: Optional[str] = None  # YYYYMMDD of the report processed last
    listed: int = 0
    kept: int = 0
    dropped: Dict[str, int] = {}  # reason: objects
    jobs: int = 0
    job_names: List[str] = []
    processed_at: Optional[datetime] = None
    newest: Optional[str] = None  # the newest complete report in the bucket (None: none, or not read)
    problem: str = ""  # a sentence when the rule needs attention ('' when fine)


class SpendFigures(_Strict):
    """Objects counted for the jobs sent over a period (a UTC day, the month so far) and their estimate, with the
    most the daily caps allow over it (None: no cap)."""

    label: str  # "today 2026-12-07", "this month 2026-12-01 → 2026-12-07"
    days: int
    jobs: int = 0
    objects: int = 0
    cost: Decimal = Decimal(0)  # in Spend.currency
    unpriced_jobs: int = 0
    unpriced_objects: int = 0
    other_currency: Dict[str, int] = {}  # currency: jobs priced in it before PRICE_CURRENCY changed, not in cost
    object_cap: Optional[int] = None  # DAILY_OBJECT_CAP x days
    cost_cap: Optional[Decimal] = None  # DAILY_COST_CAP x days


class SpendDay(_Strict):
    """One UTC day of the ledger, for the trend."""

    day: date
    jobs: int
    objects: int
    cost: Decimal


class PlanLine(_Strict):
    """A held plan (lib.plans): waiting for the operator, or decided (confirmed, declined, expired)."""

    plan_id: str
    kind: str
    job_name: str
    objects: int
    complete: bool  # False: at least `objects`
    method: str
    cost: Optional[Decimal] = None
    currency: str
    reason: str
    held_at: datetime
    expires_at: datetime
    status: str
    decided_at: Optional[datetime] = None
    job_id: Optional[str] = None
    expired_now: bool = False  # expired by this report


class Spend(_Strict):
    """The spend section: the ledger today, this month and per day, the window's jobs on it, and held plans."""

    currency: str
    price_per_1000: Optional[Decimal] = None  # None: jobs are unpriced (a Workflow without PRICE_PER_1000_IMAGES)
    price_source: str
    today: Optional[SpendFigures] = None  # None: the ledger could not be read (a note says why)
    month: Optional[SpendFigures] = None
    days: List[SpendDay] = []  # from the first day with an entry (at most 30 days back) to today
    window_jobs: int = 0  # jobs of the window found on the ledger
    window_objects: int = 0
    window_unmatched: int = 0  # jobs of the window with no entry (sent before the ledger, or not by these functions)
    largest: List[JobSpend] = []  # the window's largest jobs on the ledger
    held: List[PlanLine] = []  # pending plans, newest first
    held_total: int = 0
    decisions: List[PlanLine] = []  # decided in the window, and the plans this report expired
    expired_now: int = 0
    expiry_days: int


class FlaggedReview(_Strict):
    """The flagged images of the report's lists by the operator's decision (`python -m ops flagged`, lib.review)."""

    pending: Optional[int] = None  # None: the review records could not be read (a note says why)
    restored: int = 0
    released: int = 0
    unlisted: int = 0  # flagged images past the per-job lists (their keys are not kept): not checked


# What the headline says about an inventory rule with a problem, by status.
INVENTORY_HEADLINE = {"late": "late", "none": "no report processed yet", "ignored": "stored state ignored",
                      "missing": "not configured", "unreadable": "unreadable", "unprocessed": "report not processed"}


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
    inventories: List[InventoryLine] = []  # one per inventory rule the report function's settings name
    spend: Optional[Spend] = None  # None: the ledger and plans were not read
    review: Optional[FlaggedReview] = None  # None: nothing flagged in the window
    irreversible: str = ""  # lib.irreversible.irreversible_note: this bucket's automatic deletes cannot be undone
    notes: List[str]
    complete: bool = True
    api_calls: int
    failed_share: float
    fail_above: Optional[float] = None
    failing: bool
    problem: bool


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
    for kind in sorted({line.status for line in summary.inventories if line.problem}):
        parts.append(f"inventory {INVENTORY_HEADLINE.get(kind, 'problem')}")
    spend = summary.spend
    if spend is not None and spend.held_total:
        parts.append(f"{spend.held_total} plan{'' if spend.held_total == 1 else 's'} held for confirmation")
    if spend is not None and spend.expired_now:
        parts.append(f"{spend.expired_now} held plan{'' if spend.expired_now == 1 else 's'} expired, never sent")
    if not summary.complete:  # results are missing: what is counted may not be all there is
        parts.append("INCOMPLETE: not everything could be read, see notes")
    window = f"last {format_duration(summary.window_end - summary.window_start)}"
    return status, f"{status}: {', '.join(parts)} ({window})"
