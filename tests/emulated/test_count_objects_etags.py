"""CiClient.count_objects(etags=True) over the emulator: the counted objects' (key, ETag) pairs, which the timer's
window checks against the reviewed images (issue 26) without a request more than the plain count.

Sources: GET Bucket's Contents carry Key, LastModified and ETag (the quoted MD5 of a simple upload) for each key
(cloud.tencent.com/document/api/436/7734; cos-go-sdk-v5 bucket_test.go TestBucketService_Get)."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest

from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator
START = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)
END = START + timedelta(hours=1)
INSIDE = START + timedelta(minutes=30)


def quoted_md5(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'  # noqa: S324 - COS's ETag of a simple upload, not a security use


@pytest.fixture
def put(emulator_with_bucket):
    def put(key: str, data: bytes = b"", modified: datetime = INSIDE) -> None:
        emulator_with_bucket.backend.put_object(BUCKET, key, data, last_modified=modified)
    return put


def listing_calls(emulator) -> int:
    return sum(1 for r in emulator.request_log.snapshot() if r.service == "cos" and r.method == "GET"
               and r.path == "/")


def test_asked_for_etags_the_count_gives_each_counted_key_with_its_etag_in_listing_order(emulated_ci_client, put):
    put("u/b.png", b"bee")
    put("u/a.png", b"ay")
    put("u/old.png", b"old", START - timedelta(days=1))

    count = emulated_ci_client.count_objects("u/", START, END, limit=1000, etags=True)

    assert count.listed == (("u/a.png", quoted_md5(b"ay")), ("u/b.png", quoted_md5(b"bee")))
    assert count.objects == 2


def test_the_plain_count_keeps_no_pairs(emulated_ci_client, put):
    put("u/a.png", b"ay")

    assert emulated_ci_client.count_objects("u/", START, END, limit=1000).listed is None


def test_etags_cost_no_request_more_than_the_plain_count(emulated_ci_client, emulator_with_bucket, put):
    for i in range(1500):
        put(f"u/{i:05d}.png")
    emulator_with_bucket.request_log.clear()
    emulated_ci_client.count_objects("u/", START, END, limit=10_000)
    plain = listing_calls(emulator_with_bucket)
    emulator_with_bucket.request_log.clear()

    emulated_ci_client.count_objects("u/", START, END, limit=10_000, etags=True)

    assert listing_calls(emulator_with_bucket) == plain == 2
    assert len(emulator_with_bucket.request_log.snapshot()) == plain


def test_past_the_bound_the_pairs_are_the_objects_listed_so_far(emulated_ci_client, put):
    for i in range(1500):
        put(f"u/{i:05d}.png")

    count = emulated_ci_client.count_objects("u/", START, END, limit=1000, etags=True)

    assert (count.complete, count.objects) == (False, 1000)
    assert count.listed is not None and len(count.listed) == 1000 and count.listed[-1][0] == "u/00999.png"
