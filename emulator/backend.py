"""All emulator state (buckets, objects, batch jobs, per-object jobs, workflows) and its reset; no HTTP here."""
from __future__ import annotations

import base64
import bisect
import hashlib
import itertools
import threading
import time
import uuid
from collections import defaultdict
from datetime import datetime, timezone
from typing import Callable, Deque, Dict, Iterable, List, NamedTuple, Optional, Protocol, Tuple

from .errors import EmulatorError, invalid_argument, no_such_bucket, no_such_key
from .inventory import (
    LIST_PAGE_SIZE,
    MAX_CONFIGURATIONS,
    ROWS_PER_FILE,
    InventoryConfig,
    InventoryReport,
    InventoryRunError,
    build_report,
    report_date,
)
from .models import (
    JOB_STATES,
    TERMINAL_STATES,
    BatchJob,
    InspectJob,
    ObjectRecord,
    ObjectVersion,
    Workflow,
    WorkflowExecution,
    record_copy,
)
from .store import Store
from .validation import BatchJobSpec, WorkflowSpec
from .xmlio import parse_ci_time

Clock = Callable[[], datetime]
MAX_LIST_SIZE = 100
VERSIONING_STATES = ("Enabled", "Suspended")
NULL_VERSION = "null"  # the version id of an object put while versioning was never enabled, or suspended


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def no_such_version(key: str, version_id: str) -> EmulatorError:
    return EmulatorError(404, "NoSuchVersion", f"The specified version {version_id!r} does not exist.", resource=key)


class DeleteOutcome(NamedTuple):
    """What a DELETE Object did: whether something was there, the version id it made or removed, and whether
    that version is a delete marker (the x-cos-version-id / x-cos-delete-marker response headers)."""

    existed: bool
    version_id: str
    delete_marker: bool


def _normalize_metadata(metadata: Optional[Dict[str, str]]) -> Dict[str, str]:
    out = {}
    for name, value in (metadata or {}).items():
        name = name.lower()
        if name.startswith("x-cos-meta-"):
            name = name[len("x-cos-meta-"):]
        out[name] = str(value)
    return out


class BucketObjects(Dict[str, ObjectRecord]):
    """One bucket's objects by key, with the keys also kept in order, so a GET Bucket page starts by bisection
    instead of sorting the whole bucket (1,000 pages over 1,000,000 keys would sort it 1,000 times)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._ordered: Optional[List[str]] = None  # None: rebuilt on the next listing
        self._added: List[str] = []  # new keys since, merged in on the next listing

    def __setitem__(self, key: str, value: ObjectRecord) -> None:
        if self._ordered is not None and key not in self:
            self._added.append(key)
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._forget(key)

    def pop(self, key: str, *default):  # type: ignore[override]
        if key in self:
            self._forget(key)
        return super().pop(key, *default)

    def _forget(self, key: str) -> None:
        if self._ordered is None:
            return
        if key in self._added:
            self._added.remove(key)
            return
        at = bisect.bisect_left(self._ordered, key)
        if at < len(self._ordered) and self._ordered[at] == key:
            del self._ordered[at]

    def _rebuild(self) -> None:
        self._ordered, self._added = None, []

    # Bulk changes are rare (tests, a store load): they drop the order and the next listing rebuilds it.
    def update(self, *args, **kwargs) -> None:  # type: ignore[override]
        self._rebuild()
        super().update(*args, **kwargs)

    def setdefault(self, key: str, default: ObjectRecord) -> ObjectRecord:  # type: ignore[override]
        self._rebuild()
        return super().setdefault(key, default)

    def popitem(self):  # type: ignore[override]
        self._rebuild()
        return super().popitem()

    def clear(self) -> None:
        self._rebuild()
        super().clear()

    def ordered_keys(self) -> List[str]:
        """Every key in UTF-8 byte order (code-point order, which UTF-8 keeps), as GET Bucket lists them."""
        if self._ordered is None:
            self._ordered, self._added = sorted(self), []
        elif self._added:
            # Timsort merges the ordered run and the sorted additions in about linear time.
            self._ordered = self._ordered + sorted(self._added)
            self._ordered.sort()
            self._added = []
        return self._ordered


def _sort_key(record) -> Tuple[float, int]:
    """(creation timestamp, seq), cached on the live record: listing 10,000 per-object jobs stays cheap."""
    key = record.__dict__.get("_sort_key")
    if key is None or key[1] != record.seq:
        key = (round(record.creation_time.timestamp(), 6), record.seq)
        record.__dict__["_sort_key"] = key
    return key


class ListFilter:
    """Filters and paging shared by the batch-job, per-object-job and workflow-execution lists."""

    def __init__(self, states: str = "All", order: str = "Desc", size: str = "10", next_token: str = "",
                 start: Optional[str] = None, end: Optional[str] = None, bounds: str = "inclusive"):
        if bounds not in ("inclusive", "strict"):
            raise ValueError(f"bounds must be inclusive or strict, got {bounds!r}")
        self.strict = bounds == "strict"
        self.states = self._states(states)
        if order not in ("Asc", "Desc"):
            raise invalid_argument(f"orderByTime must be Asc or Desc, got {order!r}")
        self.descending = order == "Desc"
        try:
            self.size = int(size) if size not in (None, "") else 10
        except ValueError as exc:
            raise invalid_argument(f"size must be an integer, got {size!r}") from exc
        if not 1 <= self.size <= MAX_LIST_SIZE:
            raise invalid_argument(f"size must be between 1 and {MAX_LIST_SIZE}, got {self.size}")
        self.after: Optional[Tuple[float, int]] = self._token(next_token) if next_token else None
        self.start = parse_ci_time(start, "startCreationTime") if start else None
        self.end = parse_ci_time(end, "endCreationTime") if end else None

    def _in_bounds(self, created: datetime) -> bool:
        start, end = self.start, self.end
        if self.strict:
            return (start is None or created > start) and (end is None or created < end)
        return (start is None or created >= start) and (end is None or created <= end)

    @staticmethod
    def _states(states: Optional[str]) -> Optional[set]:
        parts = [s.strip() for s in (states or "All").split(",") if s.strip()]
        if not parts or "All" in parts:
            return None
        bad = [s for s in parts if s not in JOB_STATES]
        if bad:
            raise invalid_argument(f"states has an unknown state {bad[0]!r}")
        return set(parts)

    @staticmethod
    def _token(token: str) -> Tuple[float, int]:
        try:
            ts, seq = token.split("-", 1)
            return float(ts), int(seq)
        except ValueError as exc:
            raise invalid_argument(f"nextToken {token!r} is not valid") from exc

    def page(self, records: Iterable, state_of: Callable = lambda r: r.state) -> Tuple[list, str]:
        """Filter by state and creation time ([start, end], or (start, end) when strict), order, and cut one page
        after the token. Times compare at whole seconds, the resolution of CreationTime and of the bounds."""
        rows = []
        states = self.states
        for rec in records:
            if states is not None and state_of(rec) not in states:
                continue
            if not self._in_bounds(rec.creation_time.replace(microsecond=0)):
                continue
            rows.append((_sort_key(rec), rec))
        rows.sort(key=lambda row: row[0], reverse=self.descending)
        if self.after is not None:
            keys = [row[0] for row in rows]
            if self.descending:  # keys descend: skip every key >= the token
                lo, hi = 0, len(keys)
                while lo < hi:
                    mid = (lo + hi) // 2
                    if keys[mid] >= self.after:
                        lo = mid + 1
                    else:
                        hi = mid
                rows = rows[lo:]
            else:
                rows = rows[bisect.bisect_right(keys, self.after):]
        page = rows[:self.size]
        token = ""
        if len(rows) > self.size:
            last = page[-1][0]
            token = f"{last[0]:.6f}-{last[1]}"
        return [rec for _, rec in page], token


class JobRunner(Protocol):
    """What moves jobs (``emulator.executor``), passed in so that this module does not import it."""

    def step(self, backend: Backend, max_objects: Optional[int] = None) -> bool: ...

    def run_pending(self, backend: Backend) -> int: ...


class Backend:
    """State of one emulated account: every bucket, object, job and workflow, behind one lock.

    ``reset()`` re-initialises all state (moto's pattern), keeping only the configuration; with a data directory
    the state is loaded at start and written through on every change."""

    def __init__(self, data_dir: Optional[str] = None, inspector: Optional[Callable[[bytes], dict]] = None,
                 runner: Optional[JobRunner] = None):
        self.runner = runner
        self.lock = threading.RLock()
        self.work = threading.Condition(self.lock)
        self.store: Optional[Store] = Store(data_dir) if data_dir else None
        self.inspector = inspector
        with self.lock:
            self._init_state()
            if self.store is not None:
                self._load()

    def _init_state(self) -> None:
        self._clock: Clock = utc_now
        self._seq = 0
        self.buckets: Dict[str, BucketObjects] = {}
        self.bucket_created: Dict[str, datetime] = {}
        self.jobs: Dict[str, BatchJob] = {}
        self.inspect_jobs: Dict[str, InspectJob] = {}
        self.inspect_jobs_by_batch: Dict[str, List[InspectJob]] = defaultdict(list)
        self.workflows: Dict[str, Workflow] = {}
        self.executions: Dict[str, WorkflowExecution] = {}
        self.executions_by_batch: Dict[str, List[WorkflowExecution]] = defaultdict(list)
        self._claimed: set = set()
        self._queues: Dict[str, Deque[str]] = {}
        self.inventories: Dict[str, Dict[str, InventoryConfig]] = defaultdict(dict)
        self.one_time_inventories: Dict[Tuple[str, str], str] = {}  # (bucket, id) → the date it was submitted
        # Only buckets whose versioning was ever set: status, and every key's versions oldest first (delete markers
        # included). ``buckets`` keeps each key's latest version unless that is a delete marker, so GET Bucket and
        # every other reader of current objects work unchanged.
        self._versioning: Dict[str, str] = {}
        self.versions: Dict[str, Dict[str, List[ObjectRecord]]] = {}
        self._version_tick = 0

    # ----- lifecycle -------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything (including the data directory's content) and restore the real clock."""
        with self.lock:
            if self.store is not None:
                self.store.wipe()
            self._init_state()

    def clock(self) -> datetime:
        """Now, as an aware UTC datetime (injectable with :meth:`set_clock`)."""
        value = self._clock()
        if value.tzinfo is None:
            raise ValueError("the clock must return an aware datetime")
        return value.astimezone(timezone.utc)

    def set_clock(self, clock: Optional[Clock]) -> None:
        """Use ``clock`` for Last-Modified and job times; None restores the real clock."""
        self._clock = clock or utc_now

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _load(self) -> None:
        assert self.store is not None
        state = self.store.load()
        for name, (created, objects) in state["buckets"].items():
            self.buckets[name] = BucketObjects(objects)
            self.bucket_created[name] = datetime.fromisoformat(created) if created else utc_now()
        for name, status in state.get("versioning", {}).items():
            if status:
                self._load_versions(name, status, state["versions"].get(name, {}))
        for job, inspect_jobs, executions in state["jobs"]:
            self.jobs[job.job_id] = job
            for ij in inspect_jobs:
                self.inspect_jobs[ij.job_id] = ij
                if ij.batch_job_id:
                    self.inspect_jobs_by_batch[ij.batch_job_id].append(ij)
            for ex in executions:
                self.executions[ex.run_id] = ex
                self.executions_by_batch[ex.batch_job_id].append(ex)
        for wf in state["workflows"]:
            self.workflows[wf.workflow_id] = wf
        for bucket, configs in state.get("inventories", {}).items():
            for data in sorted(configs, key=lambda c: c.get("seq", 0)):
                config = InventoryConfig.from_json(data)
                self.inventories[bucket][config.id] = config
        seqs = [r.seq for r in list(self.jobs.values()) + list(self.inspect_jobs.values())
                + list(self.workflows.values()) + list(self.executions.values())]
        seqs += [c.seq for configs in self.inventories.values() for c in configs.values()]
        self._seq = max(seqs, default=0)

    def _load_versions(self, bucket: str, status: str, histories: Dict[str, List[ObjectRecord]]) -> None:
        """A key's versions file wins over its ``objects/`` file; a key with none (a crash while versioning was being
        enabled) becomes its own "null" version, as enabling would have made it."""
        self._versioning[bucket] = status
        self.versions[bucket] = histories
        objects = self.buckets[bucket]
        for key, history in histories.items():
            if history[-1].delete_marker:
                objects.pop(key, None)
            else:
                objects[key] = history[-1]
        for key in [k for k in objects if k not in histories]:
            objects[key].version_id = NULL_VERSION
            histories[key] = [objects[key]]

    def persist_job(self, job: BatchJob) -> None:
        """Write a batch job with its per-object jobs and executions (no-op in memory mode)."""
        if self.store is not None:
            with self.lock:
                self.store.save_job(job, list(self.inspect_jobs_by_batch.get(job.job_id, [])),
                                    list(self.executions_by_batch.get(job.job_id, [])))

    # ----- buckets and objects ---------------------------------------------------------------------
    def create_bucket(self, name: str, exist_ok: bool = False) -> None:
        """Create a bucket.

        Raises:
            EmulatorError: 409 BucketAlreadyExists unless ``exist_ok``.
        """
        with self.lock:
            if name in self.buckets:
                if exist_ok:
                    return
                raise EmulatorError(409, "BucketAlreadyExists", "The requested bucket name is not available.",
                                    resource=name)
            self.buckets[name] = BucketObjects()
            self.bucket_created[name] = self.clock()
            if self.store is not None:
                self.store.save_bucket(name, self.bucket_created[name].isoformat())

    def has_bucket(self, name: str) -> bool:
        with self.lock:
            return name in self.buckets

    def delete_bucket(self, name: str) -> None:
        """Raises: EmulatorError 404 NoSuchBucket, 409 BucketNotEmpty (also for old versions or delete markers)."""
        with self.lock:
            objects = self._bucket(name)
            if objects or self.versions.get(name):
                raise EmulatorError(409, "BucketNotEmpty", "The bucket you tried to delete is not empty.",
                                    resource=name)
            del self.buckets[name]
            self.inventories.pop(name, None)
            self._versioning.pop(name, None)
            self.versions.pop(name, None)
            if self.store is not None:
                self.store.delete_bucket(name)

    def _bucket(self, name: str) -> BucketObjects:
        objects = self.buckets.get(name)
        if objects is None:
            raise no_such_bucket(name)
        return objects

    def put_object(self, bucket: str, key: str, data: bytes, content_type: Optional[str] = None,
                   last_modified: Optional[datetime] = None, metadata: Optional[Dict[str, str]] = None,
                   acl: str = "default", forbid_overwrite: bool = False,
                   headers: Optional[Dict[str, str]] = None) -> ObjectRecord:
        """Store an object (Last-Modified from the clock unless given, truncated to seconds as COS reports it).

        Raises:
            EmulatorError: 404 NoSuchBucket; 409 FileAlreadyExists when ``forbid_overwrite`` and the key exists.
        """
        stamp = (last_modified or self.clock()).astimezone(timezone.utc).replace(microsecond=0)
        record = ObjectRecord(key=key, data=bytes(data),
                              etag=f'"{hashlib.md5(data).hexdigest()}"',  # noqa: S324 - ETag is an MD5
                              content_type=content_type or "application/octet-stream",
                              last_modified=stamp, metadata=_normalize_metadata(metadata), acl=acl,
                              headers=dict(headers or {}))
        with self.lock:
            objects = self._bucket(bucket)
            if forbid_overwrite and key in objects:
                raise EmulatorError(409, "FileAlreadyExists", "The object already exists.",
                                    resource=f"{bucket}/{key}")
            if bucket in self.versions:
                self._add_version(bucket, record)
            else:
                objects[key] = record
                if self.store is not None:
                    self.store.save_object(bucket, record)
        return record

    def get_object(self, bucket: str, key: str, version_id: Optional[str] = None) -> ObjectRecord:
        """The current object, or with ``version_id`` that version ("null" in a bucket that never had versioning
        is its one object).

        Raises:
            EmulatorError: 404 NoSuchBucket / NoSuchKey (also a delete marker's version) / NoSuchVersion.
        """
        with self.lock:
            objects = self._bucket(bucket)
            if version_id is None:
                record = objects.get(key)
                if record is None:
                    raise no_such_key(key)
                return record
            histories = self.versions.get(bucket)
            history = histories.get(key, []) if histories is not None else [
                r for r in [objects.get(key)] if r is not None and version_id == NULL_VERSION]
            match = next((r for r in history if (r.version_id or NULL_VERSION) == version_id), None)
            if match is None:
                raise no_such_version(key, version_id)
            if match.delete_marker:
                raise no_such_key(key)
            return match

    def delete_object(self, bucket: str, key: str) -> bool:
        """Delete a key as a DELETE without versionId does; True if it existed. Raises: EmulatorError 404."""
        return self.delete_key(bucket, key).existed

    def delete_key(self, bucket: str, key: str, version_id: Optional[str] = None) -> DeleteOutcome:
        """DELETE Object. Without ``version_id``: removes the key, or where versioning is Enabled adds a delete
        marker (Suspended: a "null" one, replacing the "null" version). With it: removes that version for good; the
        one before becomes current (removing a delete marker is how a deleted key comes back). An unknown version
        changes nothing. Raises: EmulatorError 404 NoSuchBucket."""
        with self.lock:
            objects = self._bucket(bucket)
            histories = self.versions.get(bucket)
            if histories is None:
                if version_id not in (None, NULL_VERSION):
                    return DeleteOutcome(False, version_id or "", False)
                existed = objects.pop(key, None) is not None
                if existed and self.store is not None:
                    self.store.delete_object(bucket, key)
                return DeleteOutcome(existed, version_id or "", False)
            if version_id is None:
                existed = key in objects
                marker = ObjectRecord(key=key, data=b"", etag="", content_type="", delete_marker=True,
                                      last_modified=self.clock().replace(microsecond=0))
                self._add_version(bucket, marker)
                return DeleteOutcome(existed, marker.version_id, True)
            history = histories.get(key, [])
            match = next((r for r in history if r.version_id == version_id), None)
            if match is None:
                return DeleteOutcome(False, version_id, False)
            history.remove(match)
            self._set_current(bucket, key)
            return DeleteOutcome(True, version_id, match.delete_marker)

    def copy_object(self, src_bucket: str, src_key: str, bucket: str, key: str, replace_metadata: bool = False,
                    content_type: Optional[str] = None, metadata: Optional[Dict[str, str]] = None,
                    headers: Optional[Dict[str, str]] = None, source_version_id: Optional[str] = None,
                    acl: str = "default") -> ObjectRecord:
        """Copy an object, or one version of it (metadata and stored headers copied unless ``replace_metadata``).
        The copy's ACL is ``acl``, never the source's."""
        with self.lock:
            source = self.get_object(src_bucket, src_key, source_version_id)
            self._bucket(bucket)
            if replace_metadata:
                return self.put_object(bucket, key, source.data, content_type=content_type, metadata=metadata,
                                       headers=headers, acl=acl)
            return self.put_object(bucket, key, source.data, content_type=source.content_type,
                                   metadata=dict(source.metadata), headers=dict(source.headers), acl=acl)

    # ----- versioning ------------------------------------------------------------------------------
    def set_versioning(self, bucket: str, status: str) -> None:
        """PUT Bucket versioning. The first time, every object becomes its own "null" version.

        Raises:
            EmulatorError: 404 NoSuchBucket; 400 InvalidArgument for a status other than Enabled / Suspended
            (versioning, once set, cannot return to never).
        """
        if status not in VERSIONING_STATES:
            raise invalid_argument(f"versioning Status must be Enabled or Suspended, got {status!r}")
        with self.lock:
            objects = self._bucket(bucket)
            self._versioning[bucket] = status
            if self.store is not None:
                self.store.save_bucket(bucket, self.bucket_created[bucket].isoformat(), status)
            if bucket in self.versions:
                return
            histories = self.versions[bucket] = {}
            for key, record in objects.items():
                record.version_id = NULL_VERSION
                histories[key] = [record]
                if self.store is not None:
                    self.store.save_versions(bucket, key, histories[key])

    def versioning(self, bucket: str) -> str:
        """'' (never set), 'Enabled' or 'Suspended'. Raises: EmulatorError 404 NoSuchBucket."""
        with self.lock:
            self._bucket(bucket)
            return self._versioning.get(bucket, "")

    def list_versions(self, bucket: str, prefix: str = "") -> List[ObjectVersion]:
        """Every version and delete marker under ``prefix``: keys in order, each key's newest first (a bucket that
        never had versioning lists its objects as "null" versions). Raises: EmulatorError 404 NoSuchBucket."""
        with self.lock:
            objects = self._bucket(bucket)
            histories = self.versions.get(bucket)
            source = histories if histories is not None else {k: [r] for k, r in objects.items()}
            out = []
            for key in sorted(k for k in source if k.startswith(prefix)):
                for i, record in enumerate(reversed(source[key])):
                    out.append(ObjectVersion(key=key, version_id=record.version_id or NULL_VERSION, is_latest=i == 0,
                                             is_delete_marker=record.delete_marker, etag=record.etag,
                                             data=record.data, last_modified=record.last_modified))
            return out

    def _new_version_id(self) -> str:
        # The published samples' ids are base64 of a decimal number that falls as versions get newer
        # ("MTg0NDUxNzgxMjEzNTU3NTk1Mjg"); unique here because the tick only rises.
        self._version_tick = max(time.time_ns() // 1000, self._version_tick + 1)
        return base64.b64encode(str(2 ** 64 - 1 - self._version_tick).encode("ascii")).decode("ascii").rstrip("=")

    def _add_version(self, bucket: str, record: ObjectRecord) -> None:
        """Add ``record`` (an object or a delete marker) as its key's latest version (caller holds the lock)."""
        history = self.versions[bucket].setdefault(record.key, [])
        if self._versioning[bucket] == "Enabled":
            record.version_id = self._new_version_id()
        else:
            record.version_id = NULL_VERSION
            history[:] = [r for r in history if r.version_id != NULL_VERSION]
        history.append(record)
        self._set_current(bucket, record.key)

    def _set_current(self, bucket: str, key: str) -> None:
        """After a key's versions changed: the latest one is current unless it is a delete marker; persist."""
        histories, objects = self.versions[bucket], self.buckets[bucket]
        history = histories.get(key, [])
        if not history:
            histories.pop(key, None)
        if history and not history[-1].delete_marker:
            objects[key] = history[-1]
        else:
            objects.pop(key, None)
        if self.store is not None:
            self.store.save_versions(bucket, key, history)

    def set_object_acl(self, bucket: str, key: str, acl: str) -> None:
        """Raises: EmulatorError 404, 400 InvalidArgument for an ACL other than default/private/public-read."""
        if acl not in ("default", "private", "public-read"):
            raise invalid_argument(f"x-cos-acl {acl!r} is not supported (private, public-read, default)")
        with self.lock:
            record = self.get_object(bucket, key)
            record.acl = acl
            if bucket in self.versions:
                self._set_current(bucket, key)
            elif self.store is not None:
                self.store.save_object(bucket, record)

    def list_keys(self, bucket: str, prefix: str = "") -> List[str]:
        """Sorted keys under ``prefix``. Raises: EmulatorError 404 NoSuchBucket."""
        with self.lock:
            return sorted(k for k in self._bucket(bucket) if k.startswith(prefix))

    def list_objects(self, bucket: str, prefix: str = "", marker: str = "", max_keys: int = 1000,
                     delimiter: str = "") -> Tuple[List[ObjectRecord], List[str], bool, str]:
        """GET Bucket: ``(contents, common_prefixes, is_truncated, next_marker)`` in key order."""
        with self.lock:
            objects = self._bucket(bucket)
            ordered = objects.ordered_keys()
            # The keys under prefix are one run of the ordered keys; start after marker, or at the run's start.
            first = max(bisect.bisect_right(ordered, marker), bisect.bisect_left(ordered, prefix))
            keys = itertools.takewhile(lambda k: k.startswith(prefix), (ordered[i] for i in range(first, len(ordered))))
            contents: List[ObjectRecord] = []
            prefixes: List[str] = []
            last = ""
            truncated = False
            for k in keys:
                if delimiter:
                    idx = k.find(delimiter, len(prefix))
                    if idx >= 0:
                        common = k[:idx + len(delimiter)]
                        if prefixes and prefixes[-1] == common:
                            continue
                        if common <= marker:
                            continue
                        if len(contents) + len(prefixes) >= max_keys:
                            truncated = True
                            break
                        prefixes.append(common)
                        last = common
                        continue
                if len(contents) + len(prefixes) >= max_keys:
                    truncated = True
                    break
                contents.append(objects[k])
                last = k
            if truncated and prefixes and last == prefixes[-1]:
                # resume after every key under the last common prefix
                last = prefixes[-1] + "\U0010ffff"
            return contents, prefixes, truncated, (last if truncated else "")

    # ----- bucket inventory --------------------------------------------------------------------------
    def put_inventory(self, bucket: str, config: InventoryConfig) -> None:
        """Add or replace a configuration (a replaced one keeps its place in the list).

        Raises:
            EmulatorError: 404 NoSuchBucket; 400 TooManyConfigurations past 1,000 per bucket.
        """
        with self.lock:
            self._bucket(bucket)
            configs = self.inventories[bucket]
            old = configs.get(config.id)
            if old is None and len(configs) >= MAX_CONFIGURATIONS:
                raise EmulatorError(400, "TooManyConfigurations",
                                    f"the bucket already has {MAX_CONFIGURATIONS} inventory configurations")
            config.seq = old.seq if old is not None else self._next_seq()
            configs[config.id] = config
            if self.store is not None:
                self.store.save_inventory(bucket, config.id, config.to_json())

    def get_inventory(self, bucket: str, inventory_id: str) -> InventoryConfig:
        """Raises: EmulatorError 404 NoSuchBucket / NoSuchConfiguration."""
        with self.lock:
            self._bucket(bucket)
            config = self.inventories[bucket].get(inventory_id)
            if config is None:
                raise EmulatorError(404, "NoSuchConfiguration", "The specified configuration does not exist.",
                                    resource=f"{bucket}?inventory&id={inventory_id}")
            return InventoryConfig.from_json(config.to_json())

    def delete_inventory(self, bucket: str, inventory_id: str) -> None:
        """Delete a configuration; an absent one is not an error. Raises: EmulatorError 404 NoSuchBucket."""
        with self.lock:
            self._bucket(bucket)
            if self.inventories[bucket].pop(inventory_id, None) is not None and self.store is not None:
                self.store.delete_inventory(bucket, inventory_id)

    def list_inventories(self, bucket: str, after: str = "") -> Tuple[List[InventoryConfig], str]:
        """One page (100) of configurations in the order first put, starting after the id ``after``; returns
        (page, id to continue after or '')."""
        with self.lock:
            self._bucket(bucket)
            ids = list(self.inventories[bucket])
            start = ids.index(after) + 1 if after in ids else 0
            if after and after not in ids:
                raise invalid_argument("continuation-token is not valid")
            page = [InventoryConfig.from_json(self.inventories[bucket][i].to_json())
                    for i in ids[start:start + LIST_PAGE_SIZE]]
            more = start + LIST_PAGE_SIZE < len(ids)
            return page, (page[-1].id if more else "")

    def post_inventory(self, bucket: str, config: InventoryConfig, rows_per_file: int = ROWS_PER_FILE
                       ) -> InventoryReport:
        """A one-time inventory: refused for an id already used today or by a periodic configuration, else the
        report is produced now. Raises: EmulatorError 409 DuplicateInventoryId, as :meth:`run_inventory`."""
        with self.lock:
            self._bucket(bucket)
            today = report_date(self.clock())
            if config.id in self.inventories[bucket] or self.one_time_inventories.get((bucket, config.id)) == today:
                raise EmulatorError(409, "DuplicateInventoryId",
                                    f"inventory id {config.id!r} is a periodic configuration's or was submitted today")
            report = self._produce(bucket, config, today, rows_per_file)
            self.one_time_inventories[(bucket, config.id)] = today
            return report

    def run_inventory(self, bucket: str, inventory_id: str, date: Optional[str] = None,
                      rows_per_file: int = ROWS_PER_FILE) -> InventoryReport:
        """Produce the configuration's report now, dated ``date`` (YYYYMMDD; default today in China time): the
        source objects as they are at this moment, written into the destination bucket.

        Raises:
            EmulatorError: 404 NoSuchBucket / NoSuchConfiguration; 409 InventoryDisabled when IsEnabled is false;
            400 InvalidArgument for a bad date.
        """
        with self.lock:
            config = self.get_inventory(bucket, inventory_id)
            if not config.is_enabled:
                raise InventoryRunError(409, "InventoryDisabled",
                                        f"inventory {inventory_id!r} has IsEnabled false: COS produces no report")
            if date is None:
                date = report_date(self.clock())
            elif not (len(date) == 8 and date.isdigit()):
                raise invalid_argument(f"date must be YYYYMMDD, got {date!r}")
            return self._produce(bucket, config, date, rows_per_file)

    def _produce(self, bucket: str, config: InventoryConfig, date: str, rows_per_file: int) -> InventoryReport:
        target = config.target_bucket
        if target not in self.buckets:
            raise InventoryRunError(404, "NoSuchBucket", f"the inventory's destination bucket {target} does not exist",
                                    resource=target)
        records = list(self._bucket(bucket).values())  # the scan: before any report file is written

        def put(key: str, data: bytes, content_type: str) -> None:
            self.put_object(target, key, data, content_type=content_type)

        return build_report(config, bucket, records, date, put, rows_per_file=rows_per_file)

    # ----- batch jobs ------------------------------------------------------------------------------
    def create_batch_job(self, bucket: str, region: str, spec: BatchJobSpec) -> BatchJob:
        """Record a Submitted batch job and wake the worker. Raises: EmulatorError 404 NoSuchBucket."""
        with self.lock:
            self._bucket(bucket)
            job = BatchJob(job_id=_new_id("b"), seq=self._next_seq(), bucket=bucket, region=region,
                           name=spec.name, type=spec.type, tag=spec.tag, state="Submitted",
                           creation_time=self.clock(), input_kind=spec.input_kind,
                           input_value=spec.input_value, input_xml=spec.input_xml,
                           operation_xml=spec.operation_xml, interval_start=spec.interval_start,
                           interval_end=spec.interval_end, workflow_ids=list(spec.workflow_ids),
                           auto_process=spec.auto_process, process_type=spec.process_type)
            self.jobs[job.job_id] = job
            self.persist_job(job)
            self.work.notify_all()
            return record_copy(job)

    def get_job(self, job_id: str) -> BatchJob:
        """Snapshot of a batch job. Raises: KeyError."""
        with self.lock:
            return record_copy(self.jobs[job_id])

    def find_batch_jobs(self, bucket: str, job_ids: List[str]) -> Tuple[List[BatchJob], List[str]]:
        """``(found, non_existent_ids)`` for the ids, in the order asked."""
        with self.lock:
            found, missing = [], []
            for job_id in job_ids:
                job = self.jobs.get(job_id)
                if job is None or job.bucket != bucket:
                    missing.append(job_id)
                else:
                    found.append(record_copy(job))
            return found, missing

    def list_batch_jobs(self, bucket: str, flt: ListFilter, job_type: str, name: Optional[str] = None,
                        job_id: str = "", workflow_id: str = "") -> Tuple[List[BatchJob], str]:
        with self.lock:
            candidates = [j for j in self.jobs.values()
                          if j.bucket == bucket and j.type == job_type
                          and (not name or j.name == name)
                          and (not job_id or j.job_id == job_id)
                          and (not workflow_id or workflow_id in j.workflow_ids)]
            page, token = flt.page(candidates)
            return [record_copy(j) for j in page], token

    def cancel_batch_job(self, bucket: str, job_id: str) -> None:
        """Submitted/Running → Cancel (the executor stops before the next object); Cancel again is a no-op.

        Raises:
            EmulatorError: 404 NoSuchJob; 400 InvalidArgument when the job already ended otherwise.
        """
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None or job.bucket != bucket:
                raise EmulatorError(404, "NoSuchJob", f"job not exist: {job_id}")
            if job.state == "Cancel":
                return
            if job.state in TERMINAL_STATES:
                raise invalid_argument(f"job {job_id} is {job.state} and cannot be cancelled")
            job.state = "Cancel"
            job.end_time = self.clock()
            self._queues.pop(job_id, None)
            self.persist_job(job)

    # ----- per-object jobs and executions ------------------------------------------------------------
    def list_inspect_jobs(self, bucket: str, flt: ListFilter, tag: str, batch_job_id: str = "",
                          workflow_id: str = "", input_object: str = "") -> Tuple[List[InspectJob], str]:
        with self.lock:
            if tag != "ImageInspect":
                return [], ""
            if batch_job_id:
                source: Iterable[InspectJob] = self.inspect_jobs_by_batch.get(batch_job_id, [])
            else:
                source = self.inspect_jobs.values()
            candidates = [j for j in source if j.bucket == bucket
                          and (not workflow_id or j.workflow_id == workflow_id)
                          and (not input_object or j.key == input_object)]
            page, token = flt.page(candidates)
            return [record_copy(j) for j in page], token

    def get_inspect_job(self, bucket: str, job_id: str) -> Optional[InspectJob]:
        with self.lock:
            job = self.inspect_jobs.get(job_id)
            return record_copy(job) if job is not None and job.bucket == bucket else None

    def list_workflow_executions(self, bucket: str, flt: ListFilter, workflow_id: str = "", name: str = "",
                                 batch_job_id: str = "") -> Tuple[List[WorkflowExecution], str]:
        with self.lock:
            if batch_job_id:
                source: Iterable[WorkflowExecution] = self.executions_by_batch.get(batch_job_id, [])
            else:
                source = self.executions.values()
            candidates = [e for e in source if e.bucket == bucket
                          and (not workflow_id or e.workflow_id == workflow_id)
                          and (not name or e.key == name)]
            page, token = flt.page(candidates)
            return [record_copy(e) for e in page], token

    def get_workflow_execution(self, bucket: str, run_id: str) -> Optional[WorkflowExecution]:
        with self.lock:
            ex = self.executions.get(run_id)
            return record_copy(ex) if ex is not None and ex.bucket == bucket else None

    # ----- workflows -------------------------------------------------------------------------------
    def create_workflow(self, bucket: str, spec: WorkflowSpec) -> Workflow:
        """Raises: EmulatorError 404 NoSuchBucket."""
        with self.lock:
            self._bucket(bucket)
            now = self.clock()
            wf = Workflow(workflow_id=_new_id("w"), seq=self._next_seq(), bucket=bucket, name=spec.name,
                          state=spec.state, creation_time=now, update_time=now, topology_xml=spec.topology_xml,
                          nodes=list(spec.nodes))
            self.workflows[wf.workflow_id] = wf
            if self.store is not None:
                self.store.save_workflow(wf)
            return record_copy(wf)

    def get_workflows(self, bucket: str, ids: List[str], name: str = "") -> Tuple[List[Workflow], List[str]]:
        with self.lock:
            if ids:
                found, missing = [], []
                for wid in ids:
                    wf = self.workflows.get(wid)
                    (found if wf is not None and wf.bucket == bucket else missing).append(wf or wid)
                return [record_copy(w) for w in found], missing
            rows = sorted((w for w in self.workflows.values() if w.bucket == bucket
                           and (not name or w.name == name)), key=lambda w: w.seq, reverse=True)
            return [record_copy(w) for w in rows], []

    def _workflow(self, bucket: str, workflow_id: str) -> Workflow:
        wf = self.workflows.get(workflow_id)
        if wf is None or wf.bucket != bucket:
            raise EmulatorError(404, "NoSuchWorkflow", f"workflow not exist: {workflow_id}")
        return wf

    def get_workflow(self, bucket: str, workflow_id: str) -> Workflow:
        """Snapshot of one workflow. Raises: EmulatorError 404 NoSuchWorkflow."""
        with self.lock:
            return record_copy(self._workflow(bucket, workflow_id))

    def set_workflow_state(self, bucket: str, workflow_id: str, state: str) -> Workflow:
        """Raises: EmulatorError 404 NoSuchWorkflow."""
        with self.lock:
            wf = self._workflow(bucket, workflow_id)
            wf.state = state
            return self._save_workflow(wf)

    def update_workflow(self, bucket: str, workflow_id: str, spec: WorkflowSpec) -> Workflow:
        """Replace a workflow's name, state and topology, keeping its id. Raises: EmulatorError 404."""
        with self.lock:
            wf = self._workflow(bucket, workflow_id)
            wf.name, wf.state, wf.topology_xml, wf.nodes = spec.name, spec.state, spec.topology_xml, list(spec.nodes)
            return self._save_workflow(wf)

    def _save_workflow(self, wf: Workflow) -> Workflow:
        wf.update_time = self.clock()
        if self.store is not None:
            self.store.save_workflow(wf)
        return record_copy(wf)

    def delete_workflow(self, bucket: str, workflow_id: str) -> None:
        with self.lock:
            self._workflow(bucket, workflow_id)
            del self.workflows[workflow_id]
            if self.store is not None:
                self.store.delete_workflow(workflow_id)

    # ----- execution -------------------------------------------------------------------------------
    def step(self, max_objects: Optional[int] = None) -> bool:
        """Advance the oldest unfinished job by one state: Submitted → Running (objects selected), or Running →
        process up to ``max_objects`` objects (all when None) and end Success when none are left.

        Returns False when no job could advance."""
        return self._runner().step(self, max_objects)

    def run_pending(self) -> int:
        """Run every Submitted (and Running) job to completion in the calling thread; return how many ended."""
        return self._runner().run_pending(self)

    def _runner(self) -> JobRunner:
        if self.runner is None:
            raise RuntimeError("this Backend has no job runner: build it with Backend(runner=emulator.executor)")
        return self.runner

    def wait_for_work(self, timeout: float) -> bool:
        """Block until a job is created (or ``timeout``); True if unfinished jobs exist. Used by the worker."""
        with self.work:
            if not self.unfinished_job_ids():
                self.work.wait(timeout)
            return bool(self.unfinished_job_ids())

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until no job is Submitted or Running (for autorun mode); False on timeout."""
        deadline = time.monotonic() + timeout
        with self.work:
            while self.unfinished_job_ids():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.work.wait(remaining)
            return True

    def unfinished_job_ids(self) -> List[str]:
        with self.lock:
            return [j.job_id for j in sorted(self.jobs.values(), key=lambda j: j.seq)
                    if j.state in ("Submitted", "Running")]
