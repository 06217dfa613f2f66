"""The submit handler end to end: SCF event -> handler -> official SDK -> emulator over HTTP -> objects acted on."""
from __future__ import annotations

import copy
import struct
import zlib
from datetime import timedelta
from urllib.parse import quote

import pytest

from handlers.submit import main_handler
from tests.conftest import EMULATOR_NOW, load_event

pytestmark = pytest.mark.emulator

BUCKET = "examplebucket-1250000000"
NOW = EMULATOR_NOW
TICK = "2026-11-28T16:00:00Z"
TS_STREAM = b"".join(b"\x47\x40\x00\x10" + bytes(184) for _ in range(8))


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b"")


@pytest.fixture
def bucket(emulator_bucket, monkeypatch):
    """The emulator's bucket, with the function's environment pointed at it and acting on what it flags."""
    monkeypatch.setenv("INSPECT_AUTO_PROCESS", "true")
    return emulator_bucket


def seed(backend, key, data, uploaded=NOW):
    backend.put_object(BUCKET, key, data, content_type="image/png", last_modified=uploaded)


def cos_event(keys):
    template = load_event("cos-upload-one.json")["Records"][0]
    records = []
    for i, key in enumerate(keys):
        record = copy.deepcopy(template)
        record["cos"]["cosObject"]["key"] = f"/1250000000/examplebucket/{key}"
        record["cos"]["cosObject"]["url"] = f"http://{BUCKET}.cos.ap-guangzhou.myqcloud.com/{quote(key, safe='/-_.~')}"
        record["cos"]["cosObject"]["meta"]["x-cos-request-id"] = f"req-{i}"
        records.append(record)
    return {"Records": records}


def timer():
    return {"Type": "Timer", "TriggerName": "hourly", "Time": TICK, "Message": ""}


def test_timer_job_backs_up_the_flagged_image_and_leaves_the_clean_one(bucket):
    seed(bucket, "uploads/clean.png", png())
    seed(bucket, "uploads/video.png", png() + TS_STREAM)
    result = main_handler(timer(), {"request_id": "r1"})
    assert bucket.run_pending() == 1
    assert sorted(k for k in bucket.list_keys(BUCKET) if not k.startswith("autopilot/")) == [
        "abnormal_images_backup/uploads/video.png", "uploads/clean.png"]
    assert bucket.get_job(result["jobs"][0]["job_id"]).state == "Success"


@pytest.mark.parametrize(("process_type", "expect_key", "expect_acl"), [
    ("SwitchObjectToPrivate", "uploads/video.png", "private"),
    ("DeleteObject", None, None),
])
def test_timer_job_applies_the_configured_process_type(bucket, monkeypatch, process_type, expect_key, expect_acl):
    monkeypatch.setenv("INSPECT_PROCESS_TYPE", process_type)
    monkeypatch.setenv("INPUT_PREFIX", "uploads/")
    seed(bucket, "uploads/video.png", png() + TS_STREAM)
    bucket.put_object(BUCKET, "uploads/video.png", png() + TS_STREAM, last_modified=NOW)
    main_handler(timer(), {"request_id": "r1"})
    bucket.run_pending()
    keys = bucket.list_keys(BUCKET, prefix="uploads/")
    if expect_key is None:
        assert keys == []
    else:
        assert keys == [expect_key] and bucket.get_object(BUCKET, expect_key).acl == expect_acl


def test_objects_outside_the_timer_window_are_not_touched(bucket):
    seed(bucket, "uploads/old-video.png", png() + TS_STREAM, uploaded=NOW - timedelta(hours=2))
    main_handler(timer(), {"request_id": "r1"})  # first run: the default one-hour look-back
    bucket.run_pending()
    assert bucket.list_keys(BUCKET, prefix="uploads/") == ["uploads/old-video.png"]


def test_autoprocess_false_only_reports(bucket, monkeypatch):
    monkeypatch.setenv("INSPECT_AUTO_PROCESS", "false")
    seed(bucket, "uploads/video.png", png() + TS_STREAM)
    main_handler(timer(), {"request_id": "r1"})
    bucket.run_pending()
    assert bucket.list_keys(BUCKET, prefix="uploads/") == ["uploads/video.png"]


def test_upload_event_inspects_exactly_the_uploaded_keys_even_with_odd_characters(bucket):
    keys = ["uploads/my photo+1 100%.png", "uploads/照片/猫.png", "uploads/clean.png"]
    seed(bucket, keys[0], png() + TS_STREAM)
    seed(bucket, keys[1], png() + TS_STREAM)
    seed(bucket, keys[2], png())
    seed(bucket, "uploads/my photo+1 100%.png.bak", png() + TS_STREAM)  # a Prefix job would wrongly catch this
    result = main_handler(cos_event(keys), {"request_id": "r1"})
    assert result["jobs"][0]["input"].startswith(f"UrlFile=https://{BUCKET}.cos.ap-guangzhou.myqcloud.com/autopilot/manifests/")
    bucket.run_pending()
    assert sorted(bucket.list_keys(BUCKET, prefix="abnormal_images_backup/")) == [
        "abnormal_images_backup/uploads/my photo+1 100%.png", "abnormal_images_backup/uploads/照片/猫.png"]
    assert sorted(bucket.list_keys(BUCKET, prefix="uploads/")) == ["uploads/clean.png",
                                                                   "uploads/my photo+1 100%.png.bak"]


def test_single_upload_event_is_an_object_job(bucket):
    seed(bucket, "uploads/video.png", png() + TS_STREAM)
    main_handler(cos_event(["uploads/video.png"]), {"request_id": "r1"})
    bucket.run_pending()
    assert bucket.list_keys(BUCKET, prefix="uploads/") == []


def test_redelivered_upload_event_creates_one_job_in_the_service(bucket, emulator):
    seed(bucket, "uploads/video.png", png() + TS_STREAM)
    first = main_handler(cos_event(["uploads/video.png"]), {"request_id": "r1"})
    second = main_handler(cos_event(["uploads/video.png"]), {"request_id": "r2"})
    creates = [r for r in emulator.request_log.snapshot() if r.method == "POST" and r.path == "/inventorytriggerjob"]
    assert len(creates) == 1 and first["jobs"][0]["job_id"] == second["jobs"][0]["job_id"]
