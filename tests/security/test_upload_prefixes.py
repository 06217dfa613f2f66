"""Issue 22, point 1 (UPLOAD_PREFIXES): the function knows which prefixes its COS triggers watch. An upload event
(or a stored record, tests/security/test_forged_upload_records.py) for a key outside them is skipped with a reason
naming the key and the setting; the setting is function-wide and never covers the function's own folders.

The trigger's filter.prefix is COS's key-prefix filter (serverless.yml; cloud.tencent.com/document/product/583/9707
"前缀过滤"): an event for any other key did not come from this function's trigger."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lib.errors import ConfigError
from tests.reliability.support import examples
from tests.support.emulator import EMULATOR_NOW, inspected_keys
from tests.support.entries import submit_entry
from tests.support.events import cos_event, timer_event
from tests.support.images import TS_STREAM, png
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator
VICTIM = "photos/victim.png"



@pytest.fixture
def deleting(upload_mode, emulator_bucket, monkeypatch):
    monkeypatch.setenv("INSPECT_AUTO_PROCESS", "true")
    monkeypatch.setenv("INSPECT_PROCESS_TYPE", "DeleteObject")
    monkeypatch.setenv("ALLOW_IRREVERSIBLE_DELETE", "true")  # deleted for good: the worst case for a wrong key
    monkeypatch.setenv("UPLOAD_PREFIXES", "uploads/,avatars/")
    if upload_mode == "coalescing":
        monkeypatch.setenv("UPLOAD_BATCH_SECONDS", "60")
    for key in (VICTIM, "uploads/a.png", "uploadsX/a.png", "avatars/b.png"):
        emulator_bucket.put_object(BUCKET, key, png() + TS_STREAM, content_type="image/png")
    return emulator_bucket




@pytest.mark.parametrize("key", [VICTIM, "uploadsX/a.png"])
def test_an_upload_outside_upload_prefixes_is_skipped_naming_the_key_and_the_setting(deleting, key, submit):
    result = submit(cos_event([key]), {"request_id": "r1"})
    (skip,) = result["skipped"]
    assert skip["key"] == key and key in skip["reason"] and "UPLOAD_PREFIXES='uploads/,avatars/'" in skip["reason"]
    assert inspected_keys(deleting) == [] and deleting.list_keys(BUCKET, prefix=key) == [key]


def test_uploads_under_any_watched_prefix_are_inspected_beside_a_skipped_one(deleting, submit):
    result = submit(cos_event(["uploads/a.png", VICTIM, "avatars/b.png"]), {"request_id": "r1"})
    assert [s["key"] for s in result["skipped"]] == [VICTIM]
    assert inspected_keys(deleting) == ["avatars/b.png", "uploads/a.png"]
    assert deleting.list_keys(BUCKET, prefix=VICTIM) == [VICTIM]


@pytest.mark.parametrize(("value", "named"), [
    ("/uploads/", "do not start with '/'"),
    ("autopilot/", "STATE_PREFIX='autopilot/'"),
    ("autopilot/uploads/", "STATE_PREFIX='autopilot/'"),
    ("uploads/,reports/", "REPORT_PREFIX='reports/daily/'"),
    ("abnormal", "abnormal_images_backup/"),
    ("abnormal_images_backup/x/", "abnormal_images_backup/"),
])
def test_an_upload_prefixes_value_that_covers_our_folders_fails_naming_the_variable_value_and_fix(
        emulator_bucket, monkeypatch, value, named):
    monkeypatch.setenv("UPLOAD_PREFIXES", value)
    monkeypatch.setenv("REPORT_PREFIX", "reports/daily/")
    with pytest.raises(ConfigError) as caught:
        submit_entry()(cos_event(["uploads/a.png"]), {"request_id": "r1"})
    text = str(caught.value)
    assert "UPLOAD_PREFIXES=" in text and repr(value) in text and named in text and "e.g. uploads/" in text


def test_a_timer_argument_cannot_widen_upload_prefixes(emulator_bucket, monkeypatch):
    monkeypatch.setenv("UPLOAD_PREFIXES", "uploads/")
    monkeypatch.setenv("INPUT_PREFIX", "scans/")
    with pytest.raises(ConfigError, match="'UPLOAD_PREFIXES' is not a setting a trigger may override"):
        submit_entry()(timer_event(EMULATOR_NOW, message='{"UPLOAD_PREFIXES": ""}'), {"request_id": "r1"})


@given(key=st.text(st.sampled_from("upladsvtrX/._-"), min_size=1, max_size=16).map(lambda k: k + ".png"))
@examples(default=8, soak=300)
def test_generated_keys_are_inspected_exactly_when_under_a_watched_prefix(deleting, key, submit):
    deleting.put_object(BUCKET, key, b"clean", content_type="image/png")
    before = inspected_keys(deleting)
    result = submit(cos_event([key]), {"request_id": f"r-{key}"})
    watched = key.startswith(("uploads/", "avatars/")) and not key.endswith("/")
    skipped_for_prefix = any("UPLOAD_PREFIXES" in s["reason"] for s in result["skipped"])
    assert skipped_for_prefix == (not watched)
    if not watched:
        assert inspected_keys(deleting) == before
