"""Issue 22 point 8 (part): `.` and `..` key segments are percent-encoded in UrlFile lines, so no URL client can
resolve a line to another object; the emulator, like COS, decodes `%2E` and never normalises a key.

Published sources: RFC 3986 §5.2.4 (remove_dot_segments runs on every resolved reference) and §6.2.2.3 (only a
literal `.`/`..` segment is a dot segment, `%2E` is not); requests does it when it prepares a URL (urllib3
parse_url, shown below). The SDK guards its own request paths the same way: CosConfig.uri writes `./` as `.%2F`
(qcloud_cos/cos_client.py, tencentyun/cos-python-sdk-v5 @cc3bdf0). COS keys are opaque strings: `a/../b.png` is
its own object (inference from the object-key docs, which allow any UTF-8 name; nothing says CI resolves them)."""
from __future__ import annotations

from typing import List
from urllib.parse import unquote, urlsplit

import pytest
import requests
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from handlers.submit import main_handler
from tests.emulator.factories import png, suspicious_png
from tests.reliability.support import examples
from tests.support.events import cos_event
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator


def manifest_of(backend, result: dict) -> List[str]:
    """The lines of the UrlFile manifest the run's job reads."""
    url = result["jobs"][0]["input"].split("=", 1)[1].split(" ", 1)[0]
    key = unquote(urlsplit(url).path[1:])
    return backend.get_object(BUCKET, key).data.decode("utf-8").splitlines()


def key_a_client_fetches(line: str) -> str:
    """The key a URL client asks COS for when it fetches the line (requests removes dot segments on prepare)."""
    return unquote(urlsplit(requests.Request("GET", line).prepare().url).path[1:])


def submit(backend, keys: List[str]) -> dict:
    for i, key in enumerate(keys):
        backend.put_object(BUCKET, key, png(seed=i), content_type="image/png")
    result = main_handler(cos_event(keys), {"request_id": "r-dots"})
    assert len(result["jobs"]) == 1, result
    return result


DOT_KEYS = ["uploads/../x.png", "uploads/./y.png", "uploads/a/../../z.png", "uploads/../../etc.png"]


@pytest.mark.parametrize("key", DOT_KEYS)
def test_a_manifest_line_resolves_to_exactly_its_key(emulator_bucket, key):
    result = submit(emulator_bucket, [key, "uploads/plain.png"])
    lines = manifest_of(emulator_bucket, result)
    assert [key_a_client_fetches(line) for line in lines] == [key, "uploads/plain.png"]


def test_the_emulator_decodes_percent_encoded_dots_and_deletes_only_the_uploaded_key(emulator_bucket, monkeypatch):
    monkeypatch.setenv("INSPECT_AUTO_PROCESS", "true")
    monkeypatch.setenv("INSPECT_PROCESS_TYPE", "DeleteObject")
    monkeypatch.setenv("ALLOW_IRREVERSIBLE_DELETE", "true")  # deleted for good: the worst case for a wrong key
    emulator_bucket.put_object(BUCKET, "x.png", suspicious_png(7), content_type="image/png")  # what `uploads/../x.png` resolves to
    keys = ["uploads/../x.png", "uploads/./y.png"]
    for i, key in enumerate(keys):
        emulator_bucket.put_object(BUCKET, key, suspicious_png(i), content_type="image/png")
    result = main_handler(cos_event(keys), {"request_id": "r-dots"})
    assert all("%2E" in line for line in manifest_of(emulator_bucket, result))
    emulator_bucket.run_pending()
    assert [j.key for j in emulator_bucket.inspect_jobs_by_batch[result["jobs"][0]["job_id"]]] == keys
    assert emulator_bucket.list_keys(BUCKET, "x.png") == ["x.png"], "an object nobody uploaded was deleted"


SEGMENTS = st.sampled_from([".", "..", "a", "%2E", ".%2E", "..a", "...", "%2e%2E"])


@examples(default=15, soak=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(paths=st.lists(st.lists(SEGMENTS, min_size=1, max_size=5), min_size=2, max_size=4, unique_by=tuple))
def test_any_dotted_key_is_fetched_and_inspected_exactly(emulator_bucket, paths):
    keys = ["uploads/" + "/".join(p) + ".png" for p in paths]
    result = submit(emulator_bucket, keys)
    assert [key_a_client_fetches(line) for line in manifest_of(emulator_bucket, result)] == keys
    emulator_bucket.run_pending()
    assert [j.key for j in emulator_bucket.inspect_jobs_by_batch[result["jobs"][0]["job_id"]]] == keys
