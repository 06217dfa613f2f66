"""`flagged restore|release` from a test's side: an image flagged by a real batch job with the CI action asked for,
the operator's command in process at a clock after the flag, and what the bucket and the review state hold after."""
from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import IO, Any, Optional

import pytest

from lib.review import ReviewRecord, ReviewStore, normal_etag
from tests.cli.support import Ran, in_process
from tests.support.emulator import EMULATOR_NOW, emulator_settings, fast_client
from tests.support.flagged import BACKUP, inspect_uploads, seed
from tests.support.settings import BUCKET

CLOCK = EMULATOR_NOW + timedelta(minutes=30)  # the operator's clock: after the flag, as CI's creation time is
UPLOADED = EMULATOR_NOW - timedelta(hours=1)  # before CI acts, so a delete marker is newer than the version under it


def flagged(backend: Any, monkeypatch: pytest.MonkeyPatch, action: str, key: str, data: bytes) -> str:
    """Put `data` at `key` and have one batch job inspect it with AutoProcess `action` ("none": AutoProcess off);
    returns the batch job's id."""
    monkeypatch.setenv("INSPECT_AUTO_PROCESS", "false" if action == "none" else "true")
    if action != "none":
        monkeypatch.setenv("INSPECT_PROCESS_TYPE", action)
    etags = seed(backend, {key: data}, uploaded=UPLOADED)
    return inspect_uploads(backend, os.environ, [key], etags)["jobs"][0]["job_id"]


def ops(*argv: str, clock: datetime = CLOCK, stdin: Optional[IO[str]] = None) -> Ran:
    """`python -m ops ...` in this process on the process environment (the emulator's), at `clock`."""
    return in_process(*argv, environ=os.environ, clock=clock, stdin=stdin)


def body(backend: Any, key: str) -> Optional[bytes]:
    """The bytes a GET of key returns now, or None."""
    return backend.get_object(BUCKET, key).data if key in backend.list_keys(BUCKET, prefix=key) else None


def backup_of(key: str) -> str:
    return BACKUP + key


def decision(emulator: Any, key: str, etag: str) -> Optional[ReviewRecord]:
    """The review decision stored on (key, etag), read back as every path reads it."""
    settings = emulator_settings(emulator)
    return ReviewStore(fast_client(settings), settings.state_prefix, lambda: CLOCK).get(key, normal_etag(etag))


def etag_of(backend: Any, key: str) -> str:
    return normal_etag(backend.get_object(BUCKET, key).etag)


def ops_entry(event: Any, _context: Any) -> Any:
    """`python -m ops` in the kill harness's process (tests.reliability.kill_child's `entry`): event {"argv": [...]},
    on the process's environment at CLOCK; returns its exit code and output."""
    ran = ops(*event["argv"])
    return {"code": ran.code, "out": ran.out, "err": ran.err}
