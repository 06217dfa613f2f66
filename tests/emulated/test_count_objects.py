"""CiClient.count_objects over the emulator, through the official SDK: what a Prefix job's window would process.

Sources: GET Bucket lists keys after `marker` (exclusive) in UTF-8 order, at most max-keys=1000 a page, with
IsTruncated and NextMarker (cloud.tencent.com/document/api/436/7734, intl 436/30614); LastModified reads
`2017-06-09T16:32:25.000Z` (cos-go-sdk-v5 bucket_test.go TestBucketService_Get). TimeInterval filters on upload time,
ends not stated (cloud.tencent.com/document/api/436/76888): the count includes both."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator
START = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)
END = START + timedelta(hours=1)
INSIDE = START + timedelta(minutes=30)
SECOND = timedelta(seconds=1)


@pytest.fixture
def put(emulator_with_bucket):
    """put(key, modified=INSIDE): an empty object in BUCKET with that Last-Modified."""
    def put(key: str, modified: datetime = INSIDE) -> None:
        emulator_with_bucket.backend.put_object(BUCKET, key, b"", last_modified=modified)
    return put


def listing_calls(emulator) -> int:
    return sum(1 for r in emulator.request_log.snapshot() if r.service == "cos" and r.method == "GET"
               and r.path == "/")


def test_only_objects_modified_inside_the_window_are_counted_with_both_ends_included(emulated_ci_client, put):
    for key, modified in [("u/before", START - SECOND), ("u/at-start", START), ("u/inside", INSIDE),
                          ("u/at-end", END), ("u/after", END + SECOND)]:
        put(key, modified)

    count = emulated_ci_client.count_objects("u/", START, END, limit=1000)

    assert (count.objects, count.complete) == (3, True)


def test_window_bounds_are_compared_at_whole_seconds_as_ci_receives_them(emulated_ci_client, put):
    put("u/at-start", START)
    put("u/at-end", END)

    count = emulated_ci_client.count_objects("u/", START + timedelta(milliseconds=600),
                                             END + timedelta(milliseconds=600), limit=1000)

    assert count.objects == 2


def test_folder_markers_are_not_counted(emulated_ci_client, put):
    for key in ("u/", "u/a/", "u/a/1.png", "u/2.png"):
        put(key)

    assert emulated_ci_client.count_objects("u/", START, END, limit=1000).objects == 2


def test_a_prefix_counts_only_keys_that_start_with_it(emulated_ci_client, put):
    for key in ("uploads/a.png", "uploads/b.png", "uploadsX/c.png", "other/d.png"):
        put(key)

    assert emulated_ci_client.count_objects("uploads/", START, END, limit=1000).objects == 2


@pytest.mark.parametrize("prefix", ["/", ""])
def test_the_whole_bucket_counts_our_own_folders_too_as_ci_would_process_them(emulated_ci_client, put, prefix):
    for key in ("images/a.png", "autopilot/checkpoints/hourly.json", "autopilot-reports/r.html",
                "abnormal_images_backup/images/x.png"):
        put(key)

    assert emulated_ci_client.count_objects(prefix, START, END, limit=1000).objects == 4


def test_without_a_start_every_object_counts_since_the_job_then_carries_no_time_interval(emulated_ci_client, put):
    put("u/old", START - timedelta(days=400))
    put("u/after-end", END + timedelta(minutes=5))

    assert emulated_ci_client.count_objects("u/", None, END, limit=1000).objects == 2


def test_the_count_follows_the_pages_and_counts_each_listing_request(emulated_ci_client, emulator_with_bucket, put):
    for i in range(2500):
        put(f"u/{i:05d}.png", INSIDE if i % 2 else START - timedelta(days=1))
    emulator_with_bucket.request_log.clear()

    count = emulated_ci_client.count_objects("u/", START, END, limit=10_000)

    assert (count.objects, count.complete, count.calls) == (1250, True, 3)
    assert listing_calls(emulator_with_bucket) == 3


def test_past_the_bound_the_listing_stops_at_ceil_limit_over_1000_pages_and_says_at_least(
        emulated_ci_client, emulator_with_bucket, put):
    for i in range(3001):
        put(f"u/{i:05d}.png")
    emulator_with_bucket.request_log.clear()

    count = emulated_ci_client.count_objects("u/", START, END, limit=2001)

    assert (count.objects, count.complete, count.calls) == (3000, False, 3)
    assert listing_calls(emulator_with_bucket) == 3


def test_a_prefix_that_ends_on_the_bounds_last_page_is_complete(emulated_ci_client, put):
    for i in range(3000):
        put(f"u/{i:05d}.png")

    count = emulated_ci_client.count_objects("u/", START, END, limit=3000)

    assert (count.objects, count.complete, count.calls) == (3000, True, 3)


def test_the_bound_is_on_keys_listed_not_on_objects_kept_by_the_window(emulated_ci_client, put):
    for i in range(1500):
        put(f"u/{i:05d}.png", START - timedelta(days=30))

    count = emulated_ci_client.count_objects("u/", START, END, limit=1000)

    assert (count.objects, count.complete, count.calls) == (0, False, 1)


def test_an_empty_prefix_costs_one_call_and_counts_nothing(emulated_ci_client):
    count = emulated_ci_client.count_objects("nothing/", START, END, limit=1000)

    assert (count.objects, count.complete, count.calls) == (0, True, 1)


def test_a_limit_below_one_object_is_refused(emulated_ci_client):
    with pytest.raises(ValueError, match="limit must be at least 1 object, got 0"):
        emulated_ci_client.count_objects("u/", START, END, limit=0)
