"""Coalescing mode (UPLOAD_BATCH_SECONDS > 0): an upload leaves a record in COS; a flush makes one UrlFile job per slot.

The stored layout, and the checks every object read back must pass, live in lib.upload_state (the report reads it
too); this module writes records, ledgers and the checkpoint, and runs the flush."""

import hashlib
import json
from datetime import datetime, timedelta
from typing import Callable, Dict, List, NamedTuple, Optional, Set, Tuple

from lib import logs
from lib.client import CiClient, JobDetail
from lib.config import Settings
from lib.errors import AppError, CloudApiError, LeaseHeldError, PlanError
from lib.events import UploadedObject
from lib.jobs import JobBody, JobInput, build_job_body, manifest_lines, object_url, upload_batch_job_name
from lib.plans import HeldPlan, PlanSource
from lib.review import ReviewStore
from lib.spend import Count, Estimate
from lib.state import Lease, StateStore
from lib.submit.ensure import ensure_job
from lib.submit.gate import Gate, gate
from lib.submit.run import REVIEWED, Deps, HeldJob, JobRef, SkippedKey, SubmitResult, lease_ttl
from lib.upload_state import (
    CLOCK_MARGIN,
    GRACE,
    KEY_LIMIT,
    RecordBody,
    Records,
    Refusal,
    UploadBatch,
    UploadCheckpoint,
    batch_claim,
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
# The caps' check (lib.submit.gate bound to a run's settings and side effects); None: a caller without caps.
Guard = Optional[Callable[[JobBody, Count, PlanSource], Gate]]


class FlushMemory:
    """What one warm instance knows: the newest slot boundary it has run a flush pass for (None when cold)."""

    def __init__(self) -> None:
        self.due_until: Optional[datetime] = None


INSTANCE = FlushMemory()  # module-level: lives as long as the warm SCF instance


class Sent(NamedTuple):
    """A batch this call submitted or finished: its ledger, whether it made the job, and the job's estimate."""

    batch: UploadBatch
    created: bool
    estimate: Optional[Estimate] = None


class PassResult(NamedTuple):
    flushed: List[UploadBatch]  # batches this pass committed or finished
    held: List[datetime]  # slots another live flusher holds
    checkpoint: Optional[datetime]
    created: Set[str]  # names of the jobs this pass created (the others it found, made by a killed flush)
    refused: List[Refusal] = []  # state objects this pass refused (logged and marked under refused/)
    plans: List[HeldPlan] = []  # batches a cap held (pending) or the operator declined, met by this pass
    estimates: Dict[str, Estimate] = {}  # job name -> estimate, for the batches this pass sent


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


def _finish(client: CiClient, settings: Settings, batch: UploadBatch, ensure: Ensure, guard: Guard
            ) -> Tuple[UploadBatch, Optional[Sent], Optional[HeldPlan]]:
    """A committed or held ledger's job, once the caps allow it: sent (a confirmed plan's too), or marked held while
    its plan is pending, or declined when the operator declined (or it expired): its records done without a job."""
    est: Optional[Estimate] = None
    if guard is None and batch.state == "held":  # only the caps' check may send what a cap held
        return batch, None, None
    if guard is not None:
        passed = guard(batch_body(settings, batch), Count(objects=len(batch.keys), method="UrlFile manifest"),
                       PlanSource(kind="batch", claim=batch_claim(batch.slot, batch.n), slot=batch.slot, batch=batch.n))
        if passed.plan is not None:
            if passed.plan.status == "pending":
                if batch.state == "committed":  # its records may now wait as long as the plan does
                    batch = batch.model_copy(update={"state": "held"})
                    _write_ledger(client, settings, batch, if_absent=False)
                return batch, None, passed.plan
            done = batch.model_copy(update={"state": "declined"})
            _write_ledger(client, settings, done, if_absent=False)
            logs.log("batch_declined", slot=compact(batch.slot), batch=batch.n, plan_id=passed.plan.plan_id,
                     status=passed.plan.status, uploads=len(batch.records))
            return done, None, passed.plan
        est = passed.estimate
    done, created = _submit(client, settings, batch, ensure)
    return done, Sent(done, created, est), None


def flush_slot(client: CiClient, settings: Settings, store: StateStore, slot: datetime, owner: str,
               ttl: timedelta, ensure: Ensure, guard: Guard = None, reviews: Optional[ReviewStore] = None
               ) -> Tuple[List[UploadBatch], List[Sent], List[Refusal], List[HeldPlan]]:
    """Under the slot's lease: finish every committed ledger the caps allow (a killed flush's commit, a confirmed
    or declined held batch), then commit every good record not yet in one as the next batch and gate it. Returns
    (good ledgers, those this call sent, refused state objects, plans met); raises LeaseHeldError.

    A batch is gated after its commit: the ledger fixes exactly which records the held job covers, so later records
    of the slot go into a later batch, and a decline marks exactly those records done. The commit also fixes which
    keys an operator reviewed (lib.review) and the job leaves out; a batch of only those is done without a job."""
    proposal = Lease(lease_id=f"upload-batch@{compact(slot)}", owner=owner, generation=0,
                     expires_at=store.clock(), job_name=upload_batch_job_name(settings.job_name_prefix, slot, 0))
    sent: List[Sent] = []
    plans: List[HeldPlan] = []

    def finish(i: int) -> None:
        ledgers[i], done, plan = _finish(client, settings, ledgers[i], ensure, guard)
        sent.extend([done] if done is not None else [])
        plans.extend([plan] if plan is not None else [])

    with store.holding(proposal, ttl):
        records = Records(client, settings, slot, as_utc(store.clock()), reviews)
        ledgers, n, refused = checked_ledgers(client, settings, slot, records)
        for i, batch in enumerate(ledgers):
            if batch.state in ("committed", "held"):  # a killed flush's commit, or a batch a cap held
                finish(i)
        counted: Set[str] = {rid for batch in ledgers for rid in batch.records}
        new, bad = records.split(set(records.listed) - counted)
        refused += bad
        if new:
            excluded = records.reviewed(new)
            keys = sorted(set(new.values()) - set(excluded))
            batch = UploadBatch(slot=slot, n=n, records=sorted(new), keys=keys, excluded=excluded,
                                state="committed" if keys else "reviewed", manifest_key=manifest_key(settings, slot, n),
                                job_name=upload_batch_job_name(settings.job_name_prefix, slot, n))
            try:
                _write_ledger(client, settings, batch, if_absent=True)  # the commit point
            except CloudApiError as exc:
                if exc.status != 409:
                    raise
                raise LeaseHeldError(f"batch {n} of slot {compact(slot)} was committed by another flusher "
                                     "whose lease this run took over; the next flush carries on from it") from None
            ledgers.append(batch)
            if excluded:
                logs.log("batch_reviewed", slot=compact(slot), batch=n, left_out=len(excluded), keys=excluded[:20],
                         reason=REVIEWED)
            if keys:
                finish(len(ledgers) - 1)
    return ledgers, sent, refused, plans


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
               ensure: Ensure, guard: Guard = None) -> PassResult:
    """Flush every due slot after the checkpoint, every slot with late markers and every slot a failed flush left
    claimed; move the checkpoint only over slots this pass flushed, so it never passes a slot whose records have no
    job, nor one whose batch waits in a held plan (a declined batch's records are done: its slot may be passed)."""
    seconds = settings.upload_batch_seconds
    now = as_utc(store.clock())
    checkpoint, start, refused = start_after(client, settings, now)
    if refused:
        report_refusals(client, settings, slot_of(now, seconds), refused)
    slots = slots_after(client, pending_dir(settings), start)
    late = late_markers(client, settings)  # listed before the slots' records: a marker's record is then listed too
    claimed = _claimed_slots(client, settings)
    reviews = ReviewStore(client, settings.state_prefix, store.clock)  # lists its folder only if a slot has records
    flushed: Set[datetime] = set()
    backed: Set[datetime] = set()  # flushed slots with a submitted batch: the only ones a checkpoint may name
    held: List[datetime] = []
    touched: List[Sent] = []
    plans: List[HeldPlan] = []
    for slot in sorted(set(slots) | set(late) | set(claimed)):
        if due_at(slot, seconds) > now:
            continue
        try:
            ledgers, done, bad, met = flush_slot(client, settings, store, slot, owner, ttl, ensure, guard, reviews)
        except LeaseHeldError as exc:
            logs.log("batch_skip", slot=compact(slot), reason=str(exc))
            held.append(slot)
            continue
        report_refusals(client, settings, slot, bad)
        refused += bad
        plans += met
        if not any(batch.state == "held" for batch in ledgers):  # a held batch keeps the checkpoint before it
            flushed.add(slot)
        if any(batch.job_id for batch in ledgers):
            backed.add(slot)
        touched.extend(done)
        settled = {rid for batch in ledgers if batch.state in ("submitted", "declined", "reviewed")
                   for rid in batch.records}
        client.delete_objects([key for rid, key in late.get(slot, {}).items() if rid in settled])
    advance = checkpoint
    for slot in slots:
        if slot not in flushed:
            break
        if slot in backed:  # a slot of refused records (or declined batches) only is passed over, never named
            advance = slot
    if advance is not None and advance != checkpoint:
        client.put_object(checkpoint_key(settings), UploadCheckpoint(slot=advance).model_dump_json().encode("utf-8"),
                          "application/json")
    return PassResult([t.batch for t in touched], held, advance, {t.batch.job_name for t in touched if t.created},
                      refused, plans, {t.batch.job_name: t.estimate for t in touched if t.estimate is not None})


def newest_due_slot(now: datetime, seconds: int) -> datetime:
    """The latest slot whose flush time has come at `now`."""
    return slot_of(as_utc(now) - GRACE, seconds) - timedelta(seconds=seconds)


def pass_needed(memory: FlushMemory, now: datetime, seconds: int) -> bool:
    """Whether a slot became due since this instance's last pass (a cold instance always looks once)."""
    return memory.due_until is None or newest_due_slot(now, seconds) > memory.due_until


class Flushed(NamedTuple):
    """What a flush pass sent (its jobs) and the batches it met held by a cap or declined (their plans)."""

    jobs: List[JobRef]
    held: List[HeldJob]

    @property
    def note(self) -> str:
        return "; ".join(job.note for job in self.held)


def flush(settings: Settings, deps: Deps) -> Flushed:
    """One flush pass over the pending uploads, every batch through the caps (lib.submit.gate)."""
    store = StateStore(deps.client, settings.state_prefix, deps.clock)
    done = flush_pass(deps.client, settings, store, deps.owner, lease_ttl(settings, deps.time_limit),
                      lambda body: ensure_job(deps.client, body, deps.sleep),
                      lambda body, count, source: gate(settings, deps, body, count, source))
    return Flushed([_ref(settings, b, b.job_name in done.created, done.estimates.get(b.job_name))
                    for b in done.flushed], [HeldJob.of(plan) for plan in done.plans])


def _ref(settings: Settings, batch: UploadBatch, created: bool, est: Optional[Estimate]) -> JobRef:
    return JobRef(job_id=batch.job_id, name=batch.job_name, state=batch.state, created=created,
                  input=f"UrlFile={batch_body(settings, batch).Input.UrlFile} ({len(batch.keys)} objects)",
                  estimate=est)


def flush_uploads(settings: Settings, deps: Deps) -> List[JobRef]:
    """The batch jobs one flush pass made or finished (`flush` also names the held ones)."""
    return flush(settings, deps).jobs


def confirm_held(settings: Settings, deps: Deps, plan: HeldPlan, store: StateStore,
                 count: Callable[[], None]) -> JobRef:
    """Send a held batch (lib.submit.confirm) as its flush would have: under the slot's lease, its ledger read back
    and checked, the body rebuilt from it, then manifest, job and ledger; a rerun after a kill finds the job."""
    from lib.submit.confirm import held_body_problem  # the operator's confirm only

    source = plan.source
    if source.slot is None or source.batch is None or source.claim != batch_claim(source.slot, source.batch):
        raise PlanError(f"plan {plan.plan_id} names no slot and batch its claim {source.claim[:120]!r} derives from; "
                        "nothing was sent. Decline it")
    slot, n = as_utc(source.slot), source.batch
    proposal = Lease(lease_id=f"upload-batch@{compact(slot)}", owner=deps.owner, generation=0,
                     expires_at=store.clock(), job_name=upload_batch_job_name(settings.job_name_prefix, slot, 0))
    with store.holding(proposal, lease_ttl(settings, deps.time_limit)):
        records = Records(deps.client, settings, slot, as_utc(deps.clock()))
        ledgers, _n, refused = checked_ledgers(deps.client, settings, slot, records)
        report_refusals(deps.client, settings, slot, refused)
        batch = next((b for b in ledgers if b.n == n), None)
        problem = held_body_problem(plan, batch_body(settings, batch)) if batch is not None else (
            f"batch {n} of slot {compact(slot)} has no ledger that passes its checks (see the log)")
        if not problem and batch is not None and batch.state == "declined":
            problem = "its batch was marked declined"
        if not problem and batch is not None and len(batch.keys) != plan.count.objects:
            problem = f"its ledger lists {len(batch.keys)} objects, not the {plan.count.objects} held"
        if not problem and batch is not None and not batch.job_id:
            problem = next((f"{error}" for error in (records.check_held(rid)[1] for rid in batch.records) if error), "")
        if problem or batch is None:
            raise PlanError(f"plan {plan.plan_id} cannot be confirmed: {problem}; nothing was sent")
        count()
        if batch.job_id:  # a confirm killed after the ledger named the job: it only needs finding
            job, created = ensure_job(deps.client, batch_body(settings, batch), deps.sleep)
        else:
            batch, created = _submit(deps.client, settings, batch,
                                     lambda body: ensure_job(deps.client, body, deps.sleep))
    return _ref(settings, batch, created, plan.estimate)


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
        done = flush(settings, deps)
    except AppError as exc:
        logs.log_error("batch_flush_failed", exc)
        return result.model_copy(update={"note": f"flush pass failed, the next event or the timer retries: {exc}"})
    memory.due_until = newest_due_slot(now, seconds)
    return result.model_copy(update={"jobs": done.jobs, "held": done.held, "note": done.note})
