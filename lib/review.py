"""Reviewed images: an operator's decision on a flagged image, kept by key and ETag in state.

Every job we make after a restore leaves that exact content out (the paths call `ReviewStore.split`); an ETag that
differs is new content and is inspected again, and a released (confirmed bad) image uploaded again is acted on again.
One object per decision, `STATE_PREFIX/reviewed/<digest(key)>-<digest(etag)>.json`: a listing names which (key, ETag)
pairs were reviewed without reading any; a record read back must recompute its own name, and one that would exclude
content must name a batch job CI holds that flagged its key, so neither a name nor a body alone excludes anything."""

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Dict, FrozenSet, Iterable, List, Literal, Optional, Sequence, Tuple

from pydantic import BaseModel, ConfigDict, ValidationError

from lib import logs
from lib.client import CiClient
from lib.errors import TamperedStateError
from lib.jobs import is_batch_job_id
from lib.windows import CLOCK_SKEW, as_utc, format_utc, parse_ci_time

REVIEW_FOLDER = "reviewed/"
Decision = Literal["restoring", "restored", "releasing", "released"]
# A restore under way already excludes its content: a job made while the copy back runs must not take it again.
EXCLUDING: Tuple[str, ...] = ("restoring", "restored")
# What CI had done to the image, as the flagging job asked (its JobParam.ImageInspect), or "none" (AutoProcess off).
Action = Literal["BackupObject", "SwitchObjectToPrivate", "DeleteObject", "none"]
_NAME = re.compile(r"^([0-9a-f]{32})-([0-9a-f]{16})\.json$")


def normal_etag(etag: str) -> str:
    """An ETag as compared here: without the quotes COS puts around it, lower case."""
    return etag.strip().strip('"').lower()


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def etag_digest(etag: str) -> str:
    return hashlib.sha256(normal_etag(etag).encode("utf-8", "surrogatepass")).hexdigest()[:16]


class ReviewRecord(BaseModel):
    """One decision on one flagged image: restored (a false positive) or released (a true one), or under way."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)  # built when a record is met
    key: str
    etag: str  # of the content the decision is about (a restore: the content put back)
    decision: Decision
    decided_at: datetime
    job_id: str = ""  # the batch job that flagged it
    action: Action = "none"
    version_id: str = ""  # a deleted image: the version a restore brought back


def record_name(state_prefix: str, key: str, etag: str) -> str:
    return f"{state_prefix}{REVIEW_FOLDER}{key_digest(key)}-{etag_digest(etag)}.json"


@dataclass
class Split:
    """The objects a job may take (kept) and the reviewed ones it leaves out (excluded), in the order given."""

    kept: List[str] = field(default_factory=list)
    excluded: List[str] = field(default_factory=list)


class ReviewStore:
    """Review decisions under STATE_PREFIX/reviewed/: recorded by the operator CLI, read back checked by every path."""

    def __init__(self, client: CiClient, state_prefix: str, clock: Callable[[], datetime]):
        self.client = client
        self.state_prefix = state_prefix
        self.folder = f"{state_prefix}{REVIEW_FOLDER}"
        self.clock = clock
        self.tampered: List[TamperedStateError] = []
        self._names: Optional[Dict[str, FrozenSet[str]]] = None  # key digest -> etag digests listed
        self._jobs: Dict[str, Optional[_FlaggingJob]] = {}  # job id -> the ImageInspect batch job CI holds, or None
        self._flagged: Dict[Tuple[str, str], bool] = {}  # (job id, key) -> whether that job's results flagged it

    def record(self, record: ReviewRecord) -> None:
        self.client.put_object(record_name(self.state_prefix, record.key, record.etag),
                               record.model_dump_json().encode("utf-8"), "application/json")
        self._names = None

    def get(self, key: str, etag: str) -> Optional[ReviewRecord]:
        """The decision on exactly this content, if one is stored and is one our CLI wrote; else None."""
        name = record_name(self.state_prefix, key, etag)
        raw = self.client.get_object(name)
        return None if raw is None else self._checked(raw, name)

    def _checked(self, raw: bytes, name: str) -> Optional[ReviewRecord]:
        try:
            record = ReviewRecord.model_validate_json(raw)
        except ValidationError as exc:
            problem = f"is not a review record our CLI writes ({exc.error_count()} problem(s))"
        else:
            problem = _record_problem(record, name, self.state_prefix, self.clock())
            if not problem:
                return record
        return self._ignored(name, problem)

    def _ignored(self, name: str, problem: str) -> None:
        error = TamperedStateError(f"review record {name[:300]!r} {problem}; it is ignored: the image is inspected "
                                   "as if never reviewed")
        self.tampered.append(error)
        logs.log("state_tampered", key=name[:300], error=str(error))
        return None

    def _listed(self) -> Dict[str, FrozenSet[str]]:
        """One listing of the folder (cached for this store): which (key, ETag) digests have a record."""
        if self._names is None:
            names: Dict[str, set] = {}
            for key in self.client.list_keys(self.folder):
                match = _NAME.match(key[len(self.folder):])
                if match is None:
                    self.tampered.append(TamperedStateError(
                        f"{key[:200]!r} under {self.folder} is not a review record of ours; it is ignored"))
                    continue
                names.setdefault(match.group(1), set()).add(match.group(2))
            self._names = {k: frozenset(v) for k, v in names.items()}
        return self._names

    def may_cover(self, key: str) -> bool:
        """Whether any decision is listed for this key (then its ETag decides); lists the folder once."""
        return key_digest(key) in self._listed()

    def covers(self, key: str, etag: str) -> bool:
        """Whether the operator restored exactly this content: listed, read back as ours, and backed by CI."""
        listed = self._listed().get(key_digest(key))
        if not listed or etag_digest(etag) not in listed:
            return False
        record = self.get(key, etag)
        if record is None or record.decision not in EXCLUDING:
            return False
        problem = self._unbacked(record)
        if problem:
            self._ignored(record_name(self.state_prefix, key, etag), problem)
        return not problem

    def _unbacked(self, record: ReviewRecord) -> str:
        """Why CI does not back a restore ('' if it does): its job must be an ImageInspect batch job, created before
        the decision, whose results flagged the record's key. Costs a GET once per job and, per key, the job's
        results on that key alone (inputObject), whatever the job's size."""
        job_id = record.job_id
        if not is_batch_job_id(job_id):
            return f"names job id {job_id[:80]!r}, which is not a CI batch job id"
        if job_id not in self._jobs:
            self._jobs[job_id] = self._flagging_job(job_id)
        job = self._jobs[job_id]
        if job is None:
            return f"names job {job_id}, which is not an ImageInspect batch job CI holds"
        if job.created is not None and job.created > as_utc(record.decided_at) + CLOCK_SKEW:
            return f"names job {job_id}, created at {format_utc(job.created)}, after the decision"
        if (job_id, record.key) not in self._flagged:
            # The key is compared here too: the filter is CI's, the check is ours.
            self._flagged[(job_id, record.key)] = any(
                r.suspicious and r.key == record.key
                for r in self.client.iter_media_jobs(job_id, input_object=record.key))
        if not self._flagged[(job_id, record.key)]:
            return f"names job {job_id}, whose results did not flag {record.key[:200]!r}"
        return ""

    def _flagging_job(self, job_id: str) -> Optional["_FlaggingJob"]:
        job = self.client.get_job(job_id)
        if job is None or job.per_object_kind != "ImageInspect":
            return None
        try:
            created = parse_ci_time(job.CreationTime) if job.CreationTime else None
        except ValueError:
            created = None
        return _FlaggingJob(None if created is None else as_utc(created))

    def split(self, objects: Sequence[Tuple[str, Optional[str]]], head: Callable[[str], Optional[str]]) -> Split:
        """Leave out the reviewed (key, ETag) pairs. An unknown ETag (None) is asked with `head` only for a key with
        a decision listed: the object's ETag now, or None when it is gone (kept: CI reports a missing key)."""
        out = Split()
        for key, etag in objects:
            if self.may_cover(key):
                now = etag if etag else head(key)
                if now and self.covers(key, now):
                    out.excluded.append(key)
                    continue
            out.kept.append(key)
        return out

    def records(self, keys: Optional[Iterable[str]] = None) -> List[ReviewRecord]:
        """Every good decision (only those on `keys` when given), newest first: one listing + one GET per record
        read; bad ones are noted in `tampered`."""
        if isinstance(keys, str):
            raise TypeError("records(keys): give a collection of keys, not one key string")
        wanted = None if keys is None else {key_digest(k) for k in keys}
        out = []
        for kd, etags in self._listed().items():
            if wanted is not None and kd not in wanted:
                continue
            for ed in sorted(etags):
                name = f"{self.folder}{kd}-{ed}.json"
                raw = self.client.get_object(name)
                record = None if raw is None else self._checked(raw, name)
                if record is not None:
                    out.append(record)
        return sorted(out, key=lambda r: as_utc(r.decided_at), reverse=True)


@dataclass(frozen=True)
class _FlaggingJob:
    created: Optional[datetime]  # CI's CreationTime (None when it gives none)


def _record_problem(record: ReviewRecord, name: str, state_prefix: str, now: datetime) -> str:
    """Why a stored record cannot be one our CLI wrote ('' if it can): its name and its time."""
    derived = record_name(state_prefix, record.key, record.etag)
    if name != derived:
        return f"holds key {record.key[:200]!r} and ETag {record.etag[:80]!r}, whose record is {derived}"
    if as_utc(record.decided_at) > as_utc(now) + CLOCK_SKEW:
        return f"was decided at {format_utc(record.decided_at)}, after this function's clock {format_utc(now)}"
    return ""


Status = Literal["pending", "restored", "released"]


def status_of(record: Optional[ReviewRecord]) -> Status:
    """pending (no decision since the flag), restored (a false positive) or released (a true one); a decision under
    way counts as made."""
    if record is None:
        return "pending"
    return "released" if record.decision in ("releasing", "released") else "restored"


def reviewed_after(records: Iterable[ReviewRecord], key: str, moment: Optional[datetime]) -> Optional[ReviewRecord]:
    """The newest decision on key made after `moment` (a flag's job creation), or None: that flag awaits review."""
    for record in records:  # newest first
        if record.key == key and (moment is None or as_utc(record.decided_at) >= as_utc(moment)):
            return record
    return None
