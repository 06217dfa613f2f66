"""Helpers for coalescing mode's tests: upload events as COS sends them, a settable clock, and reading back
every record and batch the bucket holds (straight from the emulator's store, not through the code under test)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Iterable, List

from emulator.testing import EmulatorHandle
from lib.config import Settings
from lib.submit.coalesce import FlushMemory
from lib.submit.run import Deps
from lib.upload_state import UploadBatch
from tests.support.emulator import emulator_settings, fast_client
from tests.support.events import cos_event
from tests.support.settings import BUCKET

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Upload:
    """One upload as COS reports it: the same Upload redelivered gives the same event record."""

    key: str
    at: datetime  # the record's eventTime
    n: int = 0  # tells re-uploads of one key apart (their request ids differ)


def upload_event(uploads: Iterable[Upload], *, event_time: bool = True) -> Dict[str, Any]:
    """A COS delivery (tests.support.events.cos_event) carrying these uploads: per upload its own request id, ETag and
    eventTime (or none, with event_time=False)."""
    uploads = list(uploads)
    return cos_event([u.key for u in uploads], request_ids=[f"req-{u.key}-{u.n}" for u in uploads],
                     etags=[f"etag-{u.n}" for u in uploads],
                     event_time=[int(u.at.timestamp()) for u in uploads] if event_time else None)


class Clock:
    """A clock tests move by hand; every instance of a test shares it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def coalesce_settings(emulator: EmulatorHandle, seconds: int = 60, **extra: str) -> Settings:
    return emulator_settings(emulator, UPLOAD_BATCH_SECONDS=str(seconds), **extra)


def instance(settings: Settings, clock: Clock, owner: str = "i1", client: Any = None) -> Deps:
    """One warm SCF instance: its own client and flush memory, the shared clock, no back-off sleeps."""
    return Deps(client=client or fast_client(settings), clock=clock, sleep=lambda _s: None, owner=owner,
                time_limit=30, memory=FlushMemory())


def stored(emulator: EmulatorHandle, prefix: str) -> Dict[str, bytes]:
    with emulator.backend.lock:
        objects = emulator.backend.buckets[BUCKET]
        return {k: objects[k].data for k in sorted(objects) if k.startswith(prefix)}


def ledgers(emulator: EmulatorHandle) -> List[UploadBatch]:
    return [UploadBatch.model_validate_json(v) for v in stored(emulator, "autopilot/uploads/batches/").values()]


def record_ids(emulator: EmulatorHandle) -> List[str]:
    """Every pending record's id, one per stored record."""
    base = "autopilot/uploads/pending/"
    return [k[len(base):].split("/")[1].split(".")[0] for k in stored(emulator, base)]


def batch_jobs(emulator: EmulatorHandle) -> Counter:
    """How many CI jobs exist per upload-batch name."""
    with emulator.backend.lock:
        return Counter(j.name for j in emulator.backend.jobs.values() if "-upload-batch-" in j.name)


def settled_problems(emulator: EmulatorHandle) -> List[str]:
    """Why the bucket is not settled: a record in no batch or in two, a batch without its one job, state left."""
    problems: List[str] = []
    counted = Counter(rid for batch in ledgers(emulator) for rid in batch.records)
    for rid in record_ids(emulator):
        if counted[rid] != 1:
            problems.append(f"record {rid} is in {counted[rid]} batches")
    jobs = batch_jobs(emulator)
    for batch in ledgers(emulator):
        if not batch.job_id or jobs[batch.job_name] != 1:
            problems.append(f"batch {batch.job_name} has job id {batch.job_id!r} and {jobs[batch.job_name]} jobs")
    names = {b.job_name for b in ledgers(emulator)}
    problems += [f"job {name} has no ledger" for name in jobs if name not in names]
    problems += [f"left behind: {k}" for k in stored(emulator, "autopilot/leases/")]
    problems += [f"left behind: {k}" for k in stored(emulator, "autopilot/uploads/late/")]
    # Nothing the function itself wrote may fail its own checks (issue 22): a refusal here is a false alarm.
    problems += [f"refused: {k}" for k in stored(emulator, "autopilot/uploads/refused/")]
    return problems


def keys_in_jobs(emulator: EmulatorHandle) -> Counter:
    """Object key -> how many batches name it."""
    return Counter(k for batch in ledgers(emulator) for k in batch.keys)

