"""Coalesced uploads' stored state (UPLOAD_BATCH_SECONDS > 0): its layout, the checks on what is read back, readers.

Layout under STATE_PREFIX/uploads/ (docs/reliability.md, "Coalescing uploads"):
  pending/<slot>/<id>/<key>   one record per upload, its body the upload's identity (RecordBody), or
                              pending/<slot>/<id>.long whose body also holds a key too long for the path
  late/<slot>/<id>            a record that may have missed its slot's first flush
  batches/<slot>/<n>.json     ledger n of a slot: which records went into which job (the commit point); a batch
                              a cap held is marked held until its plan is decided, one declined is marked so; the
                              keys an operator reviewed (lib.review) are left out of its job, and a batch of only
                              those is marked reviewed, done without a job
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
from typing import TYPE_CHECKING, Dict, Iterable, Iterator, List, NamedTuple, Optional, Set, Tuple

from pydantic import BaseModel, ConfigDict, ValidationError

from lib.client import CiClient
from lib.config import Settings
from lib.errors import CloudApiError, StateError, TamperedStateError
from lib.events import UploadedObject
from lib.jobs import is_batch_job_id, upload_batch_job_name
from lib.upload_rules import skip_reason
from lib.windows import as_utc, compact

if TYPE_CHECKING:
    from lib.review import ReviewStore

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

_LEDGER_NAME = re.compile(r"^(\d{6,})\.json$")  # ledger_key: n, zero-padded to 6 digits

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


class UploadBatch(BaseModel):
    """One ledger: the records (and their keys) a batch job covers; job_id is empty until the job exists."""

    # Built on first use: a timer tick in per-event mode never needs it (cold start).
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)
    slot: datetime
    n: int
    records: List[str]
    keys: List[str]  # what its job covers (its manifest's lines)
    manifest_key: str
    job_name: str
    job_id: str = ""
    # committed: records claimed, job not yet made; held: a cap held its job (its plan waits for the operator);
    # submitted: the job exists; declined: its plan was declined or expired, its records done without a job;
    # reviewed: every key was left out (below), its records done without a job
    state: str = "committed"
    # Keys of its records left out of the job: every record of the key uploaded content an operator reviewed
    # (lib.review), decided at the commit; checked against the review records whenever read back unsent.
    excluded: List[str] = []


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


def _root(settings: Settings) -> str:
    return f"{settings.state_prefix}uploads/"


def pending_dir(settings: Settings, slot: Optional[datetime] = None) -> str:
    return f"{_root(settings)}pending/" + (f"{compact(slot)}/" if slot is not None else "")


def late_dir(settings: Settings) -> str:
    return f"{_root(settings)}late/"


def batches_dir(settings: Settings, slot: Optional[datetime] = None) -> str:
    return f"{_root(settings)}batches/" + (f"{compact(slot)}/" if slot is not None else "")


def ledger_key(settings: Settings, slot: datetime, n: int) -> str:
    return f"{batches_dir(settings, slot)}{n:06d}.json"


def checkpoint_key(settings: Settings) -> str:
    return f"{_root(settings)}checkpoint.json"


def refused_dir(settings: Settings) -> str:
    return f"{_root(settings)}refused/"


def manifest_key(settings: Settings, slot: datetime, n: int) -> str:
    """Where batch n of a slot writes its manifest: derived, never read from a ledger."""
    return f"{settings.state_prefix}manifests/upload-batch-{compact(slot)}-{n:06d}.txt"


def batch_claim(slot: datetime, n: int) -> str:
    """The claim a held batch's plan derives its id from (lib.plans.plan_id_of("batch", ...))."""
    return f"upload-batch@{compact(as_utc(slot))}#{n}"


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


def _check_record(settings: Settings, slot: datetime, rid: str, stored: str, raw: Optional[bytes]) -> Tuple[str, str]:
    """The upload key and ETag of a record that passes every check; raises TamperedStateError naming the failed one."""
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
    return key, body.etag


def _check_object(client: CiClient, slot: datetime, key: str, now: datetime, what: str, *,
                  waited: bool = True) -> None:
    """The record may be an upload of the object as it is now: raises TamperedStateError when it cannot be.
    `waited` False: a held batch's records may wait as long as its plan (PLAN_EXPIRY_DAYS)."""
    if waited and slot < as_utc(now) - RECORD_MAX_WAIT:
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


class Records:
    """A slot's listed records, each read and checked at most once per flush: one GET of the record and one HEAD of
    the object it names."""

    def __init__(self, client: CiClient, settings: Settings, slot: datetime, now: datetime,
                 reviews: Optional["ReviewStore"] = None) -> None:
        self.client, self.settings, self.slot, self.now = client, settings, slot, now
        self.listed = _records(client, settings, slot)
        self._bodies: Dict[str, Tuple[str, Optional[TamperedStateError]]] = {}
        self._etags: Dict[str, str] = {}
        self._objects: Dict[str, Optional[TamperedStateError]] = {}
        self._reviews = reviews  # a flush pass shares one store (one listing of the review folder per pass)

    def check(self, rid: str, *, submitted: bool = False) -> Tuple[str, Optional[TamperedStateError]]:
        """(key, None) for a good record, ('', error) for a refused one. A record a checked submitted ledger claims
        was checked against its object when committed: only its body is checked again (the object may be old now)."""
        stored = self.listed[rid]
        if rid not in self._bodies:
            try:
                raw = self.client.get_object(stored) if _RECORD_ID.match(rid) else b""
                key, self._etags[rid] = _check_record(self.settings, self.slot, rid, stored, raw)
                self._bodies[rid] = (key, None)
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

    def check_held(self, rid: str) -> Tuple[str, Optional[TamperedStateError]]:
        """A held batch's record before its confirmed job is sent: every check but how long it waited."""
        key, error = self.check(rid, submitted=True)
        if error is None:
            try:
                _check_object(self.client, self.slot, key, self.now, f"upload record {self.listed[rid]!r}",
                              waited=False)
            except TamperedStateError as exc:
                return "", exc
        return key, error

    def reviewed(self, rids: Iterable[str]) -> List[str]:
        """The keys every good record of which (among `rids`) uploaded content an operator reviewed (lib.review): each
        record's ETag, or the object's now when the record has none. No call when `rids` is empty."""
        pairs = []
        for rid in sorted(rids):
            key, error = self.check(rid, submitted=True)
            if error is None:
                pairs.append((key, self._etags.get(rid) or None))
        if not pairs:
            return []
        if self._reviews is None:
            from lib.review import ReviewStore  # read only when a slot has records to commit or check

            self._reviews = ReviewStore(self.client, self.settings.state_prefix, lambda: self.now)
        split = self._reviews.split(pairs, self._etag_now)
        return sorted(set(split.excluded) - set(split.kept))

    def _etag_now(self, key: str) -> Optional[str]:
        head = self.client.head_object(key)
        return next((v for k, v in (head or {}).items() if k.lower() == "etag"), None)

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
    if batch.state not in ("committed", "held", "submitted", "declined", "reviewed") or (
            (batch.state == "submitted") != bool(batch.job_id)) or (batch.state == "reviewed") != (not batch.keys):
        raise _refuse(what, "has a state, job id and keys this version never writes together")
    if batch.records != sorted(set(batch.records)) or not batch.records or batch.keys != sorted(set(batch.keys)) or (
            batch.excluded != sorted(set(batch.excluded) - set(batch.keys))):
        raise _refuse(what, "lists records or keys out of order, twice, or none, or leaves out a key it covers")
    return batch.model_copy(update=derived)


def checked_ledgers(client: CiClient, settings: Settings, slot: datetime, records: Records
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


def _check_claims(client: CiClient, settings: Settings, key: str, batch: UploadBatch, records: Records) -> None:
    what = f"batch ledger {key!r}"
    missing = [r for r in batch.records if r not in records.listed]
    if missing:
        raise _refuse(what, f"claims record(s) {', '.join(missing[:3])} that the slot does not hold")
    if batch.state in ("held", "declined"):
        _check_plan(client, settings, what, batch, records.now)
    # Its records were checked against their objects when it was committed (a held one's again when confirmed).
    settled = batch.state != "committed"
    keys: Set[str] = set()
    for rid in batch.records:
        named = _named_key(settings, batch.slot, rid, records.listed[rid])
        if named is None or not settled:
            named, error = records.check(rid, submitted=settled)
            if error is not None:
                raise _refuse(what, f"claims a refused record: {error}")
        keys.add(named)
    if sorted(keys) != sorted(batch.keys + batch.excluded):
        raise _refuse(what, "lists keys that are not its records' keys")
    if batch.excluded and batch.state in ("committed", "held", "reviewed"):  # unsent: it must be so
        error = next((e for e in (records.check(rid, submitted=True)[1] for rid in batch.records) if e), None)
        if error is not None:
            raise _refuse(what, f"claims a refused record: {error}")
        unbacked = sorted(set(batch.excluded) - set(records.reviewed(batch.records)))
        if unbacked:
            raise _refuse(what, f"leaves out {unbacked[0][:200]!r} as reviewed by an operator, which no review record "
                                "backs for the ETag its records carry")
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


def _check_plan(client: CiClient, settings: Settings, what: str, batch: UploadBatch, now: datetime) -> None:
    """A held or declined ledger's records wait for the operator or are never sent: only a plan of the id the
    ledger's slot and n derive may say so (declined: one declined or expired). Raises TamperedStateError (its
    records then wait for a batch again, gated as any other)."""
    from lib.plans import PlanStore, plan_id_of  # read only when a cap held a batch

    plan_id = plan_id_of("batch", batch_claim(batch.slot, batch.n))
    plan = PlanStore(client, settings.state_prefix, lambda: now).get(plan_id)
    if plan is None or (batch.state == "declined" and plan.status not in ("declined", "expired")):
        raise _refuse(what, f"says it was {batch.state}, but plan {plan_id} of its slot and batch is "
                            f"{'absent' if plan is None else plan.status}")


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


def folders(client: CiClient, prefix: str, after: str) -> Iterator[str]:
    return (folder for page in client.iter_pages(prefix, after, "/") for folder in page.folders)


def slots_after(client: CiClient, base: str, after: Optional[datetime]) -> List[datetime]:
    start = f"{base}{compact(after)}/" if after is not None else ""
    slots = (parse_slot(folder[len(base):-1]) for folder in folders(client, base, start))
    return sorted(s for s in slots if s is not None and (after is None or s > after))


def late_markers(client: CiClient, settings: Settings) -> Dict[datetime, Dict[str, str]]:
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
    raw = client.get_object(checkpoint_key(settings))
    if raw is None:
        return None
    try:
        slot = as_utc(UploadCheckpoint.model_validate_json(raw).slot)
    except ValidationError:
        raise _refuse(f"coalescing checkpoint {checkpoint_key(settings)!r}", "is unreadable") from None
    if now is not None and slot > as_utc(now) + CHECKPOINT_SKEW:
        raise _refuse(f"coalescing checkpoint {checkpoint_key(settings)!r}",
                      f"names slot {compact(slot)}, after the function's clock ({compact(as_utc(now))}) plus "
                      f"{int(CHECKPOINT_SKEW.total_seconds())} s; the pass lists the last "
                      f"{RECOVERY_LOOKBACK.days} days' slots instead")
    return slot


def start_after(client: CiClient, settings: Settings, now: datetime
                 ) -> Tuple[Optional[datetime], Optional[datetime], List[Refusal]]:
    """(the checkpoint as read, where listing starts, refusals): a refused checkpoint is replaced by the look-back."""
    try:
        checkpoint = read_checkpoint(client, settings, now)
        if checkpoint is not None:
            _check_backed(client, settings, checkpoint, now)
    except TamperedStateError as exc:
        start = slot_of(as_utc(now) - RECOVERY_LOOKBACK, settings.upload_batch_seconds) - timedelta(seconds=1)
        return None, start, [Refusal(checkpoint_key(settings), exc)]
    return checkpoint, checkpoint, []


def _check_backed(client: CiClient, settings: Settings, slot: datetime, now: datetime) -> None:
    """A checkpoint names a slot a flush gave a batch job: one of its ledgers passes every check, including that
    CI holds the job of its name, which a bucket writer cannot create. Raises TamperedStateError."""
    good, _n, _bad = checked_ledgers(client, settings, slot, Records(client, settings, slot, now))
    if not any(batch.job_id for batch in good):
        raise _refuse(f"coalescing checkpoint {checkpoint_key(settings)!r}",
                      f"names slot {compact(slot)}, which has no batch job a flush made; the pass lists the last "
                      f"{RECOVERY_LOOKBACK.days} days' slots instead")


_BATCH_NAME = re.compile(r"-upload-batch-(\d{8}T\d{6}Z)-(\d+)$")


def batch_of_job(prefix: str, name: str) -> Optional[Tuple[datetime, int]]:
    """(slot, n) of a batch job by its name (upload_batch_job_name), or None for any other job."""
    match = _BATCH_NAME.search(name) if name.startswith(f"{prefix}-upload-batch-") else None
    slot = parse_slot(match.group(1)) if match else None
    return (slot, int(match.group(2))) if match and slot is not None else None


def read_ledger(client: CiClient, settings: Settings, slot: datetime, n: int) -> Optional[UploadBatch]:
    """One batch's ledger, or None when it is gone (the lifecycle rule); raises TamperedStateError when its names
    disagree with its key (a reader without the slot's listing checks only what derives from the key)."""
    key = ledger_key(settings, slot, n)
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
    for folder in folders(client, base, after):
        slot = parse_slot(folder[len(base):-1])
        if slot is None or slot < as_utc(since):
            continue
        if slot >= as_utc(until):
            break
        good, _n, bad = checked_ledgers(client, settings, slot, Records(client, settings, slot, now))
        out.extend(good)
        if refused is not None:
            refused.extend(bad)
    return out


def pending_uploads(client: CiClient, settings: Settings, *, now: datetime,
                    refused: Optional[List[Refusal]] = None) -> Dict[str, List[str]]:
    """Good records in no good ledger yet: object key -> the slots (UTC, compact) they wait in. Records and ledgers
    that fail a check go to `refused` when given, as a refused checkpoint does (then the look-back is listed).
    `now` is the caller's clock: records are checked against it."""
    _checkpoint, start, bad = start_after(client, settings, now)
    slots = set(slots_after(client, pending_dir(settings), start)) | set(late_markers(client, settings))
    out: Dict[str, List[str]] = {}
    for slot in sorted(slots):
        records = Records(client, settings, slot, now)
        ledgers, _n, refused_ledgers = checked_ledgers(client, settings, slot, records)
        counted = {rid for batch in ledgers for rid in batch.records}
        waiting, refused_records = records.split(set(records.listed) - counted)
        bad += refused_ledgers + refused_records
        for key in waiting.values():
            out.setdefault(key, []).append(compact(slot))
    if refused is not None:
        refused.extend(bad)
    return out
