"""Coalescing mode (UPLOAD_BATCH_SECONDS > 0): an upload leaves a record in COS; a flush makes one UrlFile job per slot.

The stored layout, and the checks every object read back must pass, live in lib.upload_state (the report reads it
too); this module writes records, ledgers and the checkpoint, and runs the flush."""

import hashlib
import json
from datetime import datetime, timedelta
from typing import Callable, List, NamedTuple, Optional, Set, Tuple

from lib import logs
from lib.client import CiClient, JobDetail
from lib.config import Settings
from lib.errors import AppError, CloudApiError, LeaseHeldError
from lib.events import UploadedObject
from lib.jobs import JobBody, JobInput, build_job_body, manifest_lines, object_url, upload_batch_job_name
from lib.state import Lease, StateStore
from lib.submit.ensure import ensure_job
from lib.submit.run import Deps, JobRef, SkippedKey, SubmitResult, lease_ttl
from lib.upload_state import (
    CLOCK_MARGIN,
    GRACE,
    KEY_LIMIT,
    RecordBody,
    Records,
    Refusal,
    UploadBatch,
    UploadCheckpoint,
    checked_ledgers,
    checkpoint_key,
    due_at,
    folders,
    late_dir,
    late_markers,
    ledger_key,
    manifest_key,
    parse_slot,
    pending_dir,
    record_id,
    refused_dir,
    slot_of,
    slots_after,
    start_after,
    upload_slot,
)
from lib.windows import as_utc, compact

Ensure = Callable[[JobBody], Tuple[JobDetail, bool]]


class FlushMemory:
    """What one warm instance knows: the newest slot boundary it has run a flush pass for (None when cold)."""

    def __init__(self) -> None:
        self.due_until: Optional[datetime] = None


INSTANCE = FlushMemory()  # module-level: lives as long as the warm SCF instance


class PassResult(NamedTuple):
    flushed: List[UploadBatch]  # batches this pass committed or finished
    held: List[datetime]  # slots another live flusher holds
    checkpoint: Optional[datetime]
    created: Set[str]  # names of the jobs this pass created (the others it found, made by a killed flush)
    refused: List[Refusal] = []  # state objects this pass refused (logged and marked under refused/)


def record_uploads(client: CiClient, settings: Settings, objects: List[UploadedObject],
                   clock: Callable[[], datetime]) -> int:
    """PUT one record per object (idempotent), plus a late marker when its slot's flush may have started; returns
    how many were late."""
    late = 0
    seconds = settings.upload_batch_seconds
    for obj in objects:
        slot = upload_slot(obj, seconds, as_utc(clock()))
        rid = record_id(obj)
        key = f"{pending_dir(settings, slot)}{rid}/{obj.key}"
        body = RecordBody(etag=obj.etag, request_id=obj.request_id, version_id=obj.version_id,
                          event_time=obj.event_time)
        if len(key.encode("utf-8")) > KEY_LIMIT:
            body = body.model_copy(update={"key": obj.key})
            client.put_object(f"{pending_dir(settings, slot)}{rid}.long", body.model_dump_json().encode("utf-8"),
                              "application/json")
        else:
            client.put_object(key, body.model_dump_json().encode("utf-8"), "application/json")
        # The clock is read after the PUT returned: a flush listing later than this sees the record (COS lists
        # what a completed PUT wrote); one that may have listed earlier must be told to look again.
        if as_utc(clock()) > due_at(slot, seconds) - CLOCK_MARGIN:
            client.put_object(f"{late_dir(settings)}{compact(slot)}/{rid}", b"")
            late += 1
    return late


def _write_ledger(client: CiClient, settings: Settings, batch: UploadBatch, *, if_absent: bool) -> None:
    client.put_object(ledger_key(settings, batch.slot, batch.n), batch.model_dump_json().encode("utf-8"),
                      "application/json", if_absent=if_absent)


def batch_body(settings: Settings, batch: UploadBatch) -> JobBody:
    url = object_url(settings.bucket, settings.region, batch.manifest_key)
    return build_job_body(settings, batch.job_name, JobInput(UrlFile=url), None)


def _submit(client: CiClient, settings: Settings, batch: UploadBatch, ensure: Ensure) -> Tuple[UploadBatch, bool]:
    """Manifest, job (by name: a takeover finds the one a killed flush made), then the ledger names the job."""
    text = manifest_lines(settings.bucket, settings.region, batch.keys)
    client.put_object(batch.manifest_key, text.encode("utf-8"), "text/plain; charset=utf-8")
    job, created = ensure(batch_body(settings, batch))
    done = batch.model_copy(update={"job_id": job.JobId, "state": "submitted"})
    _write_ledger(client, settings, done, if_absent=False)
    logs.log("batch_job_created" if created else "batch_job_found", job_id=job.JobId, job_name=job.Name,
             slot=compact(batch.slot), batch=batch.n, uploads=len(batch.records))
    return done, created


def flush_slot(client: CiClient, settings: Settings, store: StateStore, slot: datetime, owner: str,
               ttl: timedelta, ensure: Ensure
               ) -> Tuple[List[UploadBatch], List[Tuple[UploadBatch, bool]], List[Refusal]]:
    """Under the slot's lease: finish an unsubmitted ledger, then commit every good record not yet in one as the next
    batch. Returns (good ledgers, (batch, job created) for those this call finished, refused state objects);
    raises LeaseHeldError."""
    proposal = Lease(lease_id=f"upload-batch@{compact(slot)}", owner=owner, generation=0,
                     expires_at=store.clock(), job_name=upload_batch_job_name(settings.job_name_prefix, slot, 0))
    touched: List[Tuple[UploadBatch, bool]] = []
    with store.holding(proposal, ttl):
        records = Records(client, settings, slot, as_utc(store.clock()))
        ledgers, n, refused = checked_ledgers(client, settings, slot, records)
        if ledgers and not ledgers[-1].job_id:
            touched.append(_submit(client, settings, ledgers[-1], ensure))  # a killed flush's commit
            ledgers[-1] = touched[-1][0]
        counted: Set[str] = {rid for batch in ledgers for rid in batch.records}
        new, bad = records.split(set(records.listed) - counted)
        refused += bad
        if new:
            batch = UploadBatch(slot=slot, n=n, records=sorted(new), keys=sorted(set(new.values())),
                                manifest_key=manifest_key(settings, slot, n),
                                job_name=upload_batch_job_name(settings.job_name_prefix, slot, n))
            try:
                _write_ledger(client, settings, batch, if_absent=True)  # the commit point
            except CloudApiError as exc:
                if exc.status != 409:
                    raise
                raise LeaseHeldError(f"batch {n} of slot {compact(slot)} was committed by another flusher "
                                     "whose lease this run took over; the next flush carries on from it") from None
            touched.append(_submit(client, settings, batch, ensure))
            ledgers.append(touched[-1][0])
    return ledgers, touched, refused


def report_refusals(client: CiClient, settings: Settings, slot: datetime, refused: List[Refusal]) -> None:
    """Log each refused state object and mark it under refused/ for the report; the object itself is left alone."""
    for item in refused:
        logs.log("state_refused", object=item.key, reason=str(item.error))
        name = hashlib.sha256(item.key.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        body = json.dumps({"object": item.key, "reason": str(item.error)}, ensure_ascii=True)
        client.put_object(f"{refused_dir(settings)}{compact(slot)}/{name}.json", body.encode("utf-8"),
                          "application/json")


def _claimed_slots(client: CiClient, settings: Settings) -> List[datetime]:
    """Slots whose flush claim is still stored (one listing). A flush that failed after taking its claim abandons it,
    and a slot already flushed is never listed again, so the pass takes such a claim over once its lease lapsed:
    it finishes whatever that flush left and releases the claim, instead of leaving it until the lifecycle rule."""
    base = f"{settings.state_prefix}leases/upload-batch@"
    return [slot for slot in (parse_slot(folder[len(base):-1]) for folder in folders(client, base, ""))
            if slot is not None]


def flush_pass(client: CiClient, settings: Settings, store: StateStore, owner: str, ttl: timedelta,
               ensure: Ensure) -> PassResult:
    """Flush every due slot after the checkpoint, every slot with late markers and every slot a failed flush left
    claimed; move the checkpoint only over slots this pass flushed, so it never passes a slot whose records have no
    job."""
    seconds = settings.upload_batch_seconds
    now = as_utc(store.clock())
    checkpoint, start, refused = start_after(client, settings, now)
    if refused:
        report_refusals(client, settings, slot_of(now, seconds), refused)
    slots = slots_after(client, pending_dir(settings), start)
    late = late_markers(client, settings)  # listed before the slots' records: a marker's record is then listed too
    claimed = _claimed_slots(client, settings)
    flushed: Set[datetime] = set()
    backed: Set[datetime] = set()  # flushed slots with a submitted batch: the only ones a checkpoint may name
    held: List[datetime] = []
    touched: List[Tuple[UploadBatch, bool]] = []
    for slot in sorted(set(slots) | set(late) | set(claimed)):
        if due_at(slot, seconds) > now:
            continue
        try:
            ledgers, done, bad = flush_slot(client, settings, store, slot, owner, ttl, ensure)
        except LeaseHeldError as exc:
            logs.log("batch_skip", slot=compact(slot), reason=str(exc))
            held.append(slot)
            continue
        report_refusals(client, settings, slot, bad)
        refused += bad
        flushed.add(slot)
        if any(batch.job_id for batch in ledgers):
            backed.add(slot)
        touched.extend(done)
        submitted = {rid for batch in ledgers if batch.job_id for rid in batch.records}
        client.delete_objects([key for rid, key in late.get(slot, {}).items() if rid in submitted])
    advance = checkpoint
    for slot in slots:
        if slot not in flushed:
            break
        if slot in backed:  # a slot of refused records only is passed over, never named (_check_backed)
            advance = slot
    if advance is not None and advance != checkpoint:
        client.put_object(checkpoint_key(settings), UploadCheckpoint(slot=advance).model_dump_json().encode("utf-8"),
                          "application/json")
    return PassResult([b for b, _ in touched], held, advance, {b.job_name for b, created in touched if created},
                      refused)


def newest_due_slot(now: datetime, seconds: int) -> datetime:
    """The latest slot whose flush time has come at `now`."""
    return slot_of(as_utc(now) - GRACE, seconds) - timedelta(seconds=seconds)


def pass_needed(memory: FlushMemory, now: datetime, seconds: int) -> bool:
    """Whether a slot became due since this instance's last pass (a cold instance always looks once)."""
    return memory.due_until is None or newest_due_slot(now, seconds) > memory.due_until


def flush_uploads(settings: Settings, deps: Deps) -> List[JobRef]:
    """One flush pass over the pending uploads; the batch jobs it made or finished."""
    store = StateStore(deps.client, settings.state_prefix, deps.clock)
    done = flush_pass(deps.client, settings, store, deps.owner, lease_ttl(settings, deps.time_limit),
                               lambda body: ensure_job(deps.client, body, deps.sleep))
    return [JobRef(job_id=b.job_id, name=b.job_name, state=b.state, created=b.job_name in done.created,
                   input=f"UrlFile={batch_body(settings, b).Input.UrlFile} ({len(b.keys)} objects)")
            for b in done.flushed]


def coalesce_upload(settings: Settings, objects: List[UploadedObject], skipped: List[SkippedKey],
                    deps: Deps) -> SubmitResult:
    """Record the uploads; then, if a slot became due since this instance last looked, run one flush pass.

    A failing pass does not fail the event (its records are stored): the next event or the timer flushes them."""
    late = record_uploads(deps.client, settings, objects, deps.clock)
    logs.log("uploads_recorded", uploads=len(objects), late=late)
    result = SubmitResult(trigger="cos", skipped=skipped, recorded=len(objects), late=late)
    now, seconds = deps.clock(), settings.upload_batch_seconds
    memory = deps.memory or INSTANCE
    if not pass_needed(memory, now, seconds):
        return result
    try:
        jobs = flush_uploads(settings, deps)
    except AppError as exc:
        logs.log_error("batch_flush_failed", exc)
        return result.model_copy(update={"note": f"flush pass failed, the next event or the timer retries: {exc}"})
    memory.due_until = newest_due_slot(now, seconds)
    return result.model_copy(update={"jobs": jobs})
