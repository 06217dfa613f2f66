"""Coalescing mode (UPLOAD_BATCH_SECONDS > 0): an upload leaves a record in COS; a flush makes one UrlFile job per slot.

Layout under STATE_PREFIX/uploads/ (docs/reliability.md, "Coalescing uploads"):
  pending/<slot>/<id>/<key>   one record per upload, its body the upload's identity (RecordBody), or
                              pending/<slot>/<id>.long whose body also holds a key too long for the path
  late/<slot>/<id>            a record that may have missed its slot's first flush
  batches/<slot>/<n>.json     ledger n of a slot: which records went into which job (the commit point)
  checkpoint.json             every slot up to here that has records has a submitted batch 0
  refused/<slot>/<hash>.json  a state object that failed a check: what and why, for the report (issue 22)
Records are never deleted by a flush: a redelivered event must find its record already counted.

Anyone who may PUT into the bucket can write here, so every object read back is input: a record is taken only if
its key passes the live-upload rules and its id recomputes from its key and body; a ledger's names are derived
from its own key and its records must be listed records; a checkpoint never passes the function's clock. An object
that fails is skipped, logged, marked under refused/ for the report, and never deleted by us.
"""

import hashlib
import json
import re
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Callable, Dict, Iterator, List, NamedTuple, Optional, Set, Tuple

from pydantic import BaseModel, ConfigDict, ValidationError

from lib import logs
from lib.client import CiClient, JobDetail
from lib.config import Settings
from lib.errors import CloudApiError, LeaseHeldError, StateError, TamperedStateError
from lib.events import UploadedObject
from lib.jobs import (
    JobBody,
    JobInput,
    build_job_body,
    is_batch_job_id,
    manifest_lines,
    object_url,
    upload_batch_job_name,
)
from lib.state import Lease, StateStore
from lib.upload_rules import skip_reason
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
_RECORD_ID = re.compile(r"^[0-9a-f]{16}$")  # record_id: 16 hex digits
_LEDGER_NAME = re.compile(r"^(\d{6,})\.json$")  # _ledger_key: n, zero-padded to 6 digits
# A checkpoint names a slot that was already due, so it is never after the function's clock; this much skew between
# instances is allowed (CLOCK_MARGIN's reasoning), anything later was not written by us.
CHECKPOINT_SKEW = CLOCK_MARGIN
# When the checkpoint is refused, the pass lists the slots of this look-back instead of trusting it: a forged
# checkpoint cannot hide records older than this beyond what the real one did, and a pass does not re-verify every
# ledger the bucket ever kept (their jobs' existence is checked, and CI need not keep year-old jobs). Inference:
# CI's job retention is not published; a week covers SCF's retries and a weekend without a timer by far.
RECOVERY_LOOKBACK = timedelta(days=7)
# A record is an upload of the object as it is now only if COS wrote that object (Last-Modified, which COS sets and
# no bucket writer can backdate) no earlier than this before the record's slot began. Allowed slack: a single PUT's
# Last-Modified may precede its eventTime by the transfer, and a multipart upload's by its whole duration.
# Inference: COS does not publish whether Last-Modified is a multipart upload's start or end; S3's is its start.
UPLOAD_WRITE_SLACK = timedelta(hours=24)
# A record waits for its flush at most this long (SCF redelivers for msgTTL, 6 h; a timer runs the pass every tick):
# an older one is refused, so a forger cannot aim a record at an object written long ago by choosing an old slot.
RECORD_MAX_WAIT = RECOVERY_LOOKBACK

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


class RecordBody(BaseModel):
    """What a record holds besides its key: the upload's identity, from which its id recomputes (record_id)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    etag: str
    request_id: str
    version_id: str = ""
    event_time: Optional[int] = None
    key: Optional[str] = None  # only in a .long record: the key too long for the record's path


class Refusal(NamedTuple):
    """A state object a check refused: its key, and the error that says which check and why."""

    key: str
    error: TamperedStateError


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
    refused: List[Refusal] = []  # state objects this pass refused (logged and marked under refused/)


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


def refused_dir(settings: Settings) -> str:
    return f"{_root(settings)}refused/"


def manifest_key(settings: Settings, slot: datetime, n: int) -> str:
    """Where batch n of a slot writes its manifest: derived, never read from a ledger."""
    return f"{settings.state_prefix}manifests/upload-batch-{compact(slot)}-{n:06d}.txt"


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


def _records(client: CiClient, settings: Settings, slot: datetime) -> Dict[str, str]:
    """The slot's listed records: id -> the record's own object key (its path, or its .long object)."""
    base = pending_dir(settings, slot)
    out: Dict[str, str] = {}
    for stored in client.list_keys(base):
        rest = stored[len(base):]
        if "/" in rest:
            out[rest.split("/", 1)[0]] = stored
        elif rest.endswith(".long"):
            out[rest[:-5]] = stored
    return out


def _refuse(what: str, why: str) -> TamperedStateError:
    return TamperedStateError(f"{what} {why}; it is skipped, never acted on; delete it by hand once looked into")


def _named_key(settings: Settings, slot: datetime, rid: str, stored: str) -> Optional[str]:
    """The upload key a plain record's path names (None for a .long record)."""
    rest = stored[len(pending_dir(settings, slot)) + len(rid):]
    return rest[1:] if rest.startswith("/") else None


def _check_record(settings: Settings, slot: datetime, rid: str, stored: str, raw: Optional[bytes]) -> str:
    """The upload key of a record that passes every check; raises TamperedStateError naming the failed one."""
    what = f"upload record {stored!r}"
    if not _RECORD_ID.match(rid):
        raise _refuse(what, "has an id that is not 16 hex digits as record_id makes")
    if raw is None:
        raise StateError(f"record {stored} was listed but cannot be read; the next flush tries again")
    try:
        body = RecordBody.model_validate_json(raw)
    except ValidationError:
        raise _refuse(what, "has a body that is not an upload's identity (ETag, request id, version id, "
                            "eventTime) as this version writes") from None
    named = _named_key(settings, slot, rid, stored)
    if named is None:
        key = body.key or ""
        plain = f"{pending_dir(settings, slot)}{rid}/{key}"
        if not key or len(key.encode("utf-8", "surrogatepass")) > KEY_LIMIT:
            raise _refuse(what, "holds no key, or one longer than COS allows")
        if len(plain.encode("utf-8", "surrogatepass")) <= KEY_LIMIT:
            raise _refuse(what, "holds a key short enough for a plain record: a .long record is only written for "
                                "a key too long for its path")
    elif body.key is not None:
        raise _refuse(what, "holds a key of its own beside the one its path names")
    else:
        key = named
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise _refuse(what, "holds a key that is not valid Unicode text, which no upload event carries") from None
    obj = UploadedObject(bucket=settings.bucket, key=key, size=0, etag=body.etag, request_id=body.request_id,
                         version_id=body.version_id, event_name="", event_time=body.event_time)
    reason = skip_reason(settings, obj)
    if reason:
        raise _refuse(what, f"names a key a live upload would skip ({reason})")
    if record_id(obj) != rid:
        raise _refuse(what, "has an id that does not recompute from its key and body")
    if body.event_time is not None and upload_slot(obj, settings.upload_batch_seconds, slot) != slot:
        raise _refuse(what, "sits in a slot its eventTime does not fall in")
    return key


def _check_object(client: CiClient, slot: datetime, key: str, now: datetime, what: str) -> None:
    """The record may be an upload of the object as it is now: raises TamperedStateError when it cannot be."""
    if slot < as_utc(now) - RECORD_MAX_WAIT:
        raise _refuse(what, f"waited in slot {compact(slot)} longer than {RECORD_MAX_WAIT.days} days, far beyond "
                            "SCF's redeliveries and any timer's flush")
    head = client.head_object(key)
    if head is None:
        return  # gone since (or never there): CI finds nothing to act on, and a re-upload has its own record
    stamp = next((v for k, v in head.items() if k.lower() == "last-modified"), "")
    try:
        written = as_utc(parsedate_to_datetime(stamp))
    except (TypeError, ValueError):
        raise StateError(f"HEAD {key!r} answered no readable Last-Modified ({stamp!r}); the next flush tries "
                         "again") from None
    if written < slot - UPLOAD_WRITE_SLACK:
        raise _refuse(what, f"names {key!r}, which COS last wrote at {compact(written)}, long before the record's "
                            f"slot {compact(slot)}: the record is not an upload of it")


class _Records:
    """A slot's listed records, each read and checked at most once per flush: one GET of the record and one HEAD of
    the object it names."""

    def __init__(self, client: CiClient, settings: Settings, slot: datetime, now: datetime) -> None:
        self.client, self.settings, self.slot, self.now = client, settings, slot, now
        self.listed = _records(client, settings, slot)
        self._bodies: Dict[str, Tuple[str, Optional[TamperedStateError]]] = {}
        self._objects: Dict[str, Optional[TamperedStateError]] = {}

    def check(self, rid: str, *, submitted: bool = False) -> Tuple[str, Optional[TamperedStateError]]:
        """(key, None) for a good record, ('', error) for a refused one. A record a checked submitted ledger claims
        was checked against its object when committed: only its body is checked again (the object may be old now)."""
        stored = self.listed[rid]
        if rid not in self._bodies:
            try:
                raw = self.client.get_object(stored) if _RECORD_ID.match(rid) else b""
                self._bodies[rid] = (_check_record(self.settings, self.slot, rid, stored, raw), None)
            except TamperedStateError as exc:
                self._bodies[rid] = ("", exc)
        key, error = self._bodies[rid]
        if error is not None or submitted:
            return key, error
        if rid not in self._objects:
            try:
                _check_object(self.client, self.slot, key, self.now, f"upload record {stored!r}")
                self._objects[rid] = None
            except TamperedStateError as exc:
                self._objects[rid] = exc
        error = self._objects[rid]
        return ("", error) if error is not None else (key, None)

    def split(self, rids: Set[str]) -> Tuple[Dict[str, str], List[Refusal]]:
        """The good ones (id -> key) and the refused ones."""
        good: Dict[str, str] = {}
        refused: List[Refusal] = []
        for rid in sorted(rids):
            key, error = self.check(rid)
            if error is None:
                good[rid] = key
            else:
                refused.append(Refusal(self.listed[rid], error))
        return good, refused


def _ledger_n(settings: Settings, slot: datetime, key: str) -> Optional[int]:
    match = _LEDGER_NAME.match(key[len(batches_dir(settings, slot)):])
    return int(match.group(1)) if match else None


def _derived_ledger(settings: Settings, key: str, slot: datetime, n: int, raw: Optional[bytes]) -> UploadBatch:
    """A ledger whose names agree with its own key; raises StateError (gone) or TamperedStateError."""
    what = f"batch ledger {key!r}"
    if raw is None:
        raise StateError(f"{what} was listed but cannot be read; the next flush tries again")
    try:
        batch = UploadBatch.model_validate_json(raw)
    except (ValueError, ValidationError):
        raise _refuse(what, "is not a ledger this version writes") from None
    derived = {"slot": slot, "n": n, "manifest_key": manifest_key(settings, slot, n),
               "job_name": upload_batch_job_name(settings.job_name_prefix, slot, n)}
    wrong = [f for f, v in derived.items() if (as_utc(batch.slot) if f == "slot" else getattr(batch, f)) != v]
    if wrong:
        raise _refuse(what, f"disagrees with its own key on {', '.join(wrong)} (they derive from the slot and n)")
    if batch.state not in ("committed", "submitted") or (batch.state == "submitted") != bool(batch.job_id):
        raise _refuse(what, "has a state and job id this version never writes together")
    if batch.records != sorted(set(batch.records)) or not batch.records or batch.keys != sorted(set(batch.keys)):
        raise _refuse(what, "lists records or keys out of order, twice, or none")
    return batch.model_copy(update=derived)


def _checked_ledgers(client: CiClient, settings: Settings, slot: datetime, records: _Records
                     ) -> Tuple[List[UploadBatch], int, List[Refusal]]:
    """The slot's ledgers that pass every check, in batch order; the next free n; the refused ledgers.

    A ledger's records must be listed records whose keys are its keys; one not yet submitted must hold only records
    that pass every check (it is about to become a job); a submitted one must name a CI job of its derived name,
    which a bucket writer cannot create."""
    base = batches_dir(settings, slot)
    good: List[UploadBatch] = []
    refused: List[Refusal] = []
    next_n = 0
    for key in sorted(client.list_keys(base)):
        n = _ledger_n(settings, slot, key)
        if n is None:
            refused.append(Refusal(key, _refuse(f"batch ledger {key!r}", "is not named <n>.json as ledgers are")))
            continue
        next_n = max(next_n, n + 1)  # even a refused ledger's n: the next commit must not collide with it
        try:
            batch = _derived_ledger(settings, key, slot, n, client.get_object(key))
            _check_claims(client, settings, key, batch, records)
        except TamperedStateError as exc:
            refused.append(Refusal(key, exc))
            continue
        good.append(batch)
    return good, next_n, refused


def _check_claims(client: CiClient, settings: Settings, key: str, batch: UploadBatch, records: _Records) -> None:
    what = f"batch ledger {key!r}"
    missing = [r for r in batch.records if r not in records.listed]
    if missing:
        raise _refuse(what, f"claims record(s) {', '.join(missing[:3])} that the slot does not hold")
    keys: Set[str] = set()
    for rid in batch.records:
        named = _named_key(settings, batch.slot, rid, records.listed[rid])
        if named is None or not batch.job_id:
            named, error = records.check(rid, submitted=bool(batch.job_id))
            if error is not None:
                raise _refuse(what, f"claims a refused record: {error}")
        keys.add(named)
    if sorted(keys) != batch.keys:
        raise _refuse(what, "lists keys that are not its records' keys")
    if batch.job_id:
        if not is_batch_job_id(batch.job_id):  # read from the bucket: it must not shape the GET's path
            raise _refuse(what, f"names job id {batch.job_id[:80]!r}, which is not a CI job id")
        try:
            job = client.get_job(batch.job_id)
        except CloudApiError as exc:
            # Only "no such job" is an answer about the ledger; a refusal (401/403) or an outage is ours to fix, and
            # reading it as forgery would resubmit every record of the slot.
            if exc.status not in (400, 404):
                raise
            job = None
        if job is None or job.Name != batch.job_name:
            raise _refuse(what, f"names job {batch.job_id!r}, which is not CI's job {batch.job_name}")


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
               ttl: timedelta, ensure: Ensure
               ) -> Tuple[List[UploadBatch], List[Tuple[UploadBatch, bool]], List[Refusal]]:
    """Under the slot's lease: finish an unsubmitted ledger, then commit every good record not yet in one as the next
    batch. Returns (good ledgers, (batch, job created) for those this call finished, refused state objects);
    raises LeaseHeldError."""
    proposal = Lease(lease_id=f"upload-batch@{compact(slot)}", owner=owner, generation=0,
                     expires_at=store.clock(), job_name=upload_batch_job_name(settings.job_name_prefix, slot, 0))
    touched: List[Tuple[UploadBatch, bool]] = []
    with store.holding(proposal, ttl):
        records = _Records(client, settings, slot, as_utc(store.clock()))
        ledgers, n, refused = _checked_ledgers(client, settings, slot, records)
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


def read_refusals(client: CiClient, settings: Settings, since: datetime, limit: int = 50) -> List[Refusal]:
    """The refusals marked for slots from `since` on (at most `limit` read; the rest counted as unread)."""
    base = refused_dir(settings)
    out: List[Refusal] = []
    for key in sorted(client.list_keys(base)):
        slot = parse_slot(key[len(base):].partition("/")[0])
        if slot is None or slot < as_utc(since):
            continue
        if len(out) >= limit:
            out.append(Refusal(key, TamperedStateError(f"refusal {key} (not read: more than {limit})")))
            continue
        raw = client.get_object(key)
        try:
            reason = str(json.loads(raw or b"")["reason"])
        except (ValueError, KeyError, TypeError):
            reason = f"refusal marker {key} is unreadable"
        out.append(Refusal(key, TamperedStateError(reason)))
    return out


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


def read_checkpoint(client: CiClient, settings: Settings, now: Optional[datetime] = None) -> Optional[datetime]:
    """The checkpoint's slot; raises TamperedStateError when it is after `now` + CHECKPOINT_SKEW (a flush only
    ever writes a slot that was due) or unreadable."""
    raw = client.get_object(_checkpoint_key(settings))
    if raw is None:
        return None
    try:
        slot = as_utc(UploadCheckpoint.model_validate_json(raw).slot)
    except ValidationError:
        raise _refuse(f"coalescing checkpoint {_checkpoint_key(settings)!r}", "is unreadable") from None
    if now is not None and slot > as_utc(now) + CHECKPOINT_SKEW:
        raise _refuse(f"coalescing checkpoint {_checkpoint_key(settings)!r}",
                      f"names slot {compact(slot)}, after the function's clock ({compact(as_utc(now))}) plus "
                      f"{int(CHECKPOINT_SKEW.total_seconds())} s; the pass lists the last "
                      f"{RECOVERY_LOOKBACK.days} days' slots instead")
    return slot


def _start_after(client: CiClient, settings: Settings, now: datetime
                 ) -> Tuple[Optional[datetime], Optional[datetime], List[Refusal]]:
    """(the checkpoint as read, where listing starts, refusals): a refused checkpoint is replaced by the look-back."""
    try:
        checkpoint = read_checkpoint(client, settings, now)
        if checkpoint is not None:
            _check_backed(client, settings, checkpoint, now)
    except TamperedStateError as exc:
        start = slot_of(as_utc(now) - RECOVERY_LOOKBACK, settings.upload_batch_seconds) - timedelta(seconds=1)
        return None, start, [Refusal(_checkpoint_key(settings), exc)]
    return checkpoint, checkpoint, []


def _check_backed(client: CiClient, settings: Settings, slot: datetime, now: datetime) -> None:
    """A checkpoint names a slot a flush gave a batch job: one of its ledgers passes every check, including that
    CI holds the job of its name, which a bucket writer cannot create. Raises TamperedStateError."""
    good, _n, _bad = _checked_ledgers(client, settings, slot, _Records(client, settings, slot, now))
    if not any(batch.job_id for batch in good):
        raise _refuse(f"coalescing checkpoint {_checkpoint_key(settings)!r}",
                      f"names slot {compact(slot)}, which has no batch job a flush made; the pass lists the last "
                      f"{RECOVERY_LOOKBACK.days} days' slots instead")


def _claimed_slots(client: CiClient, settings: Settings) -> List[datetime]:
    """Slots whose flush claim is still stored (one listing). A flush that failed after taking its claim abandons it,
    and a slot already flushed is never listed again, so the pass takes such a claim over once its lease lapsed:
    it finishes whatever that flush left and releases the claim, instead of leaving it until the lifecycle rule."""
    base = f"{settings.state_prefix}leases/upload-batch@"
    return [slot for slot in (parse_slot(folder[len(base):-1]) for folder in _folders(client, base, ""))
            if slot is not None]


def flush_pass(client: CiClient, settings: Settings, store: StateStore, owner: str, ttl: timedelta,
               ensure: Ensure) -> PassResult:
    """Flush every due slot after the checkpoint, every slot with late markers and every slot a failed flush left
    claimed; move the checkpoint only over slots this pass flushed, so it never passes a slot whose records have no
    job."""
    seconds = settings.upload_batch_seconds
    now = as_utc(store.clock())
    checkpoint, start, refused = _start_after(client, settings, now)
    if refused:
        report_refusals(client, settings, slot_of(now, seconds), refused)
    slots = _slots_after(client, pending_dir(settings), start)
    late = _late_markers(client, settings)  # listed before the slots' records: a marker's record is then listed too
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
        client.put_object(_checkpoint_key(settings), UploadCheckpoint(slot=advance).model_dump_json().encode("utf-8"),
                          "application/json")
    return PassResult([b for b, _ in touched], held, advance, {b.job_name for b, created in touched if created},
                      refused)


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
    """One batch's ledger, or None when it is gone (the lifecycle rule); raises TamperedStateError when its names
    disagree with its key (a reader without the slot's listing checks only what derives from the key)."""
    key = _ledger_key(settings, slot, n)
    try:
        return _derived_ledger(settings, key, slot, n, client.get_object(key))
    except TamperedStateError:
        raise
    except StateError:
        return None


def read_batches(client: CiClient, settings: Settings, since: datetime, until: datetime, *, now: datetime,
                 refused: Optional[List[Refusal]] = None) -> List[UploadBatch]:
    """Every good ledger of the slots starting in [since, until), oldest slot first, batches in order, its records
    checked at `now` (the caller's clock); the refused ones go to `refused` when given."""
    base = batches_dir(settings)
    after = f"{base}{compact(as_utc(since) - timedelta(seconds=1))}/"  # the listing starts at the first slot >= since
    out: List[UploadBatch] = []
    for folder in _folders(client, base, after):
        slot = parse_slot(folder[len(base):-1])
        if slot is None or slot < as_utc(since):
            continue
        if slot >= as_utc(until):
            break
        good, _n, bad = _checked_ledgers(client, settings, slot, _Records(client, settings, slot, now))
        out.extend(good)
        if refused is not None:
            refused.extend(bad)
    return out


def pending_uploads(client: CiClient, settings: Settings, *, now: datetime,
                    refused: Optional[List[Refusal]] = None) -> Dict[str, List[str]]:
    """Good records in no good ledger yet: object key -> the slots (UTC, compact) they wait in. Records and ledgers
    that fail a check go to `refused` when given, as a refused checkpoint does (then the look-back is listed).
    `now` is the caller's clock: records are checked against it."""
    _checkpoint, start, bad = _start_after(client, settings, now)
    slots = set(_slots_after(client, pending_dir(settings), start)) | set(_late_markers(client, settings))
    out: Dict[str, List[str]] = {}
    for slot in sorted(slots):
        records = _Records(client, settings, slot, now)
        ledgers, _n, refused_ledgers = _checked_ledgers(client, settings, slot, records)
        counted = {rid for batch in ledgers for rid in batch.records}
        waiting, refused_records = records.split(set(records.listed) - counted)
        bad += refused_ledgers + refused_records
        for key in waiting.values():
            out.setdefault(key, []).append(compact(slot))
    if refused is not None:
        refused.extend(bad)
    return out
