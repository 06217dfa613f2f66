"""Coalescing mode under attack: a bucket writer PUTs forged records, ledgers and checkpoints straight into the
emulator's store, then the real handler runs (its clock set by the test) and CI runs the jobs it made.

Every scene has a flagged victim image the forger wants CI to delete (INSPECT_AUTO_PROCESS=true,
INSPECT_PROCESS_TYPE=DeleteObject) and a flagged image really uploaded under uploads/, which must be deleted once."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional

import pytest

from lib import upload_state
from lib.events import UploadedObject
from lib.windows import compact
from tests.reliability.coalesce_support import Clock, Upload, upload_event
from tests.support.emulator import EMULATOR_NOW
from tests.support.entries import submit_entry
from tests.support.events import timer_event
from tests.support.images import TS_STREAM, png
from tests.support.settings import BUCKET

EVENT_AT = EMULATOR_NOW - timedelta(seconds=50)  # 15:29:10, in the one-minute slot 15:29
SLOT = upload_state.slot_of(EVENT_AT, 60)
SLOT_TEXT = compact(SLOT)
DUE = upload_state.due_at(SLOT, 60) + timedelta(seconds=1)
LEGIT = "uploads/legit.png"
VICTIM = "uploads/victim.png"
REPORT_PAGE = "autopilot/reports/index.html"
PENDING = "autopilot/uploads/pending/"
FLAGGED = png() + TS_STREAM


@pytest.fixture(name="scene")
def scene_fixture(emulator_bucket, monkeypatch):
    """Coalescing mode with DeleteObject, the function's clock in the test's hand, the victim and a report page."""
    for name, value in {"UPLOAD_BATCH_SECONDS": "60", "INSPECT_AUTO_PROCESS": "true",
                        "INSPECT_PROCESS_TYPE": "DeleteObject", "ALLOW_IRREVERSIBLE_DELETE": "true",
                        "INPUT_PREFIX": "scans/",
                        "UPLOAD_PREFIXES": "uploads/"}.items():
        monkeypatch.setenv(name, value)
    clock = Clock(EVENT_AT + timedelta(seconds=1))
    scene = Scene(emulator_bucket, clock)
    scene.seed()
    return scene


class Scene:
    def __init__(self, backend: Any, clock: Clock) -> None:
        self.backend, self.clock = backend, clock
        self.submit = submit_entry(clock=clock, cold=True)  # the function's clock in the test's hand, a cold instance

    def seed(self) -> None:
        """The victims, the real upload's object and a report page."""
        for key in (VICTIM, LEGIT, "photos/victim.png", "uploads/victim.bin", "autopilot/reports/victim.png"):
            self.backend.put_object(BUCKET, key, FLAGGED, content_type="image/png")
        self.backend.put_object(BUCKET, REPORT_PAGE, b"<html>the real report</html>", content_type="text/html")

    def upload(self, key: str = LEGIT, at: datetime = EVENT_AT) -> Dict[str, Any]:
        """COS delivers the upload event of `key` (the object is already in the bucket)."""
        return self.submit(upload_event([Upload(key, at)]), {"request_id": f"up-{key}"})

    def tick(self) -> Dict[str, Any]:
        """The submit timer fires at the function's clock (a flush pass; its window scans the empty scans/)."""
        return self.submit(timer_event(self.clock.now.replace(microsecond=0), "every-minute"),
                            {"request_id": f"tick-{self.clock.now.isoformat()}"})

    def put(self, key: str, data: bytes) -> None:
        """The forger's PUT, straight into the store (the same key pair as the function's in the emulator)."""
        self.backend.put_object(BUCKET, key, data)

    def fresh_state(self) -> None:
        """A new bucket, no CI jobs, the clock put back: one generated example does not see another's."""
        self.backend.reset()
        self.backend.set_clock(lambda: EMULATOR_NOW)
        self.backend.create_bucket(BUCKET)
        self.seed()
        self.clock.now = EVENT_AT + timedelta(seconds=1)
        self.submit = submit_entry(clock=self.clock, cold=True)  # a cold instance again

    def run_jobs(self) -> None:
        while self.backend.run_pending():
            pass

    def keys(self, prefix: str = "") -> List[str]:
        return self.backend.list_keys(BUCKET, prefix=prefix)

    def inspected(self) -> List[str]:
        """Every object key CI inspected, once per inspection."""
        with self.backend.lock:
            return sorted(j.key for j in self.backend.inspect_jobs.values())

    def exists(self, key: str) -> bool:
        return key in self.keys(key)

    def refusals(self) -> List[str]:
        return self.keys("autopilot/uploads/refused/")


def identity(key: str, at: datetime = EVENT_AT, etag: str = "etag-0", request_id: str = "req-forged") -> UploadedObject:
    return UploadedObject(bucket=BUCKET, key=key, size=0, etag=etag, request_id=request_id, version_id="",
                          event_name="", event_time=int(at.timestamp()))


def record_body(obj: UploadedObject, key: Optional[str] = None) -> bytes:
    return upload_state.RecordBody(etag=obj.etag, request_id=obj.request_id, version_id=obj.version_id,
                               event_time=obj.event_time, key=key).model_dump_json().encode("utf-8")


def forged_record(key: str, slot: str = SLOT_TEXT) -> str:
    """The path of a record exactly as the function writes one for an upload of `key`."""
    return f"{PENDING}{slot}/{upload_state.record_id(identity(key))}/{key}"


def legit_record_id(scene: Scene) -> str:
    (rid,) = {k[len(PENDING):].split("/")[1].split(".")[0] for k in scene.keys(PENDING)}
    return rid
