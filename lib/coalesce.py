"""Coalescing mode (UPLOAD_BATCH_SECONDS > 0): an upload leaves a record in COS; a flush makes one UrlFile job per slot.

Layout under STATE_PREFIX/uploads/ (docs/reliability.md, "Coalescing uploads"):
  pending/<slot>/<id>/<key>   one empty object per upload (or pending/<slot>/<id>.long holding the key)
  late/<slot>/<id>            a record that may have missed its slot's first flush
  batches/<slot>/<n>.json     ledger n of a slot: which records went into which job (the commit point)
  checkpoint.json             every slot up to here that has records has a submitted batch 0
Records are never deleted by a flush: a redelivered event must find its record already counted.
"""

import hashlib
import re
from datetime import datetime, timedelta, timezone
from typing import Callable, Dict, Iterator, List, NamedTuple, Optional, Set, Tuple

from pydantic import BaseModel, ConfigDict, ValidationError

from lib import logs
from lib.client import CiClient, JobDetail
from lib.config import Settings
from lib.errors import CloudApiError, LeaseHeldError, StateError
from lib.events import UploadedObject
from lib.jobs import JobBody, JobInput, build_job_body, manifest_lines, object_url, upload_batch_job_name
from lib.state import Lease, StateStore
from lib.windows import as_utc, compact

# SCF hands a COS event to the function seconds after its eventTime; a slot's flush waits this long after the slot
# ends so that ordinary deliveries land first. Later ones (SCF retries, a backlog) take the late/ path: one more PUT.
GRACE = timedelta(seconds=30)
# How far two instances' clocks may disagree (SCF hosts run NTP, which keeps them within milliseconds): a writer that
# finishes its PUT within this margin of the flush time leaves a late marker, so a skewed flusher cannot miss it.
CLOCK_MARGIN = timedelta(seconds=10)
# COS object keys are at most 850 bytes (cloud.tencent.com/document/product/436/13324, read 2026-12-02).
KEY_LIMIT = 850
_SLOT_FORMAT = "%Y%m%dT%H%M%SZ"  # lib.windows.compact: sorts as it reads, so listings come in slot order

Ensure = Callable[[JobBody], Tuple[JobDetail, bool]]


class UploadBatch(BaseModel):
    """One ledger: the records (and their keys) a batch job covers; job_id is empty until the job exists."""

    # Built on first use: a timer tick in per-event mode never needs it (cold start).
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)
    slot: datetime
    n: int
    records: List[str]
    keys: List[str]
    manifest_key: str
    job_name: str
    job_id: str = ""
    state: str = "committed"  # committed: records claimed, job not yet made; submitted: the job exists


class UploadCheckpoint(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)
    slot: datetime


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


def _root(settings: Settings) -> str:
    return f"{settings.state_prefix}uploads/"


def pending_dir(settings: Settings, slot: Optional[datetime] = None) -> str:
    return f"{_root(settings)}pending/" + (f"{compact(slot)}/" if slot is not None else "")


def late_dir(settings: Settings) -> str:
    return f"{_root(settings)}late/"


def batches_dir(settings: Settings, slot: Optional[datetime] = None) -> str:
    return f"{_root(settings)}batches/" + (f"{compact(slot)}/" if slot is not None else "")


def _ledger_key(settings: Settings, slot: datetime, n: int) -> str:
    return f"{batches_dir(settings, slot)}{n:06d}.json"


def _checkpoint_key(settings: Settings) -> str:
    return f"{_root(settings)}checkpoint.json"


def parse_slot(text: str) -> Optional[datetime]:
    try:
        return datetime.strptime(text, _SLOT_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def slot_of(moment: datetime, seconds: int) -> datetime:
    """The start of the interval holding moment (intervals are aligned to the Unix epoch)."""
    stamp = int(as_utc(moment).timestamp())
    return datetime.fromtimestamp(stamp - stamp % seconds, tz=timezone.utc)


def due_at(slot: datetime, seconds: int) -> datetime:
    """When a slot's first flush may run: its end plus the grace."""
    return slot + timedelta(seconds=seconds) + GRACE


def upload_slot(obj: UploadedObject, seconds: int, arrival: datetime) -> datetime:
    # eventTime is COS's and the same on every redelivery, so a redelivery rewrites its record in the same slot;
    # only a record without one (not seen in published samples) falls back to when the event reached us.
    moment = datetime.fromtimestamp(obj.event_time, tz=timezone.utc) if obj.event_time else arrival
    return slot_of(moment, seconds)


def record_id(obj: UploadedObject) -> str:
    """Same for a redelivery of the same upload; different for a re-upload of the same key."""
    text = "\n".join((obj.key, obj.etag, obj.request_id, obj.version_id, str(obj.event_time or "")))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


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
        if len(key.encode("utf-8")) > KEY_LIMIT:
            client.put_object(f"{pending_dir(settings, slot)}{rid}.long", obj.key.encode("utf-8"),
                              "text/plain; charset=utf-8")
        else:
            client.put_object(key, b"")
        # The clock is read after the PUT returned: a flush listing later than this sees the record (COS lists
        # what a completed PUT wrote); one that may have listed earlier must be told to look again.
        if as_utc(clock()) > due_at(slot, seconds) - CLOCK_MARGIN:
            client.put_object(f"{late_dir(settings)}{compact(slot)}/{rid}", b"")
            late += 1
    return late


def _records(client: CiClient, settings: Settings, slot: datetime) -> Dict[str, str]:
    """The slot's records: id -> object key (a .long record's key is read from its body)."""
    base = pending_dir(settings, slot)
    out: Dict[str, str] = {}
    for stored in client.list_keys(base):
        rest = stored[len(base):]
        if "/" in rest:
            rid, key = rest.split("/", 1)
            out[rid] = key
        elif rest.endswith(".long"):
            out[rest[:-5]] = stored  # resolved below, and only if it is new
    return out


def _resolve_long(client: CiClient, settings: Settings, keys: Dict[str, str]) -> Dict[str, str]:
    base = f"{_root(settings)}pending/"
    out = dict(keys)
    for rid, key in keys.items():
        if key.startswith(base) and key.endswith(".long"):
            raw = client.get_object(key)
            if raw is None:
                raise StateError(f"record {key} was listed but cannot be read; the next flush tries again")
            out[rid] = raw.decode("utf-8")
    return out


def _read_ledger(client: CiClient, key: str) -> UploadBatch:
    raw = client.get_object(key)
    try:
        if raw is None:
            raise ValueError("gone")
        return UploadBatch.model_validate_json(raw)
    except (ValueError, ValidationError):
        raise StateError(f"batch ledger {key} is unreadable; restore it from the job it names, or delete it by hand "
                         "(its uploads are then submitted again)") from None


def read_ledgers(client: CiClient, settings: Settings, slot: datetime) -> List[UploadBatch]:
    """The slot's ledgers in batch order."""
    keys = sorted(client.list_keys(batches_dir(settings, slot)))
    return [_read_ledger(client, k) for k in keys if k.endswith(".json")]


def _write_ledger(client: CiClient, settings: Settings, batch: UploadBatch, *, if_absent: bool) -> None:
    client.put_object(_ledger_key(settings, batch.slot, batch.n), batch.model_dump_json().encode("utf-8"),
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
               ttl: timedelta, ensure: Ensure) -> Tuple[List[UploadBatch], List[Tuple[UploadBatch, bool]]]:
    """Under the slot's lease: finish an unsubmitted ledger, then commit every record not yet in one as the next
    batch. Returns (all ledgers, (batch, job created) for those this call finished); raises LeaseHeldError."""
    proposal = Lease(lease_id=f"upload-batch@{compact(slot)}", owner=owner, generation=0,
                     expires_at=store.clock(), job_name=upload_batch_job_name(settings.job_name_prefix, slot, 0))
    touched: List[Tuple[UploadBatch, bool]] = []
    with store.holding(proposal, ttl):
        ledgers = read_ledgers(client, settings, slot)
        if ledgers and not ledgers[-1].job_id:
            touched.append(_submit(client, settings, ledgers[-1], ensure))  # a killed flush's commit
            ledgers[-1] = touched[-1][0]
        counted: Set[str] = {rid for batch in ledgers for rid in batch.records}
        new = _resolve_long(client, settings,
                            {rid: k for rid, k in _records(client, settings, slot).items() if rid not in counted})
        if new:
            n = ledgers[-1].n + 1 if ledgers else 0
            batch = UploadBatch(
                slot=slot, n=n, records=sorted(new), keys=sorted(set(new.values())),
                manifest_key=f"{settings.state_prefix}manifests/upload-batch-{compact(slot)}-{n:06d}.txt",
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
    return ledgers, touched


def _folders(client: CiClient, prefix: str, after: str) -> Iterator[str]:
    return (folder for page in client.iter_pages(prefix, after, "/") for folder in page.folders)


def _slots_after(client: CiClient, base: str, after: Optional[datetime]) -> List[datetime]:
    start = f"{base}{compact(after)}/" if after is not None else ""
    slots = (parse_slot(folder[len(base):-1]) for folder in _folders(client, base, start))
    return sorted(s for s in slots if s is not None and (after is None or s > after))


def _late_markers(client: CiClient, settings: Settings) -> Dict[datetime, Dict[str, str]]:
    """slot -> {record id: marker key}."""
    out: Dict[datetime, Dict[str, str]] = {}
    base = late_dir(settings)
    for key in client.list_keys(base):
        slot_text, _, rid = key[len(base):].partition("/")
        slot = parse_slot(slot_text)
        if slot is not None and rid:
            out.setdefault(slot, {})[rid] = key
    return out


def read_checkpoint(client: CiClient, settings: Settings) -> Optional[datetime]:
    raw = client.get_object(_checkpoint_key(settings))
    if raw is None:
        return None
    try:
        return as_utc(UploadCheckpoint.model_validate_json(raw).slot)
    except ValidationError:
        raise StateError(f"{_checkpoint_key(settings)} is unreadable; delete it (the next flush lists every slot "
                         "again, which is safe)") from None


def flush_pass(client: CiClient, settings: Settings, store: StateStore, owner: str, ttl: timedelta,
               ensure: Ensure) -> PassResult:
    """Flush every due slot after the checkpoint and every slot with late markers; move the checkpoint only over
    slots this pass flushed, so it never passes a slot whose records have no job."""
    seconds = settings.upload_batch_seconds
    now = as_utc(store.clock())
    checkpoint = read_checkpoint(client, settings)
    slots = _slots_after(client, pending_dir(settings), checkpoint)
    late = _late_markers(client, settings)  # listed before the slots' records: a marker's record is then listed too
    flushed: Set[datetime] = set()
    held: List[datetime] = []
    touched: List[Tuple[UploadBatch, bool]] = []
    for slot in sorted(set(slots) | set(late)):
        if due_at(slot, seconds) > now:
            continue
        try:
            ledgers, done = flush_slot(client, settings, store, slot, owner, ttl, ensure)
        except LeaseHeldError as exc:
            logs.log("batch_skip", slot=compact(slot), reason=str(exc))
            held.append(slot)
            continue
        flushed.add(slot)
        touched.extend(done)
        submitted = {rid for batch in ledgers if batch.job_id for rid in batch.records}
        client.delete_objects([key for rid, key in late.get(slot, {}).items() if rid in submitted])
    advance = checkpoint
    for slot in slots:
        if slot not in flushed:
            break
        advance = slot
    if advance is not None and advance != checkpoint:
        client.put_object(_checkpoint_key(settings), UploadCheckpoint(slot=advance).model_dump_json().encode("utf-8"),
                          "application/json")
    return PassResult([b for b, _ in touched], held, advance, {b.job_name for b, created in touched if created})


def newest_due_slot(now: datetime, seconds: int) -> datetime:
    """The latest slot whose flush time has come at `now`."""
    return slot_of(as_utc(now) - GRACE, seconds) - timedelta(seconds=seconds)


def pass_needed(memory: FlushMemory, now: datetime, seconds: int) -> bool:
    """Whether a slot became due since this instance's last pass (a cold instance always looks once)."""
    return memory.due_until is None or newest_due_slot(now, seconds) > memory.due_until


# --- reading back (CLI `uploads`, the report) -----------------------------------------------------------------

_BATCH_NAME = re.compile(r"-upload-batch-(\d{8}T\d{6}Z)-(\d+)$")


def batch_of_job(prefix: str, name: str) -> Optional[Tuple[datetime, int]]:
    """(slot, n) of a batch job by its name (upload_batch_job_name), or None for any other job."""
    match = _BATCH_NAME.search(name) if name.startswith(f"{prefix}-upload-batch-") else None
    slot = parse_slot(match.group(1)) if match else None
    return (slot, int(match.group(2))) if match and slot is not None else None


def read_ledger(client: CiClient, settings: Settings, slot: datetime, n: int) -> Optional[UploadBatch]:
    """One batch's ledger, or None when it is gone (the lifecycle rule) or unreadable."""
    try:
        return _read_ledger(client, _ledger_key(settings, slot, n))
    except StateError:
        return None


def read_batches(client: CiClient, settings: Settings, since: datetime, until: datetime) -> List[UploadBatch]:
    """Every ledger of the slots starting in [since, until), oldest slot first, batches in order."""
    base = batches_dir(settings)
    after = f"{base}{compact(as_utc(since) - timedelta(seconds=1))}/"  # the listing starts at the first slot >= since
    out: List[UploadBatch] = []
    for folder in _folders(client, base, after):
        slot = parse_slot(folder[len(base):-1])
        if slot is None or slot < as_utc(since):
            continue
        if slot >= as_utc(until):
            break
        out.extend(read_ledgers(client, settings, slot))
    return out


def pending_uploads(client: CiClient, settings: Settings) -> Dict[str, List[str]]:
    """Records in no ledger yet: object key -> the slots (UTC, compact) they wait in."""
    checkpoint = read_checkpoint(client, settings)
    slots = set(_slots_after(client, pending_dir(settings), checkpoint)) | set(_late_markers(client, settings))
    out: Dict[str, List[str]] = {}
    for slot in sorted(slots):
        counted = {rid for batch in read_ledgers(client, settings, slot) for rid in batch.records}
        waiting = {rid: k for rid, k in _records(client, settings, slot).items() if rid not in counted}
        for key in _resolve_long(client, settings, waiting).values():
            out.setdefault(key, []).append(compact(slot))
    return out
