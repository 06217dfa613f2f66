"""The submit handler end to end: SCF event -> handler -> official SDK -> emulator over HTTP -> objects acted on."""
from __future__ import annotations

from datetime import timedelta

import pytest

from handlers.submit import main_handler
from tests.support.emulator import EMULATOR_NOW, seed_image
from tests.support.events import cos_event, timer_event
from tests.support.images import TS_STREAM, png
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator

NOW = EMULATOR_NOW


def test_timer_job_backs_up_the_flagged_image_and_leaves_the_clean_one(acting_bucket):
    seed_image(acting_bucket, "uploads/clean.png", png())
    seed_image(acting_bucket, "uploads/video.png", png() + TS_STREAM)
    result = main_handler(timer_event(), {"request_id": "r1"})
    assert acting_bucket.run_pending() == 1
    assert sorted(k for k in acting_bucket.list_keys(BUCKET) if not k.startswith("autopilot/")) == [
        "abnormal_images_backup/uploads/video.png", "uploads/clean.png"]
    assert acting_bucket.get_job(result["jobs"][0]["job_id"]).state == "Success"


@pytest.mark.parametrize(("process_type", "expect_key", "expect_acl"), [
    ("SwitchObjectToPrivate", "uploads/video.png", "private"),
    ("DeleteObject", None, None),
])
def test_timer_job_applies_the_configured_process_type(acting_bucket, monkeypatch, process_type, expect_key,
                                                       expect_acl):
    monkeypatch.setenv("INSPECT_PROCESS_TYPE", process_type)
    monkeypatch.setenv("INPUT_PREFIX", "uploads/")
    if process_type == "DeleteObject":
        acting_bucket.set_versioning(BUCKET, "Enabled")  # a delete that can be undone: the job is sent
    seed_image(acting_bucket, "uploads/video.png", png() + TS_STREAM)
    acting_bucket.put_object(BUCKET, "uploads/video.png", png() + TS_STREAM, last_modified=NOW)
    main_handler(timer_event(), {"request_id": "r1"})
    acting_bucket.run_pending()
    keys = acting_bucket.list_keys(BUCKET, prefix="uploads/")
    if expect_key is None:
        assert keys == []
    else:
        assert keys == [expect_key] and acting_bucket.get_object(BUCKET, expect_key).acl == expect_acl


def test_objects_outside_the_timer_window_are_not_touched(acting_bucket):
    seed_image(acting_bucket, "uploads/old-video.png", png() + TS_STREAM, uploaded=NOW - timedelta(hours=2))
    main_handler(timer_event(), {"request_id": "r1"})  # first run: the default one-hour look-back
    acting_bucket.run_pending()
    assert acting_bucket.list_keys(BUCKET, prefix="uploads/") == ["uploads/old-video.png"]


def test_autoprocess_false_only_reports(acting_bucket, monkeypatch):
    monkeypatch.setenv("INSPECT_AUTO_PROCESS", "false")
    seed_image(acting_bucket, "uploads/video.png", png() + TS_STREAM)
    main_handler(timer_event(), {"request_id": "r1"})
    acting_bucket.run_pending()
    assert acting_bucket.list_keys(BUCKET, prefix="uploads/") == ["uploads/video.png"]


def test_upload_event_inspects_exactly_the_uploaded_keys_even_with_odd_characters(acting_bucket):
    keys = ["uploads/my photo+1 100%.png", "uploads/照片/猫.png", "uploads/clean.png"]
    seed_image(acting_bucket, keys[0], png() + TS_STREAM)
    seed_image(acting_bucket, keys[1], png() + TS_STREAM)
    seed_image(acting_bucket, keys[2], png())
    # A Prefix job would wrongly catch this one.
    seed_image(acting_bucket, "uploads/my photo+1 100%.png.bak", png() + TS_STREAM)
    result = main_handler(cos_event(keys), {"request_id": "r1"})
    assert result["jobs"][0]["input"].startswith(f"UrlFile=https://{BUCKET}.cos.ap-guangzhou.myqcloud.com/autopilot/manifests/")
    acting_bucket.run_pending()
    assert sorted(acting_bucket.list_keys(BUCKET, prefix="abnormal_images_backup/")) == [
        "abnormal_images_backup/uploads/my photo+1 100%.png", "abnormal_images_backup/uploads/照片/猫.png"]
    assert sorted(acting_bucket.list_keys(BUCKET, prefix="uploads/")) == ["uploads/clean.png",
                                                                          "uploads/my photo+1 100%.png.bak"]


def test_single_upload_event_is_an_object_job(acting_bucket):
    seed_image(acting_bucket, "uploads/video.png", png() + TS_STREAM)
    main_handler(cos_event(["uploads/video.png"]), {"request_id": "r1"})
    acting_bucket.run_pending()
    assert acting_bucket.list_keys(BUCKET, prefix="uploads/") == []


def test_redelivered_upload_event_creates_one_job_in_the_service(acting_bucket, emulator):
    seed_image(acting_bucket, "uploads/video.png", png() + TS_STREAM)
    first = main_handler(cos_event(["uploads/video.png"]), {"request_id": "r1"})
    second = main_handler(cos_event(["uploads/video.png"]), {"request_id": "r2"})
    creates = [r for r in emulator.request_log.snapshot() if r.method == "POST" and r.path == "/inventorytriggerjob"]
    assert len(creates) == 1 and first["jobs"][0]["job_id"] == second["jobs"][0]["job_id"]
