"""CiClient's object listing and batch delete over the emulator, through the official SDK.

Sources (read 2026-12-02): GET Bucket returns at most 1000 keys a page, NextMarker only with a delimiter
(cloud.tencent.com/document/api/436/7734); DELETE Multiple Objects takes at most 1000 keys per request
(cloud.tencent.com/document/api/436/8289; SDK ut/test.py test_delete_multiple_objects)."""
from __future__ import annotations

import pytest

from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator
KEYS = [f"state/late/{i:05d}" for i in range(1001)]  # one more than a page and than one delete request


@pytest.fixture(autouse=True)
def state_keys(emulator_with_bucket):
    """KEYS, empty objects in BUCKET."""
    for key in KEYS:
        emulator_with_bucket.backend.put_object(BUCKET, key, b"")


def test_list_keys_follows_the_pages_to_the_last_key(emulated_ci_client):
    assert emulated_ci_client.list_keys("state/") == KEYS


def test_delimited_pages_give_each_folder_once(emulated_ci_client):
    folders = [f for page in emulated_ci_client.iter_pages("state/", delimiter="/") for f in page.folders]
    assert folders == ["state/late/"]


def test_delete_objects_deletes_more_keys_than_one_request_takes(emulated_ci_client, emulator):
    emulated_ci_client.delete_objects(KEYS)
    assert emulated_ci_client.list_keys("state/") == []
    assert sum(1 for r in emulator.request_log.snapshot() if r.method == "POST") == 2
