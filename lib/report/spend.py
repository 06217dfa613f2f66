"""The report's spend section: what the ledger (lib.spend) counted today, this month and per day against the daily
caps, the window's jobs on it, and the held plans (lib.plans) waiting or decided. Due plans expire here.

Calls: one listing per month the days read fall in (today's month, the trend's 30 days, the window), one listing and
one GET per stored plan, one listing per UTC day of the window for decisions and one GET per decision; for each plan
expired, its claim (as confirm takes it), a GET and two PUTs."""

from __future__ import annotations

import heapq
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Dict, List, Optional, Tuple

from lib import logs
from lib.client import CiClient, JobDetail
from lib.config import Settings
from lib.errors import CloudError, LeaseHeldError, TamperedStateError
from lib.plans import HeldPlan, PlanStore, plan_claim
from lib.report.models import JobLine, JobSpend, PlanLine, Spend, SpendFigures
from lib.report.tally import Tally
from lib.report.trends import spend_trend, spend_trend_days
from lib.spend import PRICE_SOURCE, DayLedger, Entry, SpendLedger, job_digest, price_per_1000
from lib.state import StateStore
from lib.windows import as_utc

LARGEST_JOBS = 10  # the window's jobs shown with their count; the totals stay exact
PLANS_SHOWN = 50  # pending plans and decisions listed; the counts stay exact
IGNORED_NAMED = 3  # keys under spend/ that are not entries, named in the note
EXPIRY_CLAIM = timedelta(seconds=60)  # held for a GET and two PUTs


def price_source(settings: Settings) -> str:
    """Where the price per 1,000 objects comes from, as the report states it."""
    if settings.price_per_1000_images is not None:
        return "PRICE_PER_1000_IMAGES"
    if settings.job_type == "Job":
        return PRICE_SOURCE
    return "none: Workflow jobs are priced only when PRICE_PER_1000_IMAGES is set"


def plan_line(plan: HeldPlan, expiry_days: int, *, expired_now: bool = False) -> PlanLine:
    count = plan.count
    return PlanLine(plan_id=plan.plan_id, kind=plan.source.kind, job_name=plan.body.Name, objects=count.objects,
                    complete=count.complete, method=count.method, cost=plan.estimate.cost,
                    currency=plan.estimate.currency, reason=plan.reason, held_at=as_utc(plan.held_at),
                    expires_at=plan.expires_at(expiry_days), status=plan.status,
                    decided_at=as_utc(plan.decided_at) if plan.decided_at else None, job_id=plan.job_id,
                    expired_now=expired_now)


def _days(first: date, last: date) -> List[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


class SpendReader:
    """Reads the ledger first, matches each job the report lists to its entry, then reads and expires the plans."""

    def __init__(self, settings: Settings, client: CiClient, start: datetime, end: datetime, now: datetime,
                 tally: Tally):
        self.settings, self.client, self.tally = settings, client, tally
        self.start, self.end, self.now = as_utc(start), as_utc(end), as_utc(now)
        self.today = self.now.date()
        # A job is counted just before CI creates it: one created right after midnight may be on the day before.
        window = _days(self.start.date() - timedelta(days=1), max(self.start, self.end - timedelta(seconds=1)).date())
        self.month = _days(self.today.replace(day=1), self.today)
        wanted = {d.isoformat() for d in window + self.month + spend_trend_days(self.today)}
        self.read: Optional[Dict[str, DayLedger]] = None
        try:
            ledger = SpendLedger(client, settings, lambda: self.now, lambda _s: None, owner="report")
            self.read = ledger.read(sorted(wanted))
        except CloudError as exc:
            tally.incomplete = True
            tally.note(f"the spend ledger under {settings.state_prefix}spend/ could not be read: {exc}; objects sent "
                       "and their estimate are not in this report")
        self.by_digest: Dict[str, Entry] = {}
        for day in window:
            for entry in self.read[day.isoformat()].entries if self.read else []:
                self.by_digest[entry.digest] = entry
        self.matched = self.objects = self.unmatched = 0
        self._largest: List[Tuple[int, int, JobSpend]] = []  # a min-heap of (objects, order, line)

    def checking(self) -> datetime:
        """The clock plans and claims are read, checked and dated by: the later of the report's and the real time,
        as for checkpoints, so a report over an earlier window never calls a plan held since then forged."""
        return max(self.now, datetime.now(timezone.utc))

    def add(self, job: JobDetail) -> None:
        """One job of the window, as the listing streams it."""
        line = self.job_spend(job.JobId, job.Name, job.State or "-")
        if line is None:
            self.unmatched += 1
            return
        self.matched += 1
        self.objects += line.objects
        item = (line.objects, -self.matched, line)  # the earlier listed wins a tie
        if len(self._largest) < LARGEST_JOBS:
            heapq.heappush(self._largest, item)
        elif item[:2] > self._largest[0][:2]:
            heapq.heapreplace(self._largest, item)

    def job_spend(self, job_id: str, name: str, state: str) -> Optional[JobSpend]:
        entry = self.by_digest.get(job_digest(name))
        if entry is None:
            return None
        return JobSpend(job_id=job_id, name=name, state=state, objects=entry.objects, cost=entry.cost,
                        currency=entry.currency)

    def with_spend(self, lines: List[JobLine]) -> List[JobLine]:
        """Failed or stuck jobs, each with its ledger entry where it has one."""
        out = []
        for line in lines:
            spend = self.job_spend(line.job_id, line.name, line.state)
            out.append(line.model_copy(update={"spend": spend}) if spend else line)
        return out

    def finish(self) -> Spend:
        """The section, after the listing: figures, the trend, the plans (due ones expired now)."""
        read = self.read or {}
        self._note_ignored(read)
        held, decisions, expired = self._plans()
        currency = self.settings.price_currency
        today = self.today.isoformat()
        return Spend(
            currency=currency, price_per_1000=price_per_1000(self.settings), price_source=price_source(self.settings),
            today=self._figures(f"today {today}", [read[today]], currency) if read else None,
            month=self._figures(f"this month {self.month[0].isoformat()} → {today}",
                                [read[d.isoformat()] for d in self.month], currency) if read else None,
            days=spend_trend({d: r.total for d, r in read.items()}, self.today) if read else [],
            window_jobs=self.matched, window_objects=self.objects, window_unmatched=self.unmatched,
            largest=[line for _, _, line in sorted(self._largest, key=lambda i: i[:2], reverse=True)],
            held=held[:PLANS_SHOWN], held_total=len(held), decisions=decisions[:PLANS_SHOWN], expired_now=expired,
            expiry_days=self.settings.plan_expiry_days)

    def _figures(self, label: str, days: List[DayLedger], currency: str) -> SpendFigures:
        entries = [e for d in days for e in d.entries]
        unpriced = [e for e in entries if e.cost is None]
        other = Counter(e.currency for e in entries if e.cost is not None and e.currency != currency)
        object_cap, cost_cap = self.settings.daily_object_cap, self.settings.daily_cost_cap
        return SpendFigures(label=label, days=len(days), jobs=sum(d.total.jobs for d in days),
                            objects=sum(d.total.objects for d in days),
                            cost=sum((d.total.cost for d in days), Decimal(0)), unpriced_jobs=len(unpriced),
                            unpriced_objects=sum(e.objects for e in unpriced), other_currency=dict(sorted(other.items())),
                            object_cap=None if object_cap is None else object_cap * len(days),
                            cost_cap=None if cost_cap is None else cost_cap * len(days))

    def _note_ignored(self, read: Dict[str, DayLedger]) -> None:
        ignored = [k for d in sorted(read) for k in read[d].total.ignored]
        if ignored:
            named = ", ".join(repr(k[:200]) for k in ignored[:IGNORED_NAMED])
            more = f" and {len(ignored) - IGNORED_NAMED} more" if len(ignored) > IGNORED_NAMED else ""
            self.tally.tampered_state(TamperedStateError(
                f"{len(ignored)} key(s) under {self.settings.state_prefix}spend/ are not ledger entries of ours "
                f"({named}{more}); they were not counted"))

    def _plans(self) -> Tuple[List[PlanLine], List[PlanLine], int]:
        """Pending plans (due ones expired now), and the decisions of the window; what cannot be read is a note."""
        days = self.settings.plan_expiry_days
        store = PlanStore(self.client, self.settings.state_prefix, self.checking)
        decided: List[HeldPlan] = []
        plans: List[HeldPlan] = []
        try:
            # Read before expiring: this run's expiries are added from what it wrote, not read back.
            for day in _days(self.start.date(), max(self.start, self.end - timedelta(seconds=1)).date()):
                decided += [p for p in store.decisions(day.isoformat())
                            if p.decided_at and self.start <= as_utc(p.decided_at) < self.end]
            plans = store.list()
        except CloudError as exc:
            self.tally.incomplete = True
            self.tally.note(f"held plans under {store.folder} could not be read: {exc}; plans waiting for "
                            "confirmation may be missing from this report")
        expired: List[HeldPlan] = []
        for plan in plans:
            if not plan.expired(self.now, days):
                continue
            try:
                done = self._expire(store, plan)
            except LeaseHeldError:
                self.tally.note(f"held plan {plan.plan_id} is due to expire but an operator is deciding it now; the "
                                "next report expires it if it is still waiting")
                continue
            except CloudError as exc:
                self.tally.incomplete = True
                self.tally.note(f"held plan {plan.plan_id} is due to expire but could not be marked: {exc}; the next "
                                "report tries again")
                continue
            if done is not None:
                expired.append(done)
                logs.log("plan_expired", plan_id=plan.plan_id, job_name=plan.body.Name, held_at=str(plan.held_at),
                         days=days)
        recorded = {(p.plan_id, as_utc(p.decided_at)) for p in decided if p.decided_at}
        for plan in plans:
            # Our commands record every decision twice (the plan and its history); a decision of this window with no
            # history is one they never made: a forged decline would otherwise skip a window unseen.
            if plan.status != "pending" and plan.decided_at and self.start <= as_utc(plan.decided_at) < self.end \
                    and (plan.plan_id, as_utc(plan.decided_at)) not in recorded:
                self.tally.tampered_state(TamperedStateError(
                    f"plan {plan.plan_id} reads {plan.status} at {as_utc(plan.decided_at):%Y-%m-%d %H:%M:%SZ}, but no "
                    f"decision of it is recorded under {store.history}; no command of ours decided it so"))
        for error in store.tampered:
            self.tally.tampered_state(error)
        gone = {p.plan_id for p in expired}
        held = [plan_line(p, days) for p in plans if p.status == "pending" and p.plan_id not in gone
                and not p.expired(self.now, days)]  # one an operator decides right now is no longer waiting
        lines = [plan_line(p, days) for p in decided] + [plan_line(p, days, expired_now=True) for p in expired]
        return held, lines, len(expired)

    def _expire(self, store: PlanStore, plan: HeldPlan) -> Optional[HeldPlan]:
        """Mark a due plan expired under the claim confirm and decline take (`plan-<id>`), read again inside it:
        a confirm that sent the job just before is never recorded over. None: it was decided meanwhile."""
        claims = StateStore(self.client, self.settings.state_prefix, self.checking)
        with claims.holding(plan_claim(plan.plan_id, "report", self.checking()), EXPIRY_CLAIM):
            current = store.get(plan.plan_id)
            if current is None or not current.expired(self.now, self.settings.plan_expiry_days):
                return None
            return store.decide(current, "expired")
