"""Flagged images on the emulator for the review tests: images that hide a stream, inspected by a real batch job the
submit handler sends for an upload event, and what the bucket holds afterwards."""
from __future__ import annotations

from typing import Any, Dict, Iterable, Mapping, Optional, Sequence

from tests.support.emulator import EMULATOR_NOW
from tests.support.entries import submit_entry
from tests.support.events import cos_event
from tests.support.images import TS_STREAM, png
from tests.support.settings import BUCKET

BACKUP = "abnormal_images_backup/"


def hiding_image(tag: bytes = b"") -> bytes:
    """A PNG with an MPEG-TS stream after its end (ImageInspect flags it); `tag` makes the content (ETag) unique."""
    return png() + TS_STREAM + tag


def clean_image() -> bytes:
    """A PNG ImageInspect leaves alone."""
    return png()


def seed(backend: Any, images: Mapping[str, bytes], uploaded=EMULATOR_NOW) -> Dict[str, str]:
    """Put each image at its key; returns key -> ETag as COS gives it (no quotes)."""
    etags = {}
    for key, data in images.items():
        backend.put_object(BUCKET, key, data, content_type="image/png", last_modified=uploaded)
        etags[key] = backend.get_object(BUCKET, key).etag.strip('"')
    return etags


def inspect_uploads(backend: Any, environ: Mapping[str, str], keys: Sequence[str],
                    etags: Optional[Mapping[str, str]] = None) -> Dict[str, Any]:
    """The submit handler on one upload event naming `keys` (with their real ETags), then every pending job run;
    returns the handler's result (its jobs[0].job_id is the batch job that flagged them)."""
    etag_list = [etags[k] for k in keys] if etags else [backend.get_object(BUCKET, k).etag.strip('"') for k in keys]
    result = submit_entry(environ=environ)(cos_event(keys, etags=etag_list), {"request_id": "flag"})
    backend.run_pending()
    return result


def flag(backend: Any, environ: Mapping[str, str], images: Mapping[str, bytes]) -> str:
    """Seed the images and have them inspected by one batch job with the environment's AutoProcess: its job id."""
    etags = seed(backend, images)
    result = inspect_uploads(backend, environ, list(images), etags)
    return result["jobs"][0]["job_id"]


def keys_under(backend: Any, prefix: str) -> Iterable[str]:
    return backend.list_keys(BUCKET, prefix=prefix)
