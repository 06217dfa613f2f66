"""What every submit run shares: its side effects, how long its claims last, the safety catch, its result."""

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Callable, Dict, List, Optional

from pydantic import BaseModel, ConfigDict

from lib.client import CiClient, JobDetail
from lib.config import Settings
from lib.errors import SafetyError
from lib.spend import Estimate
from lib.windows import Window, format_ci_time

if TYPE_CHECKING:
    from lib.plans import HeldPlan
    from lib.submit.coalesce import FlushMemory
from lib.submit.ensure import describe_input

# SCF retries a failed (or killed) run a minute later: a claim must lapse before that, but never while the run lives.
LEASE_MARGIN = timedelta(seconds=30)

DEFAULT_LEASE = timedelta(seconds=900) + LEASE_MARGIN  # 900 s is the longest an event function may run

# Why a path leaves a key out of its job (lib.review): the result's skipped, an inventory run's dropped, the logs.
REVIEWED = "restored by an operator (flagged restore) with this ETag"


@dataclass
class Deps:
    """The side effects a submit run uses, passed in so tests can give fakes."""

    client: CiClient
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))
    sleep: Callable[[float], None] = time.sleep
    owner: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    time_limit: Optional[float] = None  # seconds SCF lets this run live (context time_limit_in_ms)
    memory: Optional["FlushMemory"] = None  # coalescing mode: this warm instance's (None: lib.submit.coalesce.INSTANCE)


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
    estimate: Optional[Estimate] = None  # its count (and how it was counted) and price, from lib.submit.gate


class HeldJob(BaseModel):
    """A job a cap stopped: the plan it waits in (or what became of it), for the result and the logs."""

    model_config = ConfigDict(frozen=True, defer_build=True)  # only a held job builds it
    plan_id: str
    name: str
    status: str
    estimate: Estimate
    reason: str
    note: str

    @classmethod
    def of(cls, plan: "HeldPlan") -> "HeldJob":
        from lib.submit.gate import held_note

        return cls(plan_id=plan.plan_id, name=plan.body.Name, status=plan.status, estimate=plan.estimate,
                   reason=plan.reason, note=held_note(plan))


class SkippedKey(BaseModel):
    model_config = ConfigDict(frozen=True)
    key: str
    reason: str


class InventoryRun(BaseModel):
    """What the result says about the report: which one, how many objects it listed, kept, and why it dropped the rest."""

    model_config = ConfigDict(frozen=True)
    inventory_id: str
    day: Optional[str] = None
    listed: int = 0
    kept: int = 0
    dropped: Dict[str, int] = {}
    skipped_reports: List[str] = []  # older reports never processed: a newer one's window covers theirs


class SubmitResult(BaseModel):
    """What a submit run did, JSON-able for the handler's return value."""

    trigger: str
    rule: Optional[str] = None
    jobs: List[JobRef] = []
    skipped: List[SkippedKey] = []
    note: str = ""
    recorded: int = 0  # coalescing mode: uploads recorded for a later batch job
    late: int = 0  # of those, records that may have missed their slot's first flush (a late marker was left)
    inventory: Optional[InventoryRun] = None  # INPUT_SOURCE=inventory: the report read and its counts
    held: List[HeldJob] = []  # jobs a cap stopped (lib.submit.gate): held as plans, nothing sent


def etag_now(client: CiClient, key: str) -> Optional[str]:
    """The object's ETag as HEAD answers it now, or None when it is gone: ReviewStore.split's `head`."""
    head = client.head_object(key)
    return next((v for k, v in (head or {}).items() if k.lower() == "etag"), None)


def check_safety(settings: Settings) -> None:
    """Refuse a whole-bucket DeleteObject scan unless the user said so explicitly."""
    if settings.deletes_objects and settings.whole_bucket and not settings.allow_delete_whole_bucket:
        raise SafetyError(
            "INSPECT_PROCESS_TYPE=DeleteObject with INSPECT_AUTO_PROCESS=true and INPUT_PREFIX covering the whole "
            "bucket would delete every flagged image in it; set INPUT_PREFIX to a folder, use BackupObject, or set "
            "ALLOW_DELETE_WHOLE_BUCKET=true if that is really what you want")


def job_ref(job: JobDetail, created: bool, job_input: str, window: Optional[Window],
            estimate: Optional[Estimate] = None) -> JobRef:
    """The result line; `input` is what CI holds for the job (`job_input` keeps its detail when it says the same)."""
    held = describe_input(job)
    if held and job_input != held and not job_input.startswith(f"{held} ("):
        job_input = held
    return JobRef(
        job_id=job.JobId, name=job.Name, state=job.State, created=created, input=job_input,
        window_start=format_ci_time(window.start) if window and window.start else None,
        window_end=format_ci_time(window.end) if window else None, estimate=estimate,
    )
