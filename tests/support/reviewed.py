"""Reviewed images from a test's side: the end state of an operator's restore (the image back at its key with the same
bytes, its backup gone, the decision recorded through lib.review; the CLI restore itself is tested elsewhere), and the
review folder's objects as a bucket writer could forge them."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from lib.config import load_settings
from lib.review import ReviewRecord, ReviewStore, record_name
from tests.support.emulator import EMULATOR_NOW
from tests.support.entries import quick_client
from tests.support.flagged import BACKUP
from tests.support.settings import BUCKET


def review_store(environ: Mapping[str, str], clock_at: datetime = EMULATOR_NOW) -> ReviewStore:
    settings = load_settings(environ)
    return ReviewStore(quick_client(settings), settings.state_prefix, lambda: clock_at)


def restored(backend: Any, environ: Mapping[str, str], key: str, data: bytes, *, job_id: str = "",
             decided_at: datetime = EMULATOR_NOW, written: datetime = EMULATOR_NOW) -> str:
    """A flagged (backed-up) image restored: `data` back at `key` (written at `written`), the backup removed and
    ReviewRecord(decision='restored') recorded for its ETag, which this returns (no quotes)."""
    backend.put_object(BUCKET, key, data, content_type="image/png", last_modified=written)
    backend.delete_object(BUCKET, f"{BACKUP}{key}")
    etag = backend.get_object(BUCKET, key).etag.strip('"')
    review_store(environ, decided_at).record(ReviewRecord(key=key, etag=etag, decision="restored",
                                                          decided_at=decided_at, job_id=job_id,
                                                          action="BackupObject"))
    return etag


def forge_record(backend: Any, environ: Mapping[str, str], key: str, etag: str, body: bytes) -> str:
    """Write `body` where the record of (key, etag) lives, as anyone who may PUT into the bucket could."""
    name = record_name(load_settings(environ).state_prefix, key, etag)
    backend.put_object(BUCKET, name, body, content_type="application/json")
    return name


def upload(backend: Any, key: str, data: bytes, written: datetime = EMULATOR_NOW) -> str:
    """The image written at `key` (an upload of it): its ETag, no quotes."""
    backend.put_object(BUCKET, key, data, content_type="image/png", last_modified=written)
    return backend.get_object(BUCKET, key).etag.strip('"')
