"""The review loop from a test's side: a decision stored as the operator CLI stores it, and a presigned link opened
as a person's browser opens it (through the emulator, which checks the link's query-string signature)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import requests

from emulator.testing import EmulatorHandle
from lib.review import ReviewRecord, ReviewStore
from tests.support.emulator import emulator_settings, fast_client


def decide(emulator: EmulatorHandle, key: str, etag: str, decision: str, at: datetime, **fields: Any) -> ReviewRecord:
    """Store a decision on (key, ETag) made at `at`, under STATE_PREFIX/reviewed/ as lib.review names it."""
    settings = emulator_settings(emulator)
    record = ReviewRecord(key=key, etag=etag, decision=decision, decided_at=at, **fields)
    ReviewStore(fast_client(settings), settings.state_prefix, lambda: at).record(record)
    return record


def open_link(emulator: EmulatorHandle, url: str) -> requests.Response:
    """GET a presigned URL (http://<bucket>.cos.<region>.myqcloud.com/...) sent to the emulator as its proxy."""
    return requests.get(url, proxies={"http": emulator.url}, timeout=10)
