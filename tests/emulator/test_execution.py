"""Executing batch jobs: object selection, real ImageInspect on each object, AutoProcess, per-object results."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest

from tests.emulator.factories import job_body, png, suspicious_png
from tests.support.emulator import ci_get, inspect_jobs
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator

CST = timezone(timedelta(hours=8))
ODD_KEYS = ["with space.png", "plus+sign.png", "per%cent.png", "中文/图片.png", "mixed %2B+ 字.png"]


def create(sdk_client, body) -> str:
    return sdk_client.ci_create_inventory_trigger_jobs(Bucket=BUCKET, JobBody=body)["JobsDetail"][0]["JobId"]


def state(sdk_client, job_id) -> dict:
    return sdk_client.ci_get_inventory_trigger_jobs(Bucket=BUCKET, JobID=job_id)["JobsDetail"][0]


def url_of(key: str) -> str:
    return f"https://{BUCKET}.cos.ap-guangzhou.myqcloud.com/{quote(key, safe='/')}"


def test_job_moves_submitted_running_success_one_step_at_a_time(sdk_client, bucket, emulator):
    emulator.backend.put_object(bucket, "a.png", png())
    job_id = create(sdk_client, job_body())
    assert state(sdk_client, job_id)["State"] == "Submitted"
    assert emulator.backend.step() is True
    running = state(sdk_client, job_id)
    assert (running["State"], running["EndTime"]) == ("Running", "-")
    assert running["StartTime"] != "-"
    assert emulator.backend.step() is True
    assert state(sdk_client, job_id)["State"] == "Success"
    assert emulator.backend.step() is False


def test_run_pending_runs_every_submitted_job_and_counts_them(sdk_client, bucket, emulator):
    ids = [create(sdk_client, job_body(name=f"j{i}")) for i in range(3)]
    assert emulator.backend.run_pending() == 3
    assert {state(sdk_client, i)["State"] for i in ids} == {"Success"}
    assert emulator.backend.run_pending() == 0


def test_prefix_selects_only_keys_under_it(sdk_client, bucket, emulator):
    for key in ["in/a.png", "in/b.png", "out/c.png"]:
        emulator.backend.put_object(bucket, key, png())
    job_id = create(sdk_client, job_body(prefix="in/"))
    emulator.backend.run_pending()
    assert sorted(j["Input"]["Object"] for j in inspect_jobs(sdk_client, job_id)) == ["in/a.png", "in/b.png"]


@pytest.mark.parametrize("prefix", ["/", ""])
def test_slash_or_empty_prefix_means_the_whole_bucket(sdk_client, bucket, emulator, prefix):
    for key in ["a.png", "d/b.png"]:
        emulator.backend.put_object(bucket, key, png())
    job_id = create(sdk_client, job_body(prefix=prefix))
    emulator.backend.run_pending()
    assert sorted(j["Input"]["Object"] for j in inspect_jobs(sdk_client, job_id)) == ["a.png", "d/b.png"]


def test_objects_under_the_backup_prefix_are_never_inspected(sdk_client, bucket, emulator):
    emulator.backend.put_object(bucket, "abnormal_images_backup/old.png", suspicious_png())
    emulator.backend.put_object(bucket, "new.png", png())
    job_id = create(sdk_client, job_body())
    emulator.backend.run_pending()
    assert [j["Input"]["Object"] for j in inspect_jobs(sdk_client, job_id)] == ["new.png"]


def test_url_file_selects_listed_keys_decoded_with_unquote(sdk_client, bucket, emulator):
    for key in ODD_KEYS + ["unlisted.png"]:
        emulator.backend.put_object(bucket, key, png())
    listing = "\n".join(url_of(k) for k in ODD_KEYS) + "\n\n"
    emulator.backend.put_object(bucket, "lists/urls.txt", listing.encode("utf-8"))
    job_id = create(sdk_client, job_body(input_={"UrlFile": url_of("lists/urls.txt")}))
    emulator.backend.run_pending()
    results = inspect_jobs(sdk_client, job_id, orderByTime="Asc")
    assert [j["Input"]["Object"] for j in results] == ODD_KEYS
    assert {j["State"] for j in results} == {"Success"}
    assert results[0]["Operation"]["ImageInspectResult"]["InputObjectUrl"].endswith("/with%20space.png")


def test_url_file_key_that_does_not_exist_is_a_failed_object_not_a_failed_job(sdk_client, bucket, emulator):
    emulator.backend.put_object(bucket, "urls.txt", url_of("ghost.png").encode())
    job_id = create(sdk_client, job_body(input_={"UrlFile": url_of("urls.txt")}))
    emulator.backend.run_pending()
    assert state(sdk_client, job_id)["State"] == "Success"
    (result,) = inspect_jobs(sdk_client, job_id)
    assert (result["State"], result["Code"]) == ("Failed", "NoSuchKey")


def test_missing_url_file_fails_the_job_with_code_and_message(sdk_client, bucket, emulator):
    job_id = create(sdk_client, job_body(input_={"UrlFile": url_of("nope.txt")}))
    emulator.backend.run_pending()
    detail = state(sdk_client, job_id)
    assert (detail["State"], detail["Code"], detail["Message"]) == ("Failed", "InvalidInput",
                                                                      f"UrlFile not found: {url_of('nope.txt')}")
    assert detail["EndTime"] != "-"


# Issue 12 point 1. UrlFile is "URL 文件名" and the SDK demo (cos-python-sdk-v5 demo/ci_media.py, read 2026-12-01)
# writes 'UrlFile': 'https://<bucket>.cos.ap-beijing.myqcloud.com/<key>.txt': CI fetches that URL, so a bare key
# can name nothing it could fetch. Manifest ("COS 清单列表文件名", docs 436/71516) is held to the same rule.
@pytest.mark.parametrize("kind", ["UrlFile", "Manifest"])
@pytest.mark.parametrize("value", ["lists/urls.txt", "/lists/urls.txt", "https://example.com/lists/urls.txt",
                                   "https://otherbucket-1250000000.cos.ap-guangzhou.myqcloud.com/lists/urls.txt"])
def test_url_file_or_manifest_that_is_not_an_object_url_of_the_bucket_fails_the_job(sdk_client, bucket, emulator,
                                                                                     kind, value):
    emulator.backend.put_object(bucket, "lists/urls.txt", url_of("a.png").encode())
    job_id = create(sdk_client, job_body(input_={kind: value}))
    emulator.backend.run_pending()
    detail = state(sdk_client, job_id)
    assert (detail["State"], detail["Code"]) == ("Failed", "InvalidInput")
    assert detail["Message"].startswith(f"Input.{kind} must be the URL of an object in this bucket")


def test_url_file_with_a_non_cos_line_fails_the_job(sdk_client, bucket, emulator):
    emulator.backend.put_object(bucket, "urls.txt", b"not a url\n")
    job_id = create(sdk_client, job_body(input_={"UrlFile": url_of("urls.txt")}))
    emulator.backend.run_pending()
    assert (state(sdk_client, job_id)["State"], state(sdk_client, job_id)["Code"]) == ("Failed", "InvalidInput")


def test_object_input_inspects_exactly_that_key(sdk_client, bucket, emulator):
    emulator.backend.put_object(bucket, "one.png", suspicious_png())
    emulator.backend.put_object(bucket, "two.png", suspicious_png())
    job_id = create(sdk_client, job_body(input_={"Object": "one.png"}))
    emulator.backend.run_pending()
    assert [j["Input"]["Object"] for j in inspect_jobs(sdk_client, job_id)] == ["one.png"]
    assert emulator.backend.list_keys(bucket) == ["abnormal_images_backup/one.png", "two.png"]


@pytest.mark.parametrize("offset, included", [
    (timedelta(seconds=-1), False),  # just before Start
    (timedelta(0), True),  # exactly Start: inclusive
    (timedelta(hours=1), True),
    (timedelta(days=1, seconds=-1), True),  # last second before End
    (timedelta(days=1), False),  # exactly End: exclusive
])
def test_time_interval_filters_last_modified_start_inclusive_end_exclusive(sdk_client, bucket, emulator, offset,
                                                                           included):
    start = datetime(2023, 5, 1, 0, 0, 0, tzinfo=CST)
    emulator.backend.put_object(bucket, "x.png", png(), last_modified=start + offset)
    body = job_body(start="2023-05-01T00:00:00+0800", end="2023-05-02T00:00:00+0800")
    job_id = create(sdk_client, body)
    emulator.backend.run_pending()
    assert len(inspect_jobs(sdk_client, job_id)) == (1 if included else 0)


def test_consecutive_time_windows_tile_without_overlap(sdk_client, bucket, emulator):
    base = datetime(2023, 5, 1, tzinfo=CST)
    for h in range(6):
        emulator.backend.put_object(bucket, f"h{h}.png", png(seed=h), last_modified=base + timedelta(hours=h))
    seen = []
    for start, end in [(0, 2), (2, 4), (4, 6)]:
        body = job_body(start=(base + timedelta(hours=start)).strftime("%Y-%m-%dT%H:%M:%S+0800"),
                        end=(base + timedelta(hours=end)).strftime("%Y-%m-%dT%H:%M:%S+0800"),
                        auto="false")
        job_id = create(sdk_client, body)
        emulator.backend.run_pending()
        seen += [j["Input"]["Object"] for j in inspect_jobs(sdk_client, job_id)]
    assert sorted(seen) == [f"h{h}.png" for h in range(6)]


def test_suspicious_result_is_exposed_per_object_like_the_service(sdk_client, bucket, emulator):
    data = suspicious_png()
    emulator.backend.put_object(bucket, "bad.png", data)
    job_id = create(sdk_client, job_body(auto="true", process_type="BackupObject"))
    emulator.backend.run_pending()
    (result,) = inspect_jobs(sdk_client, job_id)
    queue_id = sdk_client.ci_get_media_queue(Bucket=bucket)["QueueList"][0]["QueueId"]
    assert (result["Tag"], result["State"], result["QueueId"]) == ("ImageInspect", "Success", queue_id)
    assert result["Input"] == {"Region": "ap-guangzhou", "Bucket": BUCKET, "Object": "bad.png"}
    op = result["Operation"]
    assert op["ImageInspect"] == {"AutoProcess": "true", "ProcessType": "BackupObject"}
    assert op["InventoryTriggerJobId"] == job_id
    assert op["ImageInspectResult"]["ProcessResult"] == {
        "PicSize": str(len(data)), "PicType": "png", "Suspicious": "true",
        "SuspiciousBeginByte": str(len(png())), "SuspiciousEndByte": str(len(data) - 1),
        "SuspiciousSize": str(len(data) - len(png())), "SuspiciousType": "MPEG-TS",
        "AutoProcessResult": {"Code": "Success", "Message": "moved to abnormal_images_backup/bad.png"}}


def test_clean_result_has_no_suspicious_fields(sdk_client, bucket, emulator):
    emulator.backend.put_object(bucket, "ok.png", png())
    job_id = create(sdk_client, job_body())
    emulator.backend.run_pending()
    (result,) = inspect_jobs(sdk_client, job_id)
    assert result["Operation"]["ImageInspectResult"]["ProcessResult"] == {
        "PicSize": str(len(png())), "PicType": "png", "Suspicious": "false"}


def test_backup_object_moves_suspicious_images_and_keeps_clean_ones(sdk_client, bucket, emulator):
    emulator.backend.put_object(bucket, "d/bad.png", suspicious_png(), content_type="image/png")
    emulator.backend.put_object(bucket, "d/ok.png", png())
    create(sdk_client, job_body(process_type="BackupObject"))
    emulator.backend.run_pending()
    assert emulator.backend.list_keys(bucket) == ["abnormal_images_backup/d/bad.png", "d/ok.png"]
    moved = emulator.backend.get_object(bucket, "abnormal_images_backup/d/bad.png")
    assert (moved.data, moved.content_type) == (suspicious_png(), "image/png")


def test_backup_object_keeps_the_headers_the_object_was_put_with(sdk_client, bucket, emulator):
    # inferred: a move keeps what a GET returns, as PUT Object - Copy keeps it (x-cos-metadata-directive Copy)
    sdk_client.put_object(Bucket=bucket, Key="bad.png", Body=suspicious_png(), CacheControl="no-cache",
                          Metadata={"x-cos-meta-owner": "me"})
    create(sdk_client, job_body(process_type="BackupObject"))
    emulator.backend.run_pending()
    moved = sdk_client.head_object(Bucket=bucket, Key="abnormal_images_backup/bad.png")
    assert (moved["Cache-Control"], moved["x-cos-meta-owner"]) == ("no-cache", "me")


def test_switch_object_to_private_changes_only_the_acl(sdk_client, bucket, emulator):
    emulator.backend.put_object(bucket, "bad.png", suspicious_png(), acl="public-read")
    emulator.backend.put_object(bucket, "ok.png", png(), acl="public-read")
    create(sdk_client, job_body(process_type="SwitchObjectToPrivate"))
    emulator.backend.run_pending()
    assert emulator.backend.get_object(bucket, "bad.png").acl == "private"
    assert emulator.backend.get_object(bucket, "ok.png").acl == "public-read"


def test_delete_object_deletes_suspicious_images(sdk_client, bucket, emulator):
    emulator.backend.put_object(bucket, "bad.png", suspicious_png())
    emulator.backend.put_object(bucket, "ok.png", png())
    job_id = create(sdk_client, job_body(process_type="DeleteObject"))
    emulator.backend.run_pending()
    assert emulator.backend.list_keys(bucket) == ["ok.png"]
    results = {j["Input"]["Object"]: j for j in inspect_jobs(sdk_client, job_id)}
    auto = results["bad.png"]["Operation"]["ImageInspectResult"]["ProcessResult"]["AutoProcessResult"]
    assert auto == {"Code": "Success", "Message": "deleted"}


@pytest.mark.parametrize("process_type", ["BackupObject", "SwitchObjectToPrivate", "DeleteObject"])
def test_auto_process_false_leaves_objects_alone(sdk_client, bucket, emulator, process_type):
    emulator.backend.put_object(bucket, "bad.png", suspicious_png(), acl="public-read")
    job_id = create(sdk_client, job_body(auto="false", process_type=process_type))
    emulator.backend.run_pending()
    record = emulator.backend.get_object(bucket, "bad.png")
    assert (emulator.backend.list_keys(bucket), record.acl) == (["bad.png"], "public-read")
    (result,) = inspect_jobs(sdk_client, job_id)
    process = result["Operation"]["ImageInspectResult"]["ProcessResult"]
    assert process["Suspicious"] == "true"
    assert "AutoProcessResult" not in process


def test_cancel_stops_a_running_job_before_the_next_object(sdk_client, bucket, emulator):
    for i in range(3):
        emulator.backend.put_object(bucket, f"{i}.png", suspicious_png(seed=i))
    job_id = create(sdk_client, job_body(process_type="DeleteObject"))
    emulator.backend.step()  # Submitted -> Running
    emulator.backend.step(max_objects=1)  # one object done
    sdk_client.ci_delete_inventory_trigger_jobs(Bucket=BUCKET, JobId=job_id)
    emulator.backend.run_pending()
    assert state(sdk_client, job_id)["State"] == "Cancel"
    assert emulator.backend.list_keys(bucket) == ["1.png", "2.png"]
    assert len(inspect_jobs(sdk_client, job_id)) == 1


def test_cancel_before_start_means_nothing_runs(sdk_client, bucket, emulator):
    emulator.backend.put_object(bucket, "bad.png", suspicious_png())
    job_id = create(sdk_client, job_body(process_type="DeleteObject"))
    sdk_client.ci_delete_inventory_trigger_jobs(Bucket=BUCKET, JobId=job_id)
    assert emulator.backend.run_pending() == 0
    assert emulator.backend.list_keys(bucket) == ["bad.png"]


def test_job_times_come_from_the_injected_clock(sdk_client, bucket, emulator):
    times = iter([datetime(2023, 5, 1, 0, 0, i, tzinfo=timezone.utc) for i in range(60)])
    emulator.backend.set_clock(lambda: next(times))
    job_id = create(sdk_client, job_body())
    emulator.backend.run_pending()
    detail = state(sdk_client, job_id)
    assert detail["CreationTime"] == "2023-05-01T08:00:00+0800"
    assert detail["StartTime"] == "2023-05-01T08:00:01+0800"
    assert detail["EndTime"] > detail["StartTime"]


def test_per_object_results_page_with_next_token(sdk_client, bucket, emulator):
    for i in range(25):
        emulator.backend.put_object(bucket, f"k{i:02}.png", png(seed=i))
    job_id = create(sdk_client, job_body(auto="false"))
    emulator.backend.run_pending()
    first = ci_get(sdk_client, "/jobs", {"tag": "ImageInspect", "inventoryTriggerJobId": job_id, "size": "10",
                                         "orderByTime": "Asc"})
    assert len(first["JobsDetail"]) == 10 and first["NextToken"]
    everything = inspect_jobs(sdk_client, job_id, orderByTime="Asc")
    assert [j["Input"]["Object"] for j in everything] == [f"k{i:02}.png" for i in range(25)]


def test_media_job_list_without_tag_is_400(sdk_client, bucket):
    from qcloud_cos import CosServiceError

    with pytest.raises(CosServiceError) as err:
        ci_get(sdk_client, "/jobs", {"inventoryTriggerJobId": "b1"})
    assert err.value.get_status_code() == 400


def test_image_too_large_is_a_failed_object(sdk_client, bucket, emulator):
    emulator.backend.put_object(bucket, "huge.png", png() + b"\0" * (32 * 1024 * 1024 + 1))
    job_id = create(sdk_client, job_body())
    emulator.backend.run_pending()
    (result,) = inspect_jobs(sdk_client, job_id)
    assert (result["State"], result["Code"]) == ("Failed", "ImageTooLarge")
    assert "ProcessResult" not in result["Operation"]["ImageInspectResult"]


def test_autorun_worker_runs_jobs_without_stepping(bucket_free_autorun):
    emu, sdk_client = bucket_free_autorun
    emu.backend.put_object(BUCKET, "bad.png", suspicious_png())
    job_id = create(sdk_client, job_body())
    assert emu.backend.wait_idle(timeout=10)
    assert state(sdk_client, job_id)["State"] == "Success"
    assert emu.backend.list_keys(BUCKET) == ["abnormal_images_backup/bad.png"]


@pytest.fixture
def bucket_free_autorun():
    from emulator.testing import run_emulator

    with run_emulator(autorun=True) as emu:
        emu.backend.create_bucket(BUCKET)
        yield emu, emu.client()
