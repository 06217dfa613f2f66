"""The SDK's object calls against the emulator, asserting what the SDK parses."""
from __future__ import annotations

import json
import threading
from datetime import datetime, timezone

import pytest
from qcloud_cos import CosServiceError

from tests.emulator.factories import png, suspicious_png
from tests.support.settings import BUCKET, REGION

pytestmark = pytest.mark.emulator

ODD_KEYS = ["plain.png", "dir/with space.png", "plus+sign.png", "per%cent.png", "中文/图片.png", "a?b#c.png"]


def test_create_bucket_then_put_object_succeeds(sdk_client):
    sdk_client.create_bucket(Bucket=BUCKET)
    sdk_client.put_object(Bucket=BUCKET, Key="a.txt", Body=b"hi")
    assert sdk_client.get_object(Bucket=BUCKET, Key="a.txt")["Body"].get_raw_stream().read() == b"hi"


def test_create_existing_bucket_is_409_bucket_already_exists(sdk_client, bucket):
    with pytest.raises(CosServiceError) as err:
        sdk_client.create_bucket(Bucket=bucket)
    assert (err.value.get_status_code(), err.value.get_error_code()) == (409, "BucketAlreadyExists")


def test_put_object_to_missing_bucket_is_404_no_such_bucket(sdk_client, emulator):
    with pytest.raises(CosServiceError) as err:
        sdk_client.put_object(Bucket="missing-1250000000", Key="a.txt", Body=b"x")
    assert (err.value.get_status_code(), err.value.get_error_code()) == (404, "NoSuchBucket")
    assert not emulator.backend.has_bucket("missing-1250000000")


@pytest.mark.parametrize("key", ODD_KEYS)
def test_put_then_get_round_trips_data_headers_and_metadata(sdk_client, bucket, key):
    put = sdk_client.put_object(Bucket=bucket, Key=key, Body=b"payload", ContentType="image/png",
                                Metadata={"x-cos-meta-owner": "alice"})
    got = sdk_client.get_object(Bucket=bucket, Key=key)
    assert got["Body"].get_raw_stream().read() == b"payload"
    assert got["ETag"] == put["ETag"] == '"321c3cf486ed509164edec1e1981fec8"'
    assert got["Content-Type"] == "image/png"
    assert got["x-cos-meta-owner"] == "alice"
    assert got["Last-Modified"].endswith("GMT")


def test_head_object_returns_headers_from_backend_record(sdk_client, bucket, emulator):
    stamp = datetime(2023, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
    emulator.backend.put_object(bucket, "k.png", b"12345", content_type="image/png", last_modified=stamp,
                                metadata={"color": "red"})
    head = sdk_client.head_object(Bucket=bucket, Key="k.png")
    assert head["Content-Length"] == "5"
    assert head["Last-Modified"] == "Mon, 01 May 2023 12:00:00 GMT"
    assert head["x-cos-meta-color"] == "red"


def test_get_missing_key_is_404_no_such_key_with_cos_error_fields(sdk_client, bucket):
    with pytest.raises(CosServiceError) as err:
        sdk_client.get_object(Bucket=bucket, Key="nope.png")
    e = err.value
    assert (e.get_status_code(), e.get_error_code()) == (404, "NoSuchKey")
    assert e.get_request_id() != "Unknown"
    assert "<Resource>" in e.get_origin_msg()


def test_head_missing_key_is_404(sdk_client, bucket):
    with pytest.raises(CosServiceError) as err:
        sdk_client.head_object(Bucket=bucket, Key="nope.png")
    assert err.value.get_status_code() == 404


def test_delete_object_removes_it_and_is_idempotent(sdk_client, bucket, emulator):
    emulator.backend.put_object(bucket, "gone.png", b"x")
    sdk_client.delete_object(Bucket=bucket, Key="gone.png")
    sdk_client.delete_object(Bucket=bucket, Key="gone.png")
    assert emulator.backend.list_keys(bucket) == []


def test_list_objects_filters_by_prefix_and_decodes_keys(sdk_client, bucket, emulator):
    for key in ["a/1.png", "a/2 x.png", "b/中.png"]:
        emulator.backend.put_object(bucket, key, b"x")
    listed = sdk_client.list_objects(Bucket=bucket, Prefix="a/")
    assert [c["Key"] for c in listed["Contents"]] == ["a/1.png", "a/2 x.png"]
    assert listed["IsTruncated"] == "false"


def test_list_objects_pages_with_marker_and_max_keys(sdk_client, bucket, emulator):
    for i in range(5):
        emulator.backend.put_object(bucket, f"k{i}", b"x")
    first = sdk_client.list_objects(Bucket=bucket, MaxKeys=2)
    second = sdk_client.list_objects(Bucket=bucket, MaxKeys=2, Marker=first["NextMarker"])
    third = sdk_client.list_objects(Bucket=bucket, MaxKeys=2, Marker=second["NextMarker"])
    assert [c["Key"] for c in first["Contents"] + second["Contents"] + third["Contents"]] == [
        "k0", "k1", "k2", "k3", "k4"]
    assert (first["IsTruncated"], third["IsTruncated"]) == ("true", "false")


def test_list_objects_groups_common_prefixes_with_delimiter(sdk_client, bucket, emulator):
    for key in ["top.png", "x/1.png", "x/2.png", "y/z/3.png"]:
        emulator.backend.put_object(bucket, key, b"x")
    listed = sdk_client.list_objects(Bucket=bucket, Delimiter="/")
    assert [c["Key"] for c in listed["Contents"]] == ["top.png"]
    assert [p["Prefix"] for p in listed["CommonPrefixes"]] == ["x/", "y/"]


def test_copy_object_copies_data_and_metadata(sdk_client, bucket, emulator):
    emulator.backend.put_object(bucket, "src 1.png", b"data", content_type="image/png", metadata={"a": "1"})
    result = sdk_client.copy_object(Bucket=bucket, Key="dst.png",
                                    CopySource={"Bucket": bucket, "Key": "src 1.png", "Region": REGION})
    copied = emulator.backend.get_object(bucket, "dst.png")
    assert result["ETag"] == copied.etag
    assert (copied.data, copied.content_type, copied.metadata) == (b"data", "image/png", {"a": "1"})


def test_copy_from_missing_key_is_404(sdk_client, bucket):
    with pytest.raises(CosServiceError) as err:
        sdk_client.copy_object(Bucket=bucket, Key="dst.png", CopySource={"Bucket": bucket, "Key": "no.png",
                                                                         "Region": REGION})
    assert err.value.get_error_code() == "NoSuchKey"


@pytest.mark.parametrize("acl", ["private", "public-read"])
def test_put_object_acl_sets_the_canned_acl(sdk_client, bucket, emulator, acl):
    emulator.backend.put_object(bucket, "k.png", b"x")
    sdk_client.put_object_acl(Bucket=bucket, Key="k.png", ACL=acl)
    assert emulator.backend.get_object(bucket, "k.png").acl == acl
    assert sdk_client.get_object_acl(Bucket=bucket, Key="k.png")["CannedACL"] == acl


def test_forbid_overwrite_on_existing_key_is_409_file_already_exists(sdk_client, bucket, emulator):
    sdk_client.put_object(Bucket=bucket, Key="lease", Body=b"first", Metadata={"x-cos-forbid-overwrite": "true"})
    with pytest.raises(CosServiceError) as err:
        sdk_client.put_object(Bucket=bucket, Key="lease", Body=b"second", Metadata={"x-cos-forbid-overwrite": "true"})
    assert (err.value.get_status_code(), err.value.get_error_code()) == (409, "FileAlreadyExists")
    assert emulator.backend.get_object(bucket, "lease").data == b"first"


def test_forbid_overwrite_lets_exactly_one_concurrent_writer_win(emulator, bucket):
    outcomes = []
    barrier = threading.Barrier(8)

    def attempt(i):
        sdk_client = emulator.client(region=REGION)
        barrier.wait()
        try:
            sdk_client.put_object(Bucket=bucket, Key="lease", Body=str(i).encode(), Metadata={"x-cos-forbid-overwrite": "true"})
            outcomes.append(("won", i))
        except CosServiceError as exc:
            outcomes.append((exc.get_error_code(), i))

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [i for code, i in outcomes if code == "won"]
    assert len(winners) == 1
    assert sorted(code for code, _ in outcomes).count("FileAlreadyExists") == 7
    assert emulator.backend.get_object(bucket, "lease").data == str(winners[0]).encode()


def test_plain_put_overwrites_existing_key(sdk_client, bucket, emulator):
    sdk_client.put_object(Bucket=bucket, Key="k", Body=b"1")
    sdk_client.put_object(Bucket=bucket, Key="k", Body=b"2")
    assert emulator.backend.get_object(bucket, "k").data == b"2"


def test_sdk_image_inspect_flags_png_with_appended_ts(sdk_client, bucket, emulator):
    data = suspicious_png()
    emulator.backend.put_object(bucket, "bad.png", data)
    _, body = sdk_client.ci_image_inspect(Bucket=bucket, Key="bad.png")
    result = json.loads(body)
    assert result["suspicious"] is True
    assert result["suspiciousType"] == "MPEG-TS"
    assert result["suspiciousBeginByte"] == len(png())
    assert result["suspiciousEndByte"] == len(data) - 1
    assert "detail" not in result


def test_ci_process_image_inspect_form_reports_clean_png(sdk_client, bucket, emulator):
    emulator.backend.put_object(bucket, "ok.png", png())
    raw = sdk_client.get_object(Bucket=bucket, Key="ok.png", **{})  # warm-up: object exists
    assert raw["Content-Length"] == str(len(png()))
    url = sdk_client._conf.uri(bucket=bucket, path="ok.png")
    from qcloud_cos.cos_auth import CosS3Auth

    params = {"ci-process": "ImageInspect"}
    response = sdk_client.send_request(method="GET", url=url, bucket=bucket, params=params, headers={},
                                       auth=CosS3Auth(sdk_client._conf, "ok.png", params=params))
    assert json.loads(response.content) == {"picSize": len(png()), "picType": "png", "suspicious": False}


def test_unknown_object_subresource_is_501_not_a_silent_200(sdk_client, bucket, emulator):
    emulator.backend.put_object(bucket, "k.png", b"x")
    with pytest.raises(CosServiceError) as err:
        sdk_client.get_object_tagging(Bucket=bucket, Key="k.png")
    assert (err.value.get_status_code(), err.value.get_error_code()) == (501, "NotImplemented")
