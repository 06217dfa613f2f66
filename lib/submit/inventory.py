"""INPUT_SOURCE=inventory: a rule's objects come from the newest COS Inventory report, filtered by the rules every
path applies, and go to CI as UrlFile jobs of at most PART_OBJECTS each, every object in exactly one job.

Exactly once, per report (the inventory's id and date are the key; docs/reliability.md, "Inventory runs"):
the run claims `inventory-<id>@<date>` (a lease), streams the report and writes each part's UrlFile (same report,
same window: same bytes), then commits the ledger with `x-cos-forbid-overwrite` (the commit point), makes each
part's job by its derived name (ensure_job: a takeover finds the ones a killed run made), marks the ledger
submitted and moves the inventory's checkpoint. A run that finds the checkpoint at this date or later does nothing."""

import hashlib
from datetime import datetime
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from pydantic import BaseModel

from lib import logs
from lib.client import CiClient
from lib.config import Settings
from lib.errors import CloudApiError, InventoryConfigError, InventoryReportError, LeaseHeldError
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
    part_key,
    read_checkpoint,
    read_ledger,
)
from lib.jobs import JobInput, build_job_body, inventory_job_name, object_url
from lib.state import Lease, StateStore
from lib.submit.ensure import ensure_job
from lib.submit.run import Deps, InventoryRun, JobRef, SubmitResult, check_safety, job_ref, lease_ttl
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


class Plan(BaseModel):
    """What a pass over the report found: counts and the parts (their UrlFiles written already)."""

    listed: int
    kept: int
    dropped: Dict[str, int]
    parts: List[InventoryPart]


def plan_parts(put: Callable[[str, bytes], None], settings: Settings, report: Report, since: Optional[datetime],
               cut: datetime, row_source: Iterable[Row]) -> Plan:
    """Stream the rows; write each full part's UrlFile as it fills (memory holds one part); count the rest."""
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


def as_manifest_plan(settings: Settings, report: Report, plan: Plan, manifest_md5: str) -> Plan:
    """Nothing dropped: one job over the report's own manifest.json (Input.Manifest, the Go SDK example's form)."""
    part = InventoryPart(n=1, objects=plan.kept, input="Manifest", file_key=report.manifest_key, md5=manifest_md5,
                         job_name=inventory_job_name(settings.job_name_prefix, report.config.inventory_id,
                                                     report.day, 1))
    return plan.model_copy(update={"parts": [part]})


def part_input(settings: Settings, part: InventoryPart) -> JobInput:
    url = object_url(settings.bucket, settings.region, part.file_key)
    return JobInput(Manifest=url) if part.input == "Manifest" else JobInput(UrlFile=url)


def submit_inventory(settings: Settings, deps: Deps, trigger: str, rule: str, note: str = "") -> SubmitResult:
    """The newest report of INVENTORY_ID as jobs, once; a note when there is none, it is done, or it is late."""
    check_safety(settings)
    assert settings.inventory_id is not None  # Settings: INPUT_SOURCE=inventory needs it
    inventory_id, client, now = settings.inventory_id, deps.client, as_utc(deps.clock())
    config = read_configuration(client, inventory_id, settings.bucket)
    check_config(settings, config)
    root = report_root(config, settings.bucket)
    day, days = newest_report(client, root)
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
    older = [d for d in days if d < day and (checkpoint is None or d > checkpoint.day)]
    if older:
        notes.append(f"skipped older report(s) {', '.join(sorted(older))} of inventory {inventory_id}: the newest, "
                     f"{day}, covers their window, and a report is never processed after a newer one")
    store = StateStore(client, settings.state_prefix, deps.clock)
    proposal = Lease(lease_id=f"inventory-{inventory_id}@{day}", owner=deps.owner, generation=0, expires_at=now,
                     job_name=inventory_job_name(settings.job_name_prefix, inventory_id, day, 1))
    with store.holding(proposal, lease_ttl(settings, deps.time_limit)):
        latest, _, _ = read_checkpoint(client, settings, inventory_id, now)
        if latest is not None and latest.day >= day:
            notes.append(f"inventory {inventory_id}: report {day} was processed by another run meanwhile")
            return SubmitResult(trigger=trigger, rule=rule, note="; ".join(notes), inventory=run)
        ledger, jobs = _run_report(settings, deps, config, root, day, checkpoint, rule, now)
    run = run.model_copy(update={"listed": ledger.listed, "kept": ledger.kept, "dropped": ledger.dropped,
                                 "skipped_reports": sorted(older)})
    logs.log("inventory_done", inventory_id=inventory_id, day=day, listed=ledger.listed, kept=ledger.kept,
             dropped=ledger.dropped, jobs=len(jobs))
    notes.insert(0, f"inventory {inventory_id} report {day}: listed {ledger.listed}, kept {ledger.kept}"
                    + "".join(f"; dropped {n}: {why}" for why, n in sorted(ledger.dropped.items())))
    return SubmitResult(trigger=trigger, rule=rule, jobs=jobs, note="; ".join(notes), inventory=run)


def _run_report(settings: Settings, deps: Deps, config: InventoryConfig, root: str, day: str,
                checkpoint: Optional[InventoryCheckpoint], rule: str, now: datetime
                ) -> Tuple[InventoryLedger, List[JobRef]]:
    """Under the report's lease: plan (or re-plan a killed run's committed ledger), commit, make jobs, checkpoint."""
    client, inventory_id = deps.client, config.inventory_id
    committed = read_ledger(client, settings, inventory_id, day)
    cut = report_cut(day)
    since = committed.since if committed is not None else window_start(settings, cut, checkpoint)
    if committed is None or committed.state != "submitted":
        report = read_report(client, config, root, day)

        def put(key: str, data: bytes) -> None:
            client.put_object(key, data, "text/plain; charset=utf-8")

        plan = plan_parts(put, settings, report, since, cut, rows(client, report))
        if not plan.dropped and plan.kept:
            manifest = client.get_object(report.manifest_key) or b""
            client.delete_objects([p.file_key for p in plan.parts])
            plan = as_manifest_plan(settings, report, plan, hashlib.md5(manifest).hexdigest())  # noqa: S324
        if committed is None:
            committed = _commit(client, settings, inventory_id, day, rule, since, cut, plan, now)
        elif [(p.n, p.objects, p.md5) for p in committed.parts] != [(p.n, p.objects, p.md5) for p in plan.parts]:
            raise InventoryReportError(
                f"inventory report {root}{day}/: a killed run committed {len(committed.parts)} part(s) of "
                f"{committed.kept} objects, and reading the same report again gives {len(plan.parts)} of {plan.kept}; "
                "the report or the ledger changed in between, so nothing more was submitted; delete "
                f"{ledger_key(settings, inventory_id, day)} only after cancelling the jobs it names")
    jobs: List[JobRef] = []
    parts: List[InventoryPart] = []
    for part in committed.parts:
        body = build_job_body(settings, part.job_name, part_input(settings, part), None)
        job, created = ensure_job(client, body, deps.sleep)
        parts.append(part.model_copy(update={"job_id": job.JobId}))
        jobs.append(job_ref(job, created, f"{part.input}={body.Input.UrlFile or body.Input.Manifest} "
                                          f"({part.objects} objects)", None))
        logs.log("job_created" if created else "job_found", job_id=job.JobId, job_name=job.Name,
                 inventory_id=inventory_id, day=day, objects=part.objects)
    done = committed.model_copy(update={"parts": parts, "state": "submitted"})
    client.put_object(ledger_key(settings, inventory_id, day), done.model_dump_json().encode("utf-8"),
                      "application/json")
    mark = InventoryCheckpoint(inventory_id=inventory_id, day=day, cut=cut, processed_at=now)
    client.put_object(checkpoint_key(settings, inventory_id), mark.model_dump_json().encode("utf-8"),
                      "application/json")
    return done, jobs


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
