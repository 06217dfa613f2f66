"""Held plans: a job a cap stopped, kept with its body, count and reason until an operator confirms or declines it.

One object per plan, `STATE_PREFIX/plans/<id>.json`, where the id derives from the plan's source (its kind and the
claim its run holds): every run that meets the same source finds the same plan, and a plan read back must recompute
its own id. What a confirm sends is checked again by the path that made it (lib.submit.confirm): a plan is input."""

import hashlib
import re
from datetime import datetime, timedelta
from typing import Callable, List, Literal, Optional, Tuple

from pydantic import BaseModel, ConfigDict, ValidationError

from lib import logs
from lib.client import CiClient
from lib.errors import CloudApiError, TamperedStateError
from lib.events import UploadedObject
from lib.jobs import JobBody
from lib.spend import Count, Estimate, utc_day
from lib.state import Lease
from lib.windows import CLOCK_SKEW, as_utc, compact, format_utc

PlanKind = Literal["timer", "upload", "batch", "inventory"]
PlanStatus = Literal["pending", "confirmed", "declined", "expired"]
_PLAN_ID = re.compile(r"^[0-9a-f]{16}$")
_HISTORY = re.compile(r"^([0-9a-f]{16})-\d{8}T\d{6}Z\.json$")


class PlanSource(BaseModel):
    """Where a held job came from: enough for its path to rebuild the body and finish what holding interrupted."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)  # built when a plan is met: a cold tick
    # without one never pays for it (docs/benchmarks.md, cold invocation)
    kind: PlanKind
    claim: str  # the lease its run held: timer `rule@<checkpoint|first>`, upload the job name, batch/inventory theirs
    rule: Optional[str] = None
    window_start: Optional[datetime] = None
    window_end: Optional[datetime] = None
    uploads: Tuple[UploadedObject, ...] = ()  # upload: the records the job's name and manifest derive from
    slot: Optional[datetime] = None  # batch
    batch: Optional[int] = None  # batch
    inventory_id: Optional[str] = None
    day: Optional[str] = None  # inventory report date
    part: Optional[int] = None  # inventory part


class HeldPlan(BaseModel):
    """A job not sent because of a cap, and what became of it."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)  # as PlanSource
    plan_id: str
    source: PlanSource
    body: JobBody
    estimate: Estimate
    reason: str
    held_at: datetime
    status: PlanStatus = "pending"
    decided_at: Optional[datetime] = None
    job_id: Optional[str] = None  # confirmed: the job CI made

    @property
    def count(self) -> Count:
        return self.estimate.count

    def expires_at(self, days: int) -> datetime:
        return as_utc(self.held_at) + timedelta(days=days)

    def expired(self, now: datetime, days: int) -> bool:
        return self.status == "pending" and as_utc(now) >= self.expires_at(days)


def plan_id_of(kind: str, claim: str) -> str:
    """A plan's id: derived from its source, so a redelivered run holds the same plan and a forged one cannot pick."""
    return hashlib.sha256(f"{kind}\n{claim}".encode("utf-8", "surrogatepass")).hexdigest()[:16]


def plan_claim(plan_id: str, owner: str, now: datetime) -> Lease:
    """The claim a decision on a plan is made under (confirm, decline, the report's expiry): one at a time."""
    return Lease(lease_id=f"plan-{plan_id}", owner=owner, generation=0, expires_at=now, job_name=f"plan-{plan_id}")


def is_plan_id(text: str) -> bool:
    return bool(_PLAN_ID.match(text))


def plan_problem(plan: HeldPlan, key_id: str, now: datetime) -> str:
    """Why a stored plan cannot be one our runs wrote ('' if it can): its id, its key and its times."""
    derived = plan_id_of(plan.source.kind, plan.source.claim)
    if plan.plan_id != derived or key_id != derived:
        return f"holds id {plan.plan_id[:40]!r}, not {derived} which its source {plan.source.kind} {plan.source.claim[:120]!r} derives"
    if as_utc(plan.held_at) > as_utc(now) + CLOCK_SKEW:
        return f"was held at {format_utc(plan.held_at)}, after this function's clock {format_utc(now)}"
    if plan.decided_at is not None and as_utc(plan.decided_at) > as_utc(now) + CLOCK_SKEW:
        return f"was decided at {format_utc(plan.decided_at)}, after this function's clock {format_utc(now)}"
    if plan.status == "confirmed" and not plan.job_id:
        return "is confirmed but names no job"
    return ""


class PlanStore:
    """Held plans under STATE_PREFIX/plans/: hold once, read back checked, mark decided."""

    def __init__(self, client: CiClient, state_prefix: str, clock: Callable[[], datetime]):
        self.client = client
        self.folder = f"{state_prefix}plans/"
        self.history = f"{state_prefix}plan-history/"  # a sibling: listing the pending plans never walks it
        self.clock = clock
        self.tampered: List[TamperedStateError] = []

    def key(self, plan_id: str) -> str:
        return f"{self.folder}{plan_id}.json"

    def get(self, plan_id: str) -> Optional[HeldPlan]:
        """The plan if it is stored and passes plan_problem; a tampered one is noted and read as none."""
        if not is_plan_id(plan_id):
            return None
        raw = self.client.get_object(self.key(plan_id))
        return None if raw is None else self._checked(raw, plan_id)

    def _checked(self, raw: bytes, plan_id: str) -> Optional[HeldPlan]:
        try:
            plan = HeldPlan.model_validate_json(raw)
        except ValidationError as exc:
            problem = f"is not a plan our runs write ({exc.error_count()} problem(s))"
        else:
            problem = plan_problem(plan, plan_id, self.clock())
            if not problem:
                return plan
        error = TamperedStateError(f"plan {self.key(plan_id)} {problem}; it is ignored, never confirmed or obeyed")
        self.tampered.append(error)
        logs.log("state_tampered", key=self.key(plan_id), error=str(error))
        return None

    def list(self) -> List[HeldPlan]:
        """Every good plan, newest first (one listing + one GET per plan); bad ones are noted in `tampered`."""
        plans = []
        for key in self.client.list_keys(self.folder):
            name = key[len(self.folder):]
            if not (name.endswith(".json") and is_plan_id(name[:-5])):
                self.tampered.append(TamperedStateError(f"{key[:200]!r} under {self.folder} is not a plan of ours; "
                                                        "it is ignored"))
                continue
            raw = self.client.get_object(key)
            plan = None if raw is None else self._checked(raw, name[:-5])
            if plan is not None:
                plans.append(plan)
        return sorted(plans, key=lambda p: as_utc(p.held_at), reverse=True)

    def hold(self, plan: HeldPlan, *, renew: bool = False) -> HeldPlan:
        """Store a new plan; if one of this id is stored already (a redelivered run), that one stands.

        `renew`: a decided plan of this id is replaced (a rule without a checkpoint holds each tick's window in
        one place); its decision stays in the history (decisions)."""
        if renew:
            stored = self.get(plan.plan_id)
            if stored is not None and stored.status == "pending":
                return stored
            self.client.put_object(self.key(plan.plan_id), plan.model_dump_json().encode("utf-8"), "application/json")
            return plan
        try:
            self.client.put_object(self.key(plan.plan_id), plan.model_dump_json().encode("utf-8"), "application/json",
                                   if_absent=True)
        except CloudApiError as exc:
            if exc.status != 409:
                raise
            stored = self.get(plan.plan_id)
            if stored is not None:
                return stored
            # A tampered object squats on the derived key: ours replaces it, it was never obeyed.
            self.client.put_object(self.key(plan.plan_id), plan.model_dump_json().encode("utf-8"), "application/json")
        return plan

    def decide(self, plan: HeldPlan, status: PlanStatus, job_id: Optional[str] = None) -> HeldPlan:
        """Record the operator's (or the expiry's) decision on the plan, and a copy in the day's history."""
        decided = plan.model_copy(update={"status": status, "decided_at": as_utc(self.clock()), "job_id": job_id})
        data = decided.model_dump_json().encode("utf-8")
        self.client.put_object(self._history_key(decided), data, "application/json")
        self.client.put_object(self.key(plan.plan_id), data, "application/json")
        return decided

    def _history_key(self, plan: HeldPlan) -> str:
        assert plan.decided_at is not None
        return f"{self.history}{utc_day(plan.decided_at)}/{plan.plan_id}-{compact(plan.decided_at)}.json"

    def recorded(self, plan: HeldPlan) -> bool:
        """Whether the plan's decision is in the history as our commands write it (the plan and its copy, alike)."""
        if plan.decided_at is None:
            return False
        raw = self.client.get_object(self._history_key(plan))
        try:
            return raw is not None and HeldPlan.model_validate_json(raw) == plan
        except ValidationError:
            return False

    def decisions(self, day: str) -> List[HeldPlan]:
        """The plans decided (confirmed, declined, expired) on a UTC day, checked as every plan is read back."""
        folder = f"{self.history}{day}/"
        out = []
        for key in self.client.list_keys(folder):
            match = _HISTORY.match(key[len(folder):])
            raw = self.client.get_object(key) if match else None
            plan = None if raw is None else self._checked(raw, match.group(1))
            if plan is not None and plan.decided_at is not None and self._history_key(plan) == key:
                out.append(plan)
        return sorted(out, key=lambda p: as_utc(p.decided_at or p.held_at))
