"""What a job will cost before it is sent: its object count, the estimate, the caps, and each UTC day's ledger.

The ledger is one object per job sent, `STATE_PREFIX/spend/<YYYY-MM-DD>/<digest>_<objects>_<cost>_<currency>.json`:
a listing alone gives the day's totals, and the digest of the job's name finds a job counted already (a redelivered
event, a rerun). Check-and-count runs under the day's claim (`spend@<day>`, lib.state), so concurrent runs take
turns and each checks the caps against every job counted before it: exactly the jobs past a cap are held."""

import hashlib
import json
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

from pydantic import BaseModel, ConfigDict

from lib.client import CiClient
from lib.config import Settings
from lib.errors import LeaseHeldError
from lib.state import Lease, StateStore
from lib.windows import as_utc

# ImageInspect's list price: Image Processing Fees (intl docs: tencentyun/intlcloud-documents 数据万象/购买指南/计费项/
# 图片处理费用_intl_en.md, as of 2023-07-10; tencentcloud.com/document/product/436/58198). The live page is the
# authority; the CN page (460/58117) names the item (异常图片检测费用, per processing) but its stored copy has no price.
DEFAULT_PRICE_PER_1000 = Decimal("0.01493")
DEFAULT_CURRENCY = "USD"
PRICE_SOURCE = ("ImageInspect list price 0.01493 USD per 1,000 images (Tencent Cloud Image Processing Fees, "
                "tencentcloud.com/document/product/436/58198, as of 2023-07-10; the live price page is the authority)")
_CENT = Decimal("0.000001")  # estimates keep six places: a single image costs 0.00001493 USD
# The day's claim is held for three requests (list, PUT, release); one killed in between lapses this soon, and a run
# waits for it up to SPEND_ATTEMPTS short sleeps (about 15 s) before it fails for SCF's retry.
SPEND_CLAIM = timedelta(seconds=60)
SPEND_ATTEMPTS = 60
YESTERDAY_LOOKUP = timedelta(hours=6)
_ENTRY = re.compile(r"^([0-9a-f]{16})_(\d{1,12})_(-|\d{1,12}(?:\.\d{1,9})?)_([A-Z]{3})\.json$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Count(BaseModel):
    """How many objects a job would process, and how we know: `complete` False means at least `objects`."""

    model_config = ConfigDict(frozen=True)
    objects: int
    method: str  # "upload event", "UrlFile manifest", "inventory report", "listing INPUT_PREFIX in the window"
    complete: bool = True

    def shown(self) -> str:
        amount = f"{self.objects:,} object{'s' if self.objects != 1 else ''}"
        return f"{'at least ' if not self.complete else ''}{amount} ({self.method})"


class Estimate(BaseModel):
    """A job's count and what it would cost; cost None when unpriced (a Workflow without PRICE_PER_1000_IMAGES)."""

    model_config = ConfigDict(frozen=True)
    count: Count
    cost: Optional[Decimal] = None
    currency: str = DEFAULT_CURRENCY

    def cost_shown(self) -> str:
        if self.cost is None:
            return "unpriced"
        return f"{'at least ' if not self.count.complete else ''}≈ {self.cost} {self.currency}"

    def shown(self) -> str:
        return f"{self.count.shown()}, {self.cost_shown()}"


def price_per_1000(settings: Settings) -> Optional[Decimal]:
    """PRICE_PER_1000_IMAGES, else ImageInspect's list price for an ImageInspect job; None: the job is unpriced."""
    if settings.price_per_1000_images is not None:
        return settings.price_per_1000_images
    return DEFAULT_PRICE_PER_1000 if settings.job_type == "Job" else None


def estimate(settings: Settings, count: Count) -> Estimate:
    price = price_per_1000(settings)
    cost = None if price is None else (price * count.objects / 1000).quantize(_CENT)
    return Estimate(count=count, cost=cost, currency=settings.price_currency)


class DayTotal(BaseModel):
    """What the ledger holds for one UTC day: jobs, objects, and the estimate in `currency`."""

    model_config = ConfigDict(defer_build=True)  # a tick without a cap never reads a day
    day: str
    jobs: int = 0
    objects: int = 0
    cost: Decimal = Decimal(0)
    currency: str = DEFAULT_CURRENCY
    other_currency: int = 0  # entries priced in another currency (PRICE_CURRENCY changed): not in `cost`
    ignored: List[str] = []  # keys under the day's folder that are not entries of ours


class Entry(NamedTuple):
    digest: str
    objects: int
    cost: Optional[Decimal]
    currency: str
    key: str


def job_digest(job_name: str) -> str:
    """The part of an entry's key that says which job it is (redelivered runs find their own entry by it)."""
    return hashlib.sha256(job_name.encode("utf-8")).hexdigest()[:16]


def utc_day(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%d")


def cap_reason(settings: Settings, est: Estimate, today: DayTotal) -> str:
    """Why this job may not be sent now ('' when it may): each cap it exceeds, or could exceed uncounted."""
    reasons = []
    count = est.count
    objects = f"{'at least ' if not count.complete else ''}{count.objects:,} objects"
    uncounted = f" (COUNT_LIMIT={settings.count_limit} stopped the count, so it may be more)" if not count.complete else ""
    cap = settings.max_objects_per_job
    if cap is not None and (not count.complete or count.objects > cap):
        reasons.append(f"{objects} is over MAX_OBJECTS_PER_JOB={cap}{uncounted}")
    cap = settings.daily_object_cap
    if cap is not None and (not count.complete or today.objects + count.objects > cap):
        reasons.append(f"{objects} would take {today.day}'s total from {today.objects:,} past DAILY_OBJECT_CAP={cap}"
                       f"{uncounted}")
    cost_cap = settings.daily_cost_cap
    if cost_cap is not None and est.cost is not None and (not count.complete or today.cost + est.cost > cost_cap):
        reasons.append(f"≈ {est.cost} {est.currency} would take {today.day}'s estimate from {today.cost} past "
                       f"DAILY_COST_CAP={cost_cap} {settings.price_currency}{uncounted}")
    return "; ".join(reasons)


def any_cap(settings: Settings) -> bool:
    return any(c is not None for c in (settings.max_objects_per_job, settings.daily_object_cap,
                                       settings.daily_cost_cap))


class DayLedger(NamedTuple):
    """One UTC day as a listing read it: its totals and the entries behind them (the report matches jobs to them)."""

    total: DayTotal
    entries: List[Entry]


class Reservation(NamedTuple):
    """The outcome of SpendLedger.reserve: the entry counted for the job, or why it was not (held)."""

    entry: Optional[Entry]
    reason: str
    today: Optional[DayTotal]  # the day's totals before this job; None when nothing was checked (no listing)


class SpendLedger:
    """The per-day ledger under STATE_PREFIX/spend/: every job we send is counted there before it is sent."""

    def __init__(self, client: CiClient, settings: Settings, clock: Callable[[], datetime],
                 sleep: Callable[[float], None], owner: str = "spend"):
        self.client = client
        self.state_prefix = settings.state_prefix
        self.prefix = f"{settings.state_prefix}spend/"
        self.currency = settings.price_currency
        self.clock = clock
        self.sleep = sleep
        self.owner = owner

    def _listed(self, day: str) -> Tuple[List[Entry], List[str]]:
        return self._parse(self.client.list_keys(f"{self.prefix}{day}/"), day)

    def _parse(self, keys: List[str], day: str) -> Tuple[List[Entry], List[str]]:
        entries: List[Entry] = []
        ignored: List[str] = []
        folder = f"{self.prefix}{day}/"
        for key in keys:
            match = _ENTRY.match(key[len(folder):]) if key.startswith(folder) else None
            if match is None:
                ignored.append(key)
                continue
            cost = None if match.group(3) == "-" else Decimal(match.group(3))
            entries.append(Entry(match.group(1), int(match.group(2)), cost, match.group(4), key))
        # One job, one count: a run that counted the same job again with another figure (a window recounted after
        # a kill) left a second key; the larger stands, so a day is never counted low.
        largest: Dict[str, Entry] = {}
        for entry in entries:
            if entry.digest not in largest or entry.objects > largest[entry.digest].objects:
                largest[entry.digest] = entry
        return [e for e in entries if largest[e.digest] is e], ignored

    def total(self, day: str) -> DayTotal:
        """The day's totals from one listing (a key that is not an entry of ours is named, never counted)."""
        return self._sum(day, *self._listed(day))

    def _sum(self, day: str, entries: List[Entry], ignored: List[str]) -> DayTotal:
        ours = [e for e in entries if e.currency == self.currency]
        return DayTotal(day=day, jobs=len(entries), objects=sum(e.objects for e in entries),
                        cost=sum((e.cost for e in ours if e.cost is not None), Decimal(0)), currency=self.currency,
                        other_currency=len(entries) - len(ours), ignored=ignored)

    def read(self, days: List[str]) -> Dict[str, DayLedger]:
        """Each day asked, its totals and entries, one listing per month the days fall in."""
        out: Dict[str, DayLedger] = {}
        for month in sorted({d[:7] for d in days if _DAY.match(d)}):
            by_day: Dict[str, List[str]] = {}
            for key in self.client.list_keys(f"{self.prefix}{month}-"):
                by_day.setdefault(key[len(self.prefix):].split("/", 1)[0], []).append(key)
            for day in days:
                if day.startswith(month):
                    entries, ignored = self._parse(by_day.get(day, []), day)
                    out[day] = DayLedger(self._sum(day, entries, ignored), entries)
        return out

    def reserve(self, job_name: str, est: Estimate, check: Callable[[DayTotal], str], *,
                override: bool = False) -> Reservation:
        """Count the job on today's ledger unless `check` says why not; a job counted already is not counted again.

        `override` (no cap set, or an operator's confirm) skips the check, and the listing. With a check, under the
        day's claim: raises LeaseHeldError when other runs held it for SPEND_ATTEMPTS tries (SCF's retry carries on)."""
        day = utc_day(self.clock())
        if override:
            # Nothing to check: the entry is written without a listing. Its key is the same for the same job and
            # count, and two figures for one job are read as the larger (_parse), so a rerun never counts it twice.
            return Reservation(self._put(day, job_name, est), "", None)
        # A run redelivered across midnight counted its job yesterday: looked up in the first hours of a day only
        # (SCF retries within minutes; a redelivery later than this is counted again, on the safe side).
        if as_utc(self.clock()) - datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=timezone.utc) < YESTERDAY_LOOKUP:
            earlier = self._entry_of(job_name, _day_before(day))
            if earlier is not None:
                return Reservation(earlier, "", self.total(day))
        store = StateStore(self.client, self.state_prefix, self.clock)
        proposal = Lease(lease_id=f"spend@{day}", owner=self.owner, generation=0, expires_at=self.clock(),
                         job_name=f"spend-{day}")
        for attempt in range(SPEND_ATTEMPTS):
            try:
                with store.holding(proposal, SPEND_CLAIM):
                    return self._append(day, job_name, est, check)
            except LeaseHeldError:
                import random  # contention only: its import costs a cold tick about 2 ms

                self.sleep(random.uniform(0.05, 0.25) * min(attempt + 1, 4))  # noqa: S311 - jitter, not security
        raise LeaseHeldError(f"the spend ledger {self.prefix}{day}/ was busy for {SPEND_ATTEMPTS} tries (many jobs at "
                             "once, or a run killed while counting; its claim lapses within "
                             f"{int(SPEND_CLAIM.total_seconds())} s); nothing was sent, and SCF's retry counts it again")

    def _entry_of(self, job_name: str, day: str) -> Optional[Entry]:
        digest = job_digest(job_name)
        return next((e for e in self._listed(day)[0] if e.digest == digest), None)

    def _append(self, day: str, job_name: str, est: Estimate, check: Callable[[DayTotal], str]) -> Reservation:
        entries, ignored = self._listed(day)
        today = self._sum(day, entries, ignored)
        digest = job_digest(job_name)
        mine = next((e for e in entries if e.digest == digest), None)
        if mine is not None:
            return Reservation(mine, "", today)
        reason = check(today)
        if reason:
            return Reservation(None, reason, today)
        return Reservation(self._put(day, job_name, est), "", today)

    def _put(self, day: str, job_name: str, est: Estimate) -> Entry:
        digest = job_digest(job_name)
        cost = "-" if est.cost is None else format(est.cost.normalize(), "f")
        key = f"{self.prefix}{day}/{digest}_{est.count.objects}_{cost}_{est.currency}.json"
        body = json.dumps({"job_name": job_name, "method": est.count.method, "complete": est.count.complete},
                          ensure_ascii=True)
        self.client.put_object(key, body.encode("utf-8"), "application/json")
        return Entry(digest, est.count.objects, est.cost, est.currency, key)


def _day_before(day: str) -> str:
    return (datetime.strptime(day, "%Y-%m-%d") - timedelta(days=1)).strftime("%Y-%m-%d")
