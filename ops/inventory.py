"""`inventory show` and an inventory rule's `submit --dry-run`: what the bucket's inventory holds, whether the function
has processed it, and what the next run would submit. Both only read: nothing is written and no job is sent."""
from __future__ import annotations

from datetime import datetime
from typing import Dict, List, Optional

from pydantic import BaseModel, ConfigDict

from lib.client import CiClient
from lib.config import Settings
from lib.errors import InventoryReportError
from lib.escape import terminal
from lib.inventory import InventoryConfig, manifest_key, newest_report, read_configuration, read_report, report_root
from lib.inventory_state import InventoryLedger, read_checkpoint
from lib.report.inventory import inventory_line
from lib.report.models import InventoryLine
from lib.report.render import dropped_text, plural, table
from lib.spend import Estimate
from lib.submit.inventory import dry_run
from ops.jobview import show_time


class ReportFile(BaseModel):
    model_config = ConfigDict(frozen=True)
    key: str
    size: Optional[int] = None
    md5: str


class NewestReport(BaseModel):
    """The newest complete report (its manifest.checksum exists): manifest.json's counts and files, or why not."""

    model_config = ConfigDict(frozen=True)
    day: str
    manifest_key: str
    list_object_count: Optional[int] = None  # listObjectCount: objects the scan listed
    filter_object_count: Optional[int] = None  # filterObjectCount: of those, the configuration's filter kept
    files: List[ReportFile] = []
    error: str = ""  # the report was refused (checksum, format): the run would refuse it too


class InventoryView(BaseModel):
    """`inventory show`: the configuration, its reports, the newest one, and what the function made of it."""

    model_config = ConfigDict(frozen=True)
    inventory_id: str
    configuration: InventoryConfig
    report_root: str
    reports: List[str]  # every YYYYMMDD folder under report_root, newest first
    newest: Optional[NewestReport]
    processed: bool  # the function's checkpoint is at the newest report (or later)
    function: InventoryLine  # what the report function shows for this inventory
    problem: str


def show_inventory(client: CiClient, settings: Settings, inventory_id: str, now: datetime) -> InventoryView:
    """Read-only: GET Bucket inventory, the report dates, the newest manifest (checked) and the stored state."""
    config = read_configuration(client, inventory_id, settings.bucket)
    root = report_root(config, settings.bucket)
    day, days, checksum = newest_report(client, root)
    newest = None
    if day is not None:
        try:
            report = read_report(client, config, root, day, checksum)
            manifest = report.manifest
            newest = NewestReport(day=day, manifest_key=report.manifest_key,
                                  list_object_count=manifest.listObjectCount,
                                  filter_object_count=manifest.filterObjectCount,
                                  files=[ReportFile(key=f.key, size=f.size, md5=f.md5) for f in manifest.files])
        except InventoryReportError as exc:
            newest = NewestReport(day=day, manifest_key=manifest_key(root, day), error=str(exc))
    line = inventory_line(client, settings, inventory_id, now)
    processed = day is not None and line.day is not None and line.day >= day
    problems = [p for p in (newest.error if newest else "", line.problem) if p]
    if day is None and not problems:
        problems.append(f"inventory {inventory_id}: no complete report under {root} yet")
    return InventoryView(inventory_id=inventory_id, configuration=config, report_root=root, reports=days,
                         newest=newest, processed=processed, function=line, problem="; ".join(problems))


def render_view(view: InventoryView, zone: str) -> str:
    """The view for a terminal; every text read from the bucket through lib.escape.terminal."""
    c, t = view.configuration, terminal
    enabled = "enabled" if c.enabled else "DISABLED (COS writes no report)"
    lines = [f"inventory {t(view.inventory_id)}: {enabled}, {t(c.frequency)}, {t(c.versions)} versions; optional "
             f"fields {t(', '.join(c.fields)) or 'none'}",
             f"destination: {t(c.dest_bucket)} ({t(c.dest_region)}), prefix {t(c.dest_prefix) or '(none)'}",
             f"reports under {t(view.report_root)}: {plural(len(view.reports), 'date')}"
             + (f" ({t(', '.join(view.reports[:5]))}{' …' if len(view.reports) > 5 else ''})" if view.reports else "")]
    newest = view.newest
    if newest is None:
        lines.append("newest report: none complete yet (COS writes manifest.checksum last)")
    elif newest.error:
        lines.append(f"newest report: {t(newest.day)}, refused: {t(newest.error)}")
    else:
        lines.append(f"newest report: {t(newest.day)}: listed {_count(newest.list_object_count)} objects "
                     f"(listObjectCount), {_count(newest.filter_object_count)} after the configuration's filter "
                     f"(filterObjectCount), {plural(len(newest.files), 'data file')}")
        lines.append(table(("FILE", "SIZE", "MD5"), [(f.key, _count(f.size), f.md5) for f in newest.files]))
    lines.append(processed_text(view, zone))
    if view.problem:
        lines.append(f"problem: {t(view.problem)}")
    return "\n".join(lines)


def processed_text(view: InventoryView, zone: str) -> str:
    fn = view.function
    if fn.day is None:
        return "processed by the function: no report yet"
    made = (f"report {terminal(fn.day)} on {show_time(fn.processed_at, zone)}: listed {fn.listed}, kept {fn.kept}, "
            f"dropped {sum(fn.dropped.values())} ({terminal(dropped_text(fn))}), {plural(fn.jobs, 'job')}")
    if view.processed:
        return f"processed by the function: yes, {made}"
    return f"processed by the function: not the newest report yet; the last was {made}"


def _count(value: Optional[int]) -> str:
    return "?" if value is None else str(value)


class DryRunPart(BaseModel):
    model_config = ConfigDict(frozen=True)
    n: int
    input: str  # UrlFile or Manifest
    objects: int
    file_key: str  # the UrlFile a run would write, or the report's manifest.json
    job_name: str
    estimate: Optional[Estimate] = None  # the count and its price, as the run's gate would make them
    action: str = ""  # send or hold (a cap would hold it: `reason`), or what a run did already (sent, held, ...)
    reason: str = ""


class InventoryDryRun(BaseModel):
    """What the next run of an inventory rule would do: its report, counts and jobs; nothing written or sent."""

    model_config = ConfigDict(frozen=True)
    inventory_id: str
    day: Optional[str]  # None: no complete report yet
    already_processed: bool = False  # the next run submits nothing: the counts are what the run made
    listed: int = 0
    kept: int = 0
    dropped: Dict[str, int] = {}
    parts: List[DryRunPart] = []
    note: str = ""


def dry_run_inventory(client: CiClient, settings: Settings, now: datetime) -> InventoryDryRun:
    """lib.submit.inventory.dry_run, unless the newest report is processed already (then what its run made)."""
    inventory_id = settings.inventory_id
    assert inventory_id is not None  # Settings: INPUT_SOURCE=inventory requires it
    config = read_configuration(client, inventory_id, settings.bucket)
    root = report_root(config, settings.bucket)
    day, _, _ = newest_report(client, root)
    if day is None:
        return InventoryDryRun(inventory_id=inventory_id, day=None,
                               note=f"no complete report under {root} yet: a run now would submit nothing")
    checkpoint, ledger, _ = read_checkpoint(client, settings, inventory_id, now)
    if checkpoint is not None and ledger is not None and checkpoint.day >= day:
        return _processed(inventory_id, ledger)
    day, plan = dry_run(settings, client, now)
    assert day is not None and plan is not None
    # As the run does (lib.submit.inventory._run_report): nothing filtered out, one job over manifest.json itself.
    previews = {p.n: p for p in plan.previews}
    parts = [DryRunPart(n=p.n, input=p.input, objects=p.objects, file_key=p.file_key, job_name=p.job_name,
                        estimate=previews[p.n].estimate, action=previews[p.n].action, reason=previews[p.n].reason)
             for p in plan.parts]
    return InventoryDryRun(inventory_id=inventory_id, day=day, listed=plan.listed, kept=plan.kept,
                           dropped=dict(sorted(plan.dropped.items())), parts=parts)


def _processed(inventory_id: str, ledger: InventoryLedger) -> InventoryDryRun:
    parts = [DryRunPart(n=p.n, input=p.input, objects=p.objects, file_key=p.file_key, job_name=p.job_name)
             for p in ledger.parts]
    return InventoryDryRun(inventory_id=inventory_id, day=ledger.day, already_processed=True, listed=ledger.listed,
                           kept=ledger.kept, dropped=dict(sorted(ledger.dropped.items())), parts=parts,
                           note=f"report {ledger.day} is processed already: a run now would submit nothing; "
                                "these are the jobs its run made")


def render_dry_run(t: InventoryDryRun) -> str:
    if t.day is None:
        return f"inventory {terminal(t.inventory_id)}: {terminal(t.note)}"
    head = (f"inventory {terminal(t.inventory_id)}, report {terminal(t.day)}: listed {t.listed}, kept {t.kept}, "
            f"dropped {sum(t.dropped.values())}")
    lines = [head] + [f"  {n} {terminal(why)}" for why, n in t.dropped.items()]
    if t.already_processed:
        lines.append(terminal(t.note))
    else:
        held = sum(1 for p in t.parts if p.action == "hold")
        hold = f", and hold {plural(held, 'part')} a cap stops" if held else ""
        sends = sum(1 for p in t.parts if p.action == "send")  # the others a run decided already (RUN WOULD says)
        lines.append(f"would make {plural(sends, 'job')}{hold} (dry run: nothing written, nothing sent):")
    if not t.parts:
        lines.append("no job: nothing kept")
        return "\n".join(lines)
    if t.already_processed:
        lines.append(table(("PART", "INPUT", "OBJECTS", "FILE", "JOB NAME"),
                           [(p.n, p.input, p.objects, p.file_key, p.job_name) for p in t.parts]))
        return "\n".join(lines)
    lines.append(table(("PART", "INPUT", "OBJECTS", "ESTIMATE", "RUN WOULD", "FILE", "JOB NAME"),
                       [(p.n, p.input, p.objects, _cost(p.estimate), p.action.upper(), p.file_key, p.job_name)
                        for p in t.parts]))
    lines += [f"  part {p.n} would be HELD: {terminal(p.reason)}" for p in t.parts if p.action == "hold"]
    return "\n".join(lines)


def _cost(est: Optional[Estimate]) -> str:
    if est is None or est.cost is None:
        return "unpriced"
    return f"{est.cost} {est.currency}"
