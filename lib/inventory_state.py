"""Inventory runs' stored state under STATE_PREFIX: the ledger per report, the checkpoint per inventory, the checks
on reading them back, and the summary the report shows (lib.report may read this module; it is core)."""

from datetime import datetime, timedelta
from typing import Dict, List, Optional, Tuple

from pydantic import BaseModel, ConfigDict, ValidationError

from lib.client import CiClient
from lib.config import Settings
from lib.errors import TamperedStateError
from lib.inventory import report_cut, report_date
from lib.jobs import inventory_job_name, is_batch_job_id
from lib.windows import CLOCK_SKEW, as_utc, format_duration, format_utc

# How long after a report was processed the next one is due before the rule calls it late: a day's (or week's)
# schedule plus 12 h, since COS delivers a daily report "early in the morning on the next day" (FAQ, inventory.md
# §2.4) without a stated hour. Monthly (newer online text only) is read as 31 days.
LATE_AFTER = {"Daily": timedelta(hours=36), "Weekly": timedelta(days=7, hours=12),
              "Monthly": timedelta(days=31, hours=12)}


class InventoryPart(BaseModel):
    """One job of a report's run: its UrlFile (or the report's own manifest.json), how many objects, its job."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    n: int
    objects: int
    input: str  # "UrlFile" or "Manifest"
    file_key: str  # the UrlFile object, or the report's manifest.json
    md5: str  # of the UrlFile's bytes (or of manifest.json): a takeover recomputes and compares
    job_name: str
    job_id: str = ""
    # What became of the part (lib.submit.gate): "" not gated yet; "sent" (job_id is its job); "held" as plan_id,
    # waiting for an operator; "declined" or "expired" (its UrlFile deleted, nothing sent).
    status: str = ""
    plan_id: str = ""


class InventoryLedger(BaseModel):
    """What one report's run committed to: the window, the counts and the jobs; written once before any job."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    inventory_id: str
    day: str
    rule: str
    since: Optional[datetime]  # rows modified after this (exclusive) ...
    cut: datetime  # ... and no later than this (inclusive) are kept
    listed: int
    kept: int
    dropped: Dict[str, int]
    parts: List[InventoryPart]
    # committed: parts fixed, not all gated yet; held: every part gated, some waiting as held plans (the checkpoint
    # stays); submitted: every part sent, declined or expired
    state: str = "committed"
    written_at: datetime


class InventoryCheckpoint(BaseModel):
    """The newest report an inventory's runs finished; the next run's window starts at its cut."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    inventory_id: str
    day: str
    cut: datetime
    processed_at: datetime


class InventorySummary(BaseModel):
    """Per inventory rule, for the report: the report date used, counts, jobs, and a problem sentence if any."""

    model_config = ConfigDict(frozen=True)
    inventory_id: str
    day: Optional[str] = None
    listed: int = 0
    kept: int = 0
    dropped: Dict[str, int] = {}
    jobs: int = 0
    job_names: List[str] = []
    processed_at: Optional[datetime] = None
    problem: str = ""


def runs_dir(settings: Settings, inventory_id: str) -> str:
    # Not under the report destination (<STATE_PREFIX>inventory/<appid>/...): COS writes there, we never do.
    return f"{settings.state_prefix}inventory-runs/{inventory_id}/"


def ledger_key(settings: Settings, inventory_id: str, day: str) -> str:
    return f"{runs_dir(settings, inventory_id)}{day}/ledger.json"


def part_key(settings: Settings, inventory_id: str, day: str, n: int) -> str:
    return f"{runs_dir(settings, inventory_id)}{day}/part-{n:06d}.txt"


def part_claim(inventory_id: str, day: str, n: int) -> str:
    """The claim a part's held plan derives its id from (`inventory-<id>@<day>#<n>`, lib.plans)."""
    return f"inventory-{inventory_id}@{day}#{n}"


def checkpoint_key(settings: Settings, inventory_id: str) -> str:
    return f"{runs_dir(settings, inventory_id)}checkpoint.json"


def _tampered(key: str, problem: str) -> TamperedStateError:
    return TamperedStateError(f"inventory state {key} {problem}; it is ignored, never obeyed")


def check_ledger(settings: Settings, key: str, raw: bytes, inventory_id: str, day: str) -> InventoryLedger:
    """The ledger if everything in it that derives from its key and our rules does; TamperedStateError if not."""
    try:
        ledger = InventoryLedger.model_validate_json(raw)
    except ValidationError:
        raise _tampered(key, "is not the JSON our runs write") from None
    if (ledger.inventory_id, ledger.day) != (inventory_id, day):
        raise _tampered(key, f"names report {ledger.inventory_id[:64]!r}/{ledger.day[:16]!r}, not its folder's")
    if as_utc(ledger.cut) != report_cut(day):
        raise _tampered(key, f"holds cut {format_utc(ledger.cut)}, not {format_utc(report_cut(day))} (its date's)")
    if ledger.since is not None and as_utc(ledger.since) >= as_utc(ledger.cut):
        raise _tampered(key, "holds a window that ends before it starts")
    if ledger.kept != sum(p.objects for p in ledger.parts) or ledger.listed != ledger.kept + sum(
            ledger.dropped.values()):
        raise _tampered(key, "holds counts that do not add up")
    for i, part in enumerate(ledger.parts, start=1):
        name = inventory_job_name(settings.job_name_prefix, inventory_id, day, i)
        expected_file = part_key(settings, inventory_id, day, i) if part.input == "UrlFile" else None
        if part.n != i or part.job_name != name or (expected_file is not None and part.file_key != expected_file):
            raise _tampered(key, f"part {i} names {part.job_name[:160]!r} / {part.file_key[:160]!r}, not ours")
    return ledger


def read_ledger(client: CiClient, settings: Settings, inventory_id: str, day: str) -> Optional[InventoryLedger]:
    key = ledger_key(settings, inventory_id, day)
    raw = client.get_object(key)
    return None if raw is None else check_ledger(settings, key, raw, inventory_id, day)


def check_checkpoint(client: CiClient, settings: Settings, raw: bytes, inventory_id: str, now: datetime
                     ) -> Tuple[InventoryCheckpoint, InventoryLedger]:
    """The checkpoint and the submitted ledger it stands on, checked down to CI holding the ledger's last job.

    A bucket writer can PUT both objects, never create a CI job under our name: that is the decisive check, as for
    timer checkpoints (lib.state.check_checkpoint)."""
    key = checkpoint_key(settings, inventory_id)
    try:
        checkpoint = InventoryCheckpoint.model_validate_json(raw)
    except ValidationError:
        raise _tampered(key, "is not the JSON our runs write") from None
    if checkpoint.inventory_id != inventory_id or report_date(checkpoint.day) is None:
        raise _tampered(key, f"names report {checkpoint.inventory_id[:64]!r}/{checkpoint.day[:16]!r}")
    if as_utc(checkpoint.cut) != report_cut(checkpoint.day) or as_utc(checkpoint.cut) > as_utc(now) + CLOCK_SKEW:
        raise _tampered(key, f"holds cut {format_utc(checkpoint.cut)}, not its date's, or one in the future")
    ledger = read_ledger(client, settings, inventory_id, checkpoint.day)
    if ledger is None or ledger.state != "submitted":
        raise _tampered(key, f"stands on no submitted ledger for {checkpoint.day}")
    sent = [p for p in ledger.parts if p.status in ("", "sent")]  # "": a ledger written before parts had a status
    if sent:
        last = sent[-1]
        job = client.get_job(last.job_id) if is_batch_job_id(last.job_id) else None
        if job is None or job.Name != last.job_name:
            raise _tampered(key, f"stands on job {last.job_id[:64]!r}, which CI does not hold as {last.job_name}")
    elif ledger.parts:
        _check_all_dropped(client, settings, key, ledger, now)
    return checkpoint, ledger


def _check_all_dropped(client: CiClient, settings: Settings, key: str, ledger: InventoryLedger,
                       now: datetime) -> None:
    """No part was sent: each must be a plan our runs held and an operator declined (or that expired)."""
    from lib.plans import PlanStore, plan_id_of

    plans = PlanStore(client, settings.state_prefix, lambda: now)
    for part in ledger.parts:
        plan = plans.get(plan_id_of("inventory", part_claim(ledger.inventory_id, ledger.day, part.n)))
        if plan is None or plan.status not in ("declined", "expired") or plan.source.part != part.n:
            raise _tampered(key, f"says part {part.n} was {part.status[:16]!r}, and no declined or expired plan of "
                                 "ours says so")


def read_checkpoint(client: CiClient, settings: Settings, inventory_id: str, now: datetime
                    ) -> Tuple[Optional[InventoryCheckpoint], Optional[InventoryLedger], Optional[TamperedStateError]]:
    """(checkpoint, its ledger, why it was ignored): a tampered checkpoint reads as none, with the reason."""
    raw = client.get_object(checkpoint_key(settings, inventory_id))
    if raw is None:
        return None, None, None
    try:
        checkpoint, ledger = check_checkpoint(client, settings, raw, inventory_id, now)
    except TamperedStateError as exc:
        return None, None, exc
    return checkpoint, ledger, None


def late_problem(checkpoint: Optional[InventoryCheckpoint], newest: Optional[str], frequency: str,
                 now: datetime) -> str:
    """A sentence when no report newer than the last processed one came within its schedule + 12 h ('' if in time)."""
    if newest is not None and (checkpoint is None or newest > checkpoint.day):
        return ""
    if checkpoint is None:
        return ""  # nothing processed yet and nothing to process: the caller says "no report yet"
    allowed = LATE_AFTER.get(frequency, LATE_AFTER["Daily"])
    waited = as_utc(now) - as_utc(checkpoint.processed_at)
    if waited <= allowed:
        return ""
    return (f"inventory {checkpoint.inventory_id} is late: no report newer than {checkpoint.day} (processed "
            f"{format_utc(checkpoint.processed_at)}) for {format_duration(waited)}, more than a {frequency} "
            f"schedule allows ({format_duration(allowed)}); check the configuration is enabled (GET Bucket inventory) "
            "and that COS may write to its destination")


def summarise_inventory(client: CiClient, settings: Settings, inventory_id: str, now: datetime,
                        frequency: str = "Daily") -> InventorySummary:
    """What the report shows per inventory rule, from the checkpoint and its ledger (two GETs and one job GET)."""
    checkpoint, ledger, tampered = read_checkpoint(client, settings, inventory_id, now)
    if checkpoint is None or ledger is None:
        problem = str(tampered) if tampered else f"inventory {inventory_id}: no report processed yet"
        return InventorySummary(inventory_id=inventory_id, problem=problem)
    return InventorySummary(
        inventory_id=inventory_id, day=checkpoint.day, listed=ledger.listed, kept=ledger.kept,
        dropped=dict(ledger.dropped), jobs=len(ledger.parts), job_names=[p.job_name for p in ledger.parts],
        processed_at=checkpoint.processed_at, problem=late_problem(checkpoint, None, frequency, now))
