"""INPUT_SOURCE=inventory: a rule's objects come from the newest COS Inventory report, filtered by the rules every
path applies, and go to CI as UrlFile jobs of at most PART_OBJECTS each, every object in exactly one job.

Exactly once, per report (the inventory's id and date are the key; docs/reliability.md, "Inventory runs"):
the run claims `inventory-<id>@<date>` (a lease), streams the report and writes each part's UrlFile (same report,
same window: same bytes), then commits the ledger with `x-cos-forbid-overwrite` (the commit point), passes each part
through the gate (lib.submit.gate: counted from the report, priced, the caps) and makes its job by its derived name
(ensure_job: a takeover finds the ones a killed run made), marks the ledger submitted and moves the inventory's
checkpoint. A part past a cap is held as its own plan (claim `inventory-<id>@<date>#<n>`): the ledger says "held"
and the checkpoint stays until each held part is confirmed (confirm_held), declined or expired. A run that finds
the checkpoint at this date or later does nothing."""

import hashlib
from datetime import datetime
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from pydantic import BaseModel, ValidationError

from lib import logs
from lib.client import CiClient
from lib.config import Settings
from lib.errors import CloudApiError, InventoryConfigError, InventoryReportError, LeaseHeldError, PlanError
from lib.events import CosEvent, TimerEvent, UnreadableRecord, uploaded_object
from lib.inventory import (
    CHECKSUM,
    InventoryConfig,
    Report,
    Row,
    checksum_key,
    newest_report,
    read_configuration,
    read_report,
    report_cut,
    report_date,
    report_root,
    rows,
)
from lib.inventory_state import (
    InventoryCheckpoint,
    InventoryLedger,
    InventoryPart,
    checkpoint_key,
    late_problem,
    ledger_key,
    part_claim,
    part_key,
    read_checkpoint,
    read_ledger,
    runs_dir,
)
from lib.jobs import JobBody, JobInput, build_job_body, inventory_job_name, object_url
from lib.plans import HeldPlan, PlanSource, PlanStore
from lib.review import ReviewStore
from lib.spend import Count, Estimate, SpendLedger, any_cap, cap_reason, estimate, utc_day
from lib.state import Lease, StateStore
from lib.submit.confirm import held_body_problem
from lib.submit.ensure import ensure_job
from lib.submit.gate import Gate, gate, held_note
from lib.submit.run import (
    REVIEWED,
    Deps,
    HeldJob,
    InventoryRun,
    JobRef,
    SubmitResult,
    check_safety,
    etag_now,
    job_ref,
    lease_ttl,
)
from lib.upload_rules import own_or_suffix_reason
from lib.windows import as_utc

# Objects per UrlFile job. CI publishes no UrlFile limit (inventory.md §3.4, NOT FOUND): 50,000 lines of ~100 bytes
# is a 5 MB file, and a 1M-object report 20 jobs (lib.submit.ensure costs one list + one create per job).
PART_OBJECTS = 50_000
# ImageInspect's published source limit: "source <= 32 MB" (CN doc 436/75996, image-inspect.md §1.3). A larger
# object would be billed and fail; a Workflow rule runs what its workflow runs, so the limit is ImageInspect's only.
INSPECT_MAX_BYTES = 32 * 1024 * 1024
FIELDS_NEEDED = ("LastModifiedDate",)  # the window and the cut; Size too for ImageInspect


def needed_fields(settings: Settings) -> Tuple[str, ...]:
    return FIELDS_NEEDED + (("Size",) if settings.job_type == "Job" else ())


def check_config(settings: Settings, config: InventoryConfig) -> None:
    missing = [f for f in needed_fields(settings) if f not in config.fields]
    if missing:
        raise InventoryConfigError(
            f"INVENTORY_ID={config.inventory_id!r}: the configuration's OptionalFields lack {', '.join(missing)}, "
            f"which the rule's filters read (JOB_TYPE={settings.job_type}); add them (python -m deploy keeps Size, "
            "LastModifiedDate, ETag and StorageClass on ours)")


def window_start(settings: Settings, cut: datetime, checkpoint: Optional[InventoryCheckpoint]) -> Optional[datetime]:
    """Rows modified after this (exclusive) and up to the report's cut are kept; None: from the beginning.

    incremental: from the previous report's cut, so consecutive reports' windows meet and no object modification
    falls in two (first run: FIRST_RUN_LOOKBACK before the cut); a duration: that long before the cut; all: none."""
    kind = settings.window.kind
    if kind == "all":
        return None
    if kind == "lookback":
        assert settings.window.lookback is not None
        return cut - settings.window.lookback
    return as_utc(checkpoint.cut) if checkpoint else cut - settings.first_run_lookback


def drop_reason(settings: Settings, bucket_name: str, appid: str, row: Row, since: Optional[datetime],
                cut: datetime) -> str:
    """Why the row is not submitted ('' when it is): the upload path's rules, INPUT_PREFIX, the size and the window."""
    if row.problem:
        return "unreadable row"
    if (row.appid and row.appid != appid) or row.bucket not in (bucket_name, f"{bucket_name}-{appid}"):
        # The published samples show a Bucket column without -APPID (inference), so both spellings are ours.
        return "row of another bucket"
    if not row.current:
        return "not the current version"
    if row.key.endswith("/"):
        return "folder marker"
    if not (settings.whole_bucket or row.key.startswith(settings.input_prefix)):
        return "outside INPUT_PREFIX"
    reason = own_or_suffix_reason(settings, row.key)
    if reason:
        return reason
    if settings.job_type == "Job" and row.size is not None and row.size > INSPECT_MAX_BYTES:
        return "larger than ImageInspect's 32 MB limit"
    assert row.modified is not None  # check_config: LastModifiedDate is a column
    if since is not None and row.modified <= since:
        return "modified before the window (an earlier report took it)"
    if row.modified > cut:
        return "modified after this report's cut (the next report takes it)"
    return ""


def reviewed_rows(settings: Settings, client: CiClient, clock: Callable[[], datetime]) -> Callable[[Row], bool]:
    """Whether a row's content (key and ETag) is one an operator reviewed (lib.review): one listing of the review
    folder at the first row kept, then a GET per record listed for a kept key (and, when the report has no ETag
    column, a HEAD of that key for its ETag now)."""
    store = ReviewStore(client, settings.state_prefix, clock)

    def reviewed(row: Row) -> bool:
        return bool(store.split([(row.key, row.etag)], lambda key: etag_now(client, key)).excluded)

    return reviewed


class PartPreview(BaseModel):
    """A dry run's answer for one part: its count and estimate, and what the run would do with it (and why)."""

    n: int
    estimate: Estimate
    action: str  # "send", "hold" (reason says which cap), or what a run did already: sent, held, declined, expired
    reason: str = ""


class Plan(BaseModel):
    """What a pass over the report found: counts and the parts (their UrlFiles written already)."""

    listed: int
    kept: int
    dropped: Dict[str, int]
    parts: List[InventoryPart]
    previews: List[PartPreview] = []  # dry runs only


def plan_parts(put: Callable[[str, bytes], None], settings: Settings, report: Report, since: Optional[datetime],
               cut: datetime, row_source: Iterable[Row], reviewed: Optional[Callable[[Row], bool]] = None) -> Plan:
    """Stream the rows; write each full part's UrlFile as it fills (memory holds one part); count the rest.
    `reviewed` (reviewed_rows) is asked only of the rows the rules keep: those it names are dropped too."""
    name, appid = settings.bucket.rsplit("-", 1)
    inventory_id, day = report.config.inventory_id, report.day
    listed = kept = 0
    dropped: Dict[str, int] = {}
    parts: List[InventoryPart] = []
    lines: List[str] = []

    def flush() -> None:
        n = len(parts) + 1
        text = "".join(lines).encode("utf-8")
        key = part_key(settings, inventory_id, day, n)
        put(key, text)
        parts.append(InventoryPart(n=n, objects=len(lines), input="UrlFile", file_key=key,
                                   md5=hashlib.md5(text).hexdigest(),  # noqa: S324 - a fingerprint, not security
                                   job_name=inventory_job_name(settings.job_name_prefix, inventory_id, day, n)))
        lines.clear()

    for row in row_source:
        listed += 1
        reason = drop_reason(settings, name, appid, row, since, cut)
        if not reason and reviewed is not None and reviewed(row):
            reason = REVIEWED
        if reason:
            dropped[reason] = dropped.get(reason, 0) + 1
            continue
        kept += 1
        lines.append(object_url(settings.bucket, settings.region, row.key) + "\n")
        if len(lines) >= PART_OBJECTS:
            flush()
    if lines:
        flush()
    return Plan(listed=listed, kept=kept, dropped=dropped, parts=parts)


def as_manifest_plan(settings: Settings, report: Report, plan: Plan) -> Plan:
    """Nothing dropped: one job over the report's own manifest.json (Input.Manifest, the Go SDK example's form)."""
    part = InventoryPart(n=1, objects=plan.kept, input="Manifest", file_key=report.manifest_key, md5=report.manifest_md5,
                         job_name=inventory_job_name(settings.job_name_prefix, report.config.inventory_id,
                                                     report.day, 1))
    return plan.model_copy(update={"parts": [part]})


def part_input(settings: Settings, part: InventoryPart) -> JobInput:
    url = object_url(settings.bucket, settings.region, part.file_key)
    return JobInput(Manifest=url) if part.input == "Manifest" else JobInput(UrlFile=url)


def dry_run(settings: Settings, client: CiClient, now: datetime) -> Tuple[Optional[str], Optional[Plan]]:
    """(newest report date, its counts and parts as the next run would make them, each part's estimate and whether a
    cap would hold it); nothing is written or sent.

    For the operator CLI: reads the same report with the same window as a run would (the window from the stored
    checkpoint), so its counts are the run's; None, None when the inventory has no report yet."""
    assert settings.inventory_id is not None
    config = read_configuration(client, settings.inventory_id, settings.bucket)
    check_config(settings, config)
    root = report_root(config, settings.bucket)
    day, _, checksum = newest_report(client, root)
    if day is None:
        return None, None
    checkpoint, _, _ = read_checkpoint(client, settings, settings.inventory_id, as_utc(now))
    cut = report_cut(day)
    report = read_report(client, config, root, day, checksum)

    def discard(_key: str, _data: bytes) -> None:
        return None

    plan = plan_parts(discard, settings, report, window_start(settings, cut, checkpoint), cut, rows(client, report),
                      reviewed_rows(settings, client, lambda: now))
    if not plan.dropped and plan.kept:
        plan = as_manifest_plan(settings, report, plan)
    ledger = read_ledger(client, settings, settings.inventory_id, day)
    return day, plan.model_copy(update={"previews": preview_parts(settings, client, now, plan.parts, ledger)})


def preview_parts(settings: Settings, client: CiClient, now: datetime, parts: List[InventoryPart],
                  ledger: Optional[InventoryLedger]) -> List[PartPreview]:
    """Each part gated as the run would, in order, against today's ledger (read, never written): a part sent adds to
    the day's total before the next is checked. A part an earlier run decided says what became of it."""
    done = {p.n: p.status for p in ledger.parts if p.status} if ledger is not None else {}
    today = SpendLedger(client, settings, lambda: now, lambda _s: None).total(utc_day(now))
    out = []
    for part in parts:
        est = estimate(settings, part_count(part))
        if part.n in done:
            out.append(PartPreview(n=part.n, estimate=est, action=done[part.n]))
            continue
        reason = cap_reason(settings, est, today) if any_cap(settings) else ""
        out.append(PartPreview(n=part.n, estimate=est, action="hold" if reason else "send", reason=reason))
        if not reason:
            cost = today.cost + (est.cost if est.cost is not None and est.currency == today.currency else 0)
            today = today.model_copy(update={"jobs": today.jobs + 1, "objects": today.objects + part.objects,
                                             "cost": cost})
    return out


def submit_inventory(settings: Settings, deps: Deps, trigger: str, rule: str, note: str = "") -> SubmitResult:
    """The newest report of INVENTORY_ID as jobs, once; a note when there is none, it is done, or it is late.

    A report whose parts a cap held is finished first: the newest waits until each of its parts is sent, declined or
    expired, since the newest's window starts at the checkpoint that report has not moved yet."""
    check_safety(settings)
    assert settings.inventory_id is not None  # Settings: INPUT_SOURCE=inventory needs it
    inventory_id, client, now = settings.inventory_id, deps.client, as_utc(deps.clock())
    config = read_configuration(client, inventory_id, settings.bucket)
    check_config(settings, config)
    root = report_root(config, settings.bucket)
    day, days, checksum = newest_report(client, root)
    checkpoint, _, tampered = read_checkpoint(client, settings, inventory_id, now)
    notes = [note] if note else []
    if tampered:
        logs.log("state_tampered", error=str(tampered))
        notes.append(f"ignored: {tampered}")
    run = InventoryRun(inventory_id=inventory_id, day=day)
    if day is None or (checkpoint is not None and day <= checkpoint.day):
        if day is None:
            notes.append(f"inventory {inventory_id}: no report yet under {root} (a report is complete once its "
                         "manifest.checksum exists); nothing submitted")
        else:
            notes.append(f"inventory {inventory_id}: report {day} already processed; nothing submitted")
        late = late_problem(checkpoint, day, config.frequency, now)
        if late:
            notes.append(late)
        logs.log("inventory_skip", inventory_id=inventory_id, day=day, reason="; ".join(notes))
        return SubmitResult(trigger=trigger, rule=rule, note="; ".join(notes), inventory=run)
    unfinished = _unfinished_report(client, settings, inventory_id, checkpoint, day)
    if unfinished is not None:
        result = _process(settings, deps, config, root, unfinished, b"", checkpoint, trigger, rule, notes, [])
        if result.held:
            return result.model_copy(update={"note": f"{result.note}; report {day} waits until report "
                                                     f"{unfinished}'s held parts are confirmed or declined"})
        after = submit_inventory(settings, deps, trigger, rule)
        return after.model_copy(update={"jobs": result.jobs + after.jobs, "note": f"{result.note}; {after.note}"})
    older = [d for d in days if d < day and (checkpoint is None or d > checkpoint.day)]
    if older:
        notes.append(f"skipped older report(s) {', '.join(sorted(older))} of inventory {inventory_id}: the newest, "
                     f"{day}, covers their window, and a report is never processed after a newer one")
    return _process(settings, deps, config, root, day, checksum, checkpoint, trigger, rule, notes, older)


def _unfinished_report(client: CiClient, settings: Settings, inventory_id: str,
                       checkpoint: Optional[InventoryCheckpoint], newest: str) -> Optional[str]:
    """An older report whose run committed a ledger and has not finished it (parts held): one listing, one GET per
    such folder (normally none)."""
    folder = runs_dir(settings, inventory_id)
    started = sorted({f[len(folder):].rstrip("/") for page in client.iter_pages(folder, delimiter="/")
                      for f in page.folders})
    for day in started:
        if report_date(day) is None or day >= newest or (checkpoint is not None and day <= checkpoint.day):
            continue
        ledger = read_ledger(client, settings, inventory_id, day)
        if ledger is not None and ledger.state != "submitted":
            return day
    return None


def _process(settings: Settings, deps: Deps, config: InventoryConfig, root: str, day: str, checksum: bytes,
             checkpoint: Optional[InventoryCheckpoint], trigger: str, rule: str, notes: List[str],
             older: List[str]) -> SubmitResult:
    """One report's run under its claim `inventory-<id>@<day>`."""
    client, inventory_id, now = deps.client, config.inventory_id, as_utc(deps.clock())
    run = InventoryRun(inventory_id=inventory_id, day=day)
    store = StateStore(client, settings.state_prefix, deps.clock)
    with store.holding(_report_claim(settings, deps, inventory_id, day, now), lease_ttl(settings, deps.time_limit)):
        latest, _, _ = read_checkpoint(client, settings, inventory_id, now)
        if latest is not None and latest.day >= day:
            notes.append(f"inventory {inventory_id}: report {day} was processed by another run meanwhile")
            return SubmitResult(trigger=trigger, rule=rule, note="; ".join(notes), inventory=run)
        if not checksum:
            checksum = client.get_object(checksum_key(root, day)) or b""
        ledger, jobs, held, dropped = _run_report(settings, deps, config, root, day, checkpoint, rule, now, checksum)
    notes += [f"ignored: {e}" for e in store.tampered[:3]]
    run = run.model_copy(update={"listed": ledger.listed, "kept": ledger.kept, "dropped": ledger.dropped,
                                 "skipped_reports": sorted(older)})
    logs.log("inventory_done" if ledger.state == "submitted" else "inventory_held", inventory_id=inventory_id,
             day=day, listed=ledger.listed, kept=ledger.kept, dropped=ledger.dropped, jobs=len(jobs),
             held=[p.n for p in ledger.parts if p.status == "held"])
    notes.insert(0, f"inventory {inventory_id} report {day}: listed {ledger.listed}, kept {ledger.kept}"
                    + "".join(f"; dropped {n}: {why}" for why, n in sorted(ledger.dropped.items())))
    notes += [held_note(plan) for plan in held + dropped]
    if held:
        notes.append(f"report {day} stays unprocessed (the checkpoint does not move) until each held part is "
                     "confirmed or declined; the next run sends nothing twice")
    return SubmitResult(trigger=trigger, rule=rule, jobs=jobs, note="; ".join(notes), inventory=run,
                        held=[HeldJob.of(plan) for plan in held])


def _report_claim(settings: Settings, deps: Deps, inventory_id: str, day: str, now: datetime) -> Lease:
    return Lease(lease_id=f"inventory-{inventory_id}@{day}", owner=deps.owner, generation=0, expires_at=now,
                 job_name=inventory_job_name(settings.job_name_prefix, inventory_id, day, 1))


def _run_report(settings: Settings, deps: Deps, config: InventoryConfig, root: str, day: str,
                checkpoint: Optional[InventoryCheckpoint], rule: str, now: datetime, checksum: bytes
                ) -> Tuple[InventoryLedger, List[JobRef], List[HeldPlan], List[HeldPlan]]:
    """Under the report's lease: plan (or re-plan a killed run's committed ledger), commit, gate and send each part,
    checkpoint once none is held. Returns the ledger, the jobs, the plans pending and the plans newly dropped."""
    client, inventory_id = deps.client, config.inventory_id
    committed = read_ledger(client, settings, inventory_id, day)
    cut = report_cut(day)
    since = committed.since if committed is not None else window_start(settings, cut, checkpoint)
    if committed is None or committed.state == "committed":
        # A held ledger's parts are fixed and their UrlFiles written (a declined one's deleted): no re-read.
        report = read_report(client, config, root, day, checksum)

        def put(key: str, data: bytes) -> None:
            client.put_object(key, data, "text/plain; charset=utf-8")

        plan = plan_parts(put, settings, report, since, cut, rows(client, report),
                          reviewed_rows(settings, client, deps.clock))
        if not plan.dropped and plan.kept:
            client.delete_objects([p.file_key for p in plan.parts])
            plan = as_manifest_plan(settings, report, plan)
        if committed is None:
            committed = _commit(client, settings, inventory_id, day, rule, since, cut, plan, now)
        elif [(p.n, p.objects, p.md5) for p in committed.parts] != [(p.n, p.objects, p.md5) for p in plan.parts]:
            raise InventoryReportError(
                f"inventory report {root}{day}/: a killed run committed {len(committed.parts)} part(s) of "
                f"{committed.kept} objects, and reading the same report again gives {len(plan.parts)} of {plan.kept}; "
                "the report, the ledger or the rule's settings (a timer argument the committing run did not have) "
                "changed in between, so nothing more was submitted; run with the committing run's settings, or "
                f"delete {ledger_key(settings, inventory_id, day)} only after cancelling the jobs it names")
    jobs: List[JobRef] = []
    parts: List[InventoryPart] = []
    held: List[HeldPlan] = []
    dropped: List[HeldPlan] = []
    for part in committed.parts:
        part, ref, plan = _send_part(settings, deps, committed, part)
        parts.append(part)
        if ref is not None:
            jobs.append(ref)
        if plan is not None:
            (held if plan.status == "pending" else dropped).append(plan)
    return _settle(client, settings, committed, parts, now), jobs, held, dropped


def part_source(ledger: InventoryLedger, part: InventoryPart) -> PlanSource:
    return PlanSource(kind="inventory", claim=part_claim(ledger.inventory_id, ledger.day, part.n),
                      rule=ledger.rule, inventory_id=ledger.inventory_id, day=ledger.day, part=part.n)


def part_count(part: InventoryPart) -> Count:
    return Count(objects=part.objects, method="inventory report")


def part_body(settings: Settings, part: InventoryPart) -> JobBody:
    return build_job_body(settings, part.job_name, part_input(settings, part), None)


def _send_part(settings: Settings, deps: Deps, ledger: InventoryLedger, part: InventoryPart
               ) -> Tuple[InventoryPart, Optional[JobRef], Optional[HeldPlan]]:
    """Gate one part and send it, or keep it held, or drop it as the operator (or the expiry) chose."""
    if part.status in ("sent", "declined", "expired"):
        return part, None, None  # decided by an earlier run (its ledger entry may be days old: never counted again)
    body = part_body(settings, part)
    decided = _decided_plan(settings, deps, part)
    verdict = Gate(estimate(settings, part_count(part)), decided) if decided is not None else gate(
        settings, deps, body, part_count(part), part_source(ledger, part))
    plan = verdict.plan
    if plan is not None and plan.status == "pending":
        return part.model_copy(update={"status": "held", "plan_id": plan.plan_id}), None, plan
    if plan is not None and plan.status in ("declined", "expired"):
        if part.input == "UrlFile":  # a Manifest part's file is COS's report, not ours to delete
            deps.client.delete_objects([part.file_key])
        logs.log("inventory_part_dropped", plan_id=plan.plan_id, job_name=part.job_name, status=plan.status,
                 inventory_id=ledger.inventory_id, day=ledger.day, part=part.n, objects=part.objects)
        return part.model_copy(update={"status": plan.status, "plan_id": plan.plan_id}), None, plan
    # Sent, or confirmed by an operator (confirm_held made the job; ensure_job finds it by name).
    ref = _ensure_part(settings, deps, ledger, part, body, verdict.estimate)
    return part.model_copy(update={"status": "sent", "job_id": ref.job_id,
                                   "plan_id": plan.plan_id if plan else part.plan_id}), ref, None


def _decided_plan(settings: Settings, deps: Deps, part: InventoryPart) -> Optional[HeldPlan]:
    """A held part's plan if an operator declined it (or it expired): followed whatever the caps are now, even none."""
    if part.status != "held":
        return None
    plan = PlanStore(deps.client, settings.state_prefix, deps.clock).get(part.plan_id)
    return plan if plan is not None and plan.status in ("declined", "expired") else None


def _ensure_part(settings: Settings, deps: Deps, ledger: InventoryLedger, part: InventoryPart, body: JobBody,
                 est: Estimate) -> JobRef:
    job, created = ensure_job(deps.client, body, deps.sleep)
    logs.log("job_created" if created else "job_found", job_id=job.JobId, job_name=job.Name,
             inventory_id=ledger.inventory_id, day=ledger.day, objects=part.objects)
    return job_ref(job, created, f"{part.input}={body.Input.UrlFile or body.Input.Manifest} "
                                 f"({part.objects} objects)", None, estimate=est)


def _settle(client: CiClient, settings: Settings, ledger: InventoryLedger, parts: List[InventoryPart],
            now: datetime) -> InventoryLedger:
    """Write what became of each part; with none held the run is complete: submitted, and the checkpoint moves."""
    state = "held" if any(p.status == "held" for p in parts) else "submitted"
    done = ledger.model_copy(update={"parts": parts, "state": state})
    if done != ledger:
        client.put_object(ledger_key(settings, ledger.inventory_id, ledger.day), done.model_dump_json().encode("utf-8"),
                          "application/json")
    if state == "submitted":
        mark = InventoryCheckpoint(inventory_id=ledger.inventory_id, day=ledger.day, cut=ledger.cut, processed_at=now)
        client.put_object(checkpoint_key(settings, ledger.inventory_id), mark.model_dump_json().encode("utf-8"),
                          "application/json")
    return done


def _checkpoint_at(client: CiClient, settings: Settings, inventory_id: str, day: str) -> bool:
    """The stored checkpoint is at `day` or later (a rerun confirm must never move it back): one GET."""
    raw = client.get_object(checkpoint_key(settings, inventory_id))
    try:
        return raw is not None and InventoryCheckpoint.model_validate_json(raw).day >= day
    except ValidationError:
        return False


def confirm_held(settings: Settings, deps: Deps, plan: HeldPlan, store: StateStore,
                 count: Callable[[], None]) -> JobRef:
    """A confirmed part: under the report's claim, rebuild its body from the committed ledger, send it, mark it sent,
    and complete the run if it was the last part held. Rerunnable after a kill at any request."""
    source = plan.source
    if source.inventory_id != settings.inventory_id or source.day is None or source.part is None:
        raise PlanError(f"plan {plan.plan_id} is for inventory {source.inventory_id!r}, and this function's "
                        f"INVENTORY_ID is {settings.inventory_id!r}; confirm it with the rule's settings")
    inventory_id, day, n, now = source.inventory_id, source.day, source.part, as_utc(deps.clock())
    with store.holding(_report_claim(settings, deps, inventory_id, day, now), lease_ttl(settings, deps.time_limit)):
        ledger = read_ledger(deps.client, settings, inventory_id, day)
        part = next((p for p in ledger.parts if p.n == n), None) if ledger is not None else None
        if ledger is None or part is None:
            raise PlanError(f"plan {plan.plan_id}: report {day} of inventory {inventory_id} has no committed part {n} "
                            f"({ledger_key(settings, inventory_id, day)}); nothing was sent")
        if part.status in ("declined", "expired"):
            raise PlanError(f"plan {plan.plan_id}: part {n} of report {day} was {part.status} and its UrlFile "
                            "deleted; nothing was sent")
        body = part_body(settings, part)
        problem = held_body_problem(plan, body)
        if problem or source != part_source(ledger, part):
            raise PlanError(f"plan {plan.plan_id} was not sent: {problem or 'its source is not the ledger part'}")
        count()
        ref = _ensure_part(settings, deps, ledger, part, body, plan.estimate)
        parts = [p.model_copy(update={"status": "sent", "job_id": ref.job_id, "plan_id": plan.plan_id})
                 if p.n == n else p for p in ledger.parts]
        if ledger.state == "committed":  # its other parts are not gated yet: the rule's next run does that
            if parts != ledger.parts:
                deps.client.put_object(ledger_key(settings, inventory_id, day), ledger.model_copy(update={
                    "parts": parts}).model_dump_json().encode("utf-8"), "application/json")
        elif not _checkpoint_at(deps.client, settings, inventory_id, day):
            _settle(deps.client, settings, ledger, parts, now)  # a rerun after a kill finishes the checkpoint too
    return ref


def _commit(client: CiClient, settings: Settings, inventory_id: str, day: str, rule: str,
            since: Optional[datetime], cut: datetime, plan: Plan, now: datetime) -> InventoryLedger:
    ledger = InventoryLedger(inventory_id=inventory_id, day=day, rule=rule, since=since, cut=cut, listed=plan.listed,
                             kept=plan.kept, dropped=plan.dropped, parts=plan.parts, written_at=now)
    try:
        client.put_object(ledger_key(settings, inventory_id, day), ledger.model_dump_json().encode("utf-8"),
                          "application/json", if_absent=True)  # the commit point
    except CloudApiError as exc:
        if exc.status != 409:
            raise
        raise LeaseHeldError(f"report {day} of inventory {inventory_id} was committed by another run whose claim "
                             "this run took over; the next run carries on from its ledger") from None
    return ledger


def checksum_event_report(settings: Settings, event: CosEvent, deps: Deps) -> Optional[str]:
    """The report date a COS event's manifest.checksum belongs to, if a record's key is exactly INVENTORY_ID's layout.

    Checked before any upload rule (our destination lies under STATE_PREFIX, which the upload path skips). Costs a
    GET Bucket inventory only when a key ends in manifest.checksum."""
    if settings.input_source != "inventory" or settings.inventory_id is None:
        return None
    keys = []
    for record in event.records:
        try:
            obj = uploaded_object(record)
        except UnreadableRecord:
            continue
        if obj.bucket == settings.bucket and obj.key.endswith(f"/{CHECKSUM}") and obj.event_name.startswith(
                "cos:ObjectCreated"):
            keys.append(obj.key)
    if not keys:
        return None
    config = read_configuration(deps.client, settings.inventory_id, settings.bucket)
    root = report_root(config, settings.bucket)
    for key in keys:
        day = key[len(root):-len(f"/{CHECKSUM}")] if key.startswith(root) else ""
        if report_date(day) is not None and checksum_key(root, day) == key:
            return day
    return None


def inventory_timer(settings: Settings, event: TimerEvent, deps: Deps) -> SubmitResult:
    """A timer tick of an inventory rule: the fallback when the manifest.checksum trigger was missed."""
    rule = settings.rule_name or event.trigger_name
    return submit_inventory(settings, deps, "timer", rule)


def inventory_upload(settings: Settings, event: CosEvent, deps: Deps) -> Optional[SubmitResult]:
    """The rule's run when the event announces INVENTORY_ID's report; None lets the upload path take the event."""
    day = checksum_event_report(settings, event, deps)
    if day is None:
        return None
    rule = settings.rule_name or "inventory"
    return submit_inventory(settings, deps, "cos", rule, note=f"started by report {day}'s manifest.checksum")
