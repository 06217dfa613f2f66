"""GET Bucket pages from the emulator's ordered key index stay those of a fresh scan while keys come and go between
pages: listed after `marker`, exclusive, in UTF-8 order, `max-keys` at a time (cloud.tencent.com/document/api/436/7734;
SDK ut/test.py test_list_objects), LastModified as `…T…:…:….000Z` (cos-go-sdk-v5 bucket_test.go)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

pytestmark = pytest.mark.emulator


def keys_of(listed):
    return [c["Key"] for c in listed.get("Contents", [])]


def test_a_key_put_after_a_page_was_listed_appears_in_order_on_the_next_page(sdk_client, bucket, emulator):
    for key in ("k1", "k3", "k5"):
        emulator.backend.put_object(bucket, key, b"x")
    first = sdk_client.list_objects(Bucket=bucket, MaxKeys=1)

    for key in ("k4", "k2", "k0"):
        emulator.backend.put_object(bucket, key, b"x")
    rest = sdk_client.list_objects(Bucket=bucket, Marker=first["NextMarker"])

    assert keys_of(first) + keys_of(rest) == ["k1", "k2", "k3", "k4", "k5"]


def test_a_key_deleted_after_a_page_was_listed_is_gone_from_the_next_page(sdk_client, bucket, emulator):
    for key in ("k1", "k2", "k3", "k4"):
        emulator.backend.put_object(bucket, key, b"x")
    first = sdk_client.list_objects(Bucket=bucket, MaxKeys=1)

    emulator.backend.put_object(bucket, "k25", b"x")
    emulator.backend.delete_object(bucket, "k3")
    emulator.backend.delete_object(bucket, "k25")
    rest = sdk_client.list_objects(Bucket=bucket, Marker=first["NextMarker"])

    assert keys_of(rest) == ["k2", "k4"]


def test_a_prefix_page_starts_after_a_marker_outside_the_prefix(sdk_client, bucket, emulator):
    for key in ("a/1", "b/1", "b/2", "c/1"):
        emulator.backend.put_object(bucket, key, b"x")

    assert keys_of(sdk_client.list_objects(Bucket=bucket, Prefix="b/", Marker="a/9")) == ["b/1", "b/2"]
    assert keys_of(sdk_client.list_objects(Bucket=bucket, Prefix="b/", Marker="b/1")) == ["b/2"]
    assert keys_of(sdk_client.list_objects(Bucket=bucket, Prefix="b/", Marker="b/9")) == []


def test_keys_are_in_utf8_byte_order_across_pages(sdk_client, bucket, emulator):
    keys = ["z", "é", "中", "😀", "A", "a"]
    for key in keys:
        emulator.backend.put_object(bucket, key, b"x")
    first = sdk_client.list_objects(Bucket=bucket, MaxKeys=3)
    rest = sdk_client.list_objects(Bucket=bucket, Marker=first["NextMarker"])

    assert keys_of(first) + keys_of(rest) == sorted(keys, key=lambda k: k.encode("utf-8"))


def test_last_modified_is_listed_as_iso_8601_utc_with_milliseconds(sdk_client, bucket, emulator):
    emulator.backend.put_object(bucket, "a.png", b"x", last_modified=datetime(2017, 6, 9, 16, 32, 25, 700000,
                                                                              tzinfo=timezone.utc))

    assert sdk_client.list_objects(Bucket=bucket)["Contents"][0]["LastModified"] == "2017-06-09T16:32:25.000Z"
