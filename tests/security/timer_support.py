"""What the timer-side trust tests share: the tick, the real window, a flagged image in it, and a forger's PUTs.

The forger writes over HTTP with the official SDK and the same key pair as the function (the emulator cannot tell
them apart), so whatever the function refuses it refuses by its own checks."""
from __future__ import annotations

import json
import struct
import zlib
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Tuple

from handlers.submit import main_handler
from lib.client import CiClient
from tests.reliability.support import all_jobs
from tests.support.emulator import EMULATOR_NOW, emulator_settings, fast_client
from tests.support.events import timer_event
from tests.support.settings import BUCKET

UTC = timezone.utc
TICK = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
REAL_WINDOW = (TICK - HOUR, TICK)  # FIRST_RUN_LOOKBACK (1h) before the tick: what a first run, or the next tick, scans
FLAGGED = "uploads/hidden.png"
BACKUP = f"abnormal_images_backup/{FLAGGED}"  # where CI's BackupObject moves it (INSPECT_AUTO_PROCESS=true)
TS_STREAM = b"".join(b"\x47\x40\x00\x10" + bytes(184) for _ in range(8))


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def seed_flagged(backend: Any) -> None:
    """An image with an MPEG-TS payload, uploaded at 15:30: inside the real window [15:00, 16:00)."""
    backend.put_object(BUCKET, FLAGGED, png() + TS_STREAM, content_type="image/png", last_modified=EMULATOR_NOW)


def forger(emulator: Any) -> CiClient:
    """A bucket writer holding a PUT-capable key: in the emulator, the very key pair the function uses."""
    return fast_client(emulator_settings(emulator))


def forge(emulator: Any, key: str, content: Dict[str, Any]) -> None:
    forger(emulator).put_object(key, json.dumps(content).encode("utf-8"), "application/json")


def tick(at: datetime = TICK, request_id: str = "tick") -> Dict[str, Any]:
    return main_handler(timer_event(at), {"request_id": request_id, "time_limit_in_ms": 60000})


def windows(emulator: Any) -> List[Tuple[Optional[datetime], Optional[datetime]]]:
    return [(j.start, j.end) for j in all_jobs(emulator)]


def inspected(backend: Any) -> bool:
    """Run CI's queued jobs; True when the flagged image in the real window was inspected (and backed up)."""
    backend.run_pending()
    return BACKUP in backend.list_keys(BUCKET)


def checkpoint(backend: Any) -> Optional[Dict[str, Any]]:
    emulator_bucket = backend.buckets[BUCKET]
    record = emulator_bucket.get("autopilot/checkpoints/hourly.json")
    return json.loads(record.data) if record is not None else None


def claims(backend: Any) -> List[str]:
    return [k for k in backend.list_keys(BUCKET) if k.startswith("autopilot/leases/")]


def name(start: datetime, end: datetime) -> str:
    """The job name our runs give rule `hourly`'s window [start, end) (lib.jobs.timer_job_name)."""
    return f"autopilot-hourly-{start:%Y%m%dT%H%M%SZ}-{end:%Y%m%dT%H%M%SZ}"


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
