"""Bucket versioning through the official SDK: GET/PUT Bucket versioning, versioned PUT/copy/GET/HEAD/DELETE,
GET Bucket ?versions, and what CI's AutoProcess leaves behind in a versioned bucket.

Sources (docs/emulator.md's fidelity table, the rows marked V): API pages 436/19888 (GET Bucket versioning),
436/19889 (PUT), 436/7743 (DELETE Object), 436/35521 (GET Bucket Object versions), 436/10881 (PUT Object - Copy),
the versioning overview 436/19883 and the delete-marker page 436/36716; the Go SDK's bucket_test.go
ListVersionsResult sample and example/object/object_recover2.go (undelete: copy the newest version back)."""
from __future__ import annotations

import pytest
from qcloud_cos import CosServiceError
from qcloud_cos.cos_auth import CosS3Auth

from tests.emulator.factories import job_body, suspicious_png
from tests.support.settings import BUCKET, REGION

pytestmark = pytest.mark.emulator


def _read(sdk_client, key, **kwargs) -> bytes:
    return sdk_client.get_object(Bucket=BUCKET, Key=key, **kwargs)["Body"].get_raw_stream().read()


def _entries(sdk_client, **kwargs):
    """(kind, key, VersionId, IsLatest) of every entry. The SDK's xml_to_dict groups Version and DeleteMarker
    apart, so each kind keeps its own order here."""
    listing = sdk_client.list_objects_versions(Bucket=BUCKET, **kwargs)
    return [(kind, e["Key"], e["VersionId"], e["IsLatest"])
            for kind in ("Version", "DeleteMarker") for e in listing.get(kind, [])]


def _put(sdk_client, key, body) -> str:
    return sdk_client.put_object(Bucket=BUCKET, Key=key, Body=body)["x-cos-version-id"]


def _copy_source(key, version_id=None):
    source = {"Bucket": BUCKET, "Key": key, "Region": REGION}
    if version_id:
        source["VersionId"] = version_id
    return source


@pytest.fixture
def versioned(sdk_client, bucket):
    sdk_client.put_bucket_versioning(Bucket=bucket, Status="Enabled")
    return bucket


# ----- GET / PUT Bucket versioning ------------------------------------------------------------------
def test_a_bucket_that_never_had_versioning_answers_an_empty_configuration(sdk_client, bucket):
    # 436/19888: "如果您从未在存储桶上启用版本控制,则响应为: <VersioningConfiguration/>", which the SDK's
    # xml_to_dict turns into {'VersioningConfiguration': None}: no Status key
    assert sdk_client.get_bucket_versioning(Bucket=bucket) == {"VersioningConfiguration": None}


@pytest.mark.parametrize("status", ["Enabled", "Suspended"])
def test_the_status_put_is_the_status_read_back(sdk_client, bucket, status):
    # 436/19889 (Enabled / Suspended); SDK ut test_put_get_versioning reads response['Status']
    sdk_client.put_bucket_versioning(Bucket=bucket, Status=status)
    assert sdk_client.get_bucket_versioning(Bucket=bucket) == {"Status": status}


def test_versioning_once_enabled_cannot_return_to_never(sdk_client, emulator, versioned):
    # 436/19889: "开启版本控制功能后,只能暂停,不能关闭"; an empty Status is refused (the code, 400: inference)
    params = {"versioning": ""}
    with pytest.raises(CosServiceError) as err:
        sdk_client.send_request(method="PUT", url=sdk_client._conf.uri(bucket=versioned), bucket=versioned,
                                data=b"<VersioningConfiguration><Status></Status></VersioningConfiguration>",
                                params=params, auth=CosS3Auth(sdk_client._conf, params=params), headers={})
    assert err.value.get_status_code() == 400
    assert sdk_client.get_bucket_versioning(Bucket=versioned) == {"Status": "Enabled"}


def test_backend_helpers_set_and_read_the_status(emulator, bucket):
    emulator.backend.set_versioning(bucket, "Suspended")
    assert emulator.backend.versioning(bucket) == "Suspended"


# ----- versioned objects ----------------------------------------------------------------------------
def test_an_unversioned_put_answers_no_version_id(sdk_client, bucket):
    # PUT Object (436/7749): x-cos-version-id only where versioning is enabled
    assert "x-cos-version-id" not in sdk_client.put_object(Bucket=bucket, Key="a.png", Body=b"one")


def test_each_put_makes_a_new_version_and_the_old_one_stays_readable(sdk_client, versioned):
    # 436/19883: every upload gets a unique version id; GET Object ?versionId reads that version
    first, second = _put(sdk_client, "a.png", b"one"), _put(sdk_client, "a.png", b"two")
    assert first != second
    assert _read(sdk_client, "a.png") == b"two"
    assert _read(sdk_client, "a.png", VersionId=first) == b"one"


def test_head_with_a_version_id_answers_that_versions_headers(sdk_client, versioned):
    first = _put(sdk_client, "a.png", b"one")
    _put(sdk_client, "a.png", b"second")
    head = sdk_client.head_object(Bucket=BUCKET, Key="a.png", VersionId=first)
    assert (head["Content-Length"], head["x-cos-version-id"]) == ("3", first)


def test_an_unknown_version_id_is_404_no_such_version(sdk_client, versioned):
    # SDK ut test_put_get_symlink_multiver expects NoSuchVersion for an invalid versionId (status 404: inference)
    _put(sdk_client, "a.png", b"one")
    with pytest.raises(CosServiceError) as err:
        _read(sdk_client, "a.png", VersionId="MTg0NDUxNzgxMjEzNTU3NTk1Mjg")
    assert (err.value.get_status_code(), err.value.get_error_code()) == (404, "NoSuchVersion")


def test_delete_without_version_id_leaves_a_delete_marker_and_the_key_404s(sdk_client, versioned):
    # 436/7743: Enabled → a delete marker becomes the latest version; x-cos-delete-marker: true and its id
    _put(sdk_client, "a.png", b"one")
    deleted = sdk_client.delete_object(Bucket=BUCKET, Key="a.png")
    assert deleted["x-cos-delete-marker"] == "true" and deleted["x-cos-version-id"]
    with pytest.raises(CosServiceError) as err:
        _read(sdk_client, "a.png")
    assert err.value.get_status_code() == 404
    assert sdk_client.list_objects(Bucket=BUCKET).get("Contents") is None


def test_removing_the_delete_marker_brings_the_previous_version_back(sdk_client, versioned):
    # 436/7743 (versionId of a delete marker → x-cos-delete-marker: true); 436/19883 "restore ... by the delete marker"
    _put(sdk_client, "a.png", b"one")
    marker = sdk_client.delete_object(Bucket=BUCKET, Key="a.png")["x-cos-version-id"]
    removed = sdk_client.delete_object(Bucket=BUCKET, Key="a.png", VersionId=marker)
    assert (removed["x-cos-version-id"], removed["x-cos-delete-marker"]) == (marker, "true")
    assert _read(sdk_client, "a.png") == b"one"


def test_delete_with_a_version_id_removes_that_version_for_good(sdk_client, versioned):
    # 436/7743: DELETE ?versionId removes the version; the one before becomes current
    first, second = _put(sdk_client, "a.png", b"one"), _put(sdk_client, "a.png", b"two")
    removed = sdk_client.delete_object(Bucket=BUCKET, Key="a.png", VersionId=second)
    assert removed["x-cos-version-id"] == second and "x-cos-delete-marker" not in removed
    assert _read(sdk_client, "a.png") == b"one"
    assert [e[2] for e in _entries(sdk_client)] == [first]


def test_copy_from_an_old_version_restores_it_as_a_new_version(sdk_client, versioned):
    # 436/10881: "可以在请求头部 x-cos-copy-source 中指定 versionId 参数来复制指定版本"; the SDK's
    # copy_object(CopySource={..., 'VersionId'}); Go SDK example/object/object_recover2.go undeletes this way
    first = _put(sdk_client, "a.png", b"one")
    sdk_client.delete_object(Bucket=BUCKET, Key="a.png")
    copied = sdk_client.copy_object(Bucket=BUCKET, Key="a.png", CopySource=_copy_source("a.png", first))
    assert copied["x-cos-version-id"] not in ("", first)
    assert _read(sdk_client, "a.png") == b"one"


def test_versions_list_each_keys_newest_first_with_delete_markers(sdk_client, versioned):
    # 436/35521 and the Go SDK's ListVersionsResult sample: Version / DeleteMarker with Key, VersionId, IsLatest
    first, second = _put(sdk_client, "a.png", b"one"), _put(sdk_client, "a.png", b"two")
    marker = sdk_client.delete_object(Bucket=BUCKET, Key="a.png")["x-cos-version-id"]
    other = _put(sdk_client, "b.png", b"bee")
    assert _entries(sdk_client) == [("Version", "a.png", second, "false"), ("Version", "a.png", first, "false"),
                                    ("Version", "b.png", other, "true"), ("DeleteMarker", "a.png", marker, "true")]


def test_version_entries_carry_etag_size_and_last_modified(sdk_client, versioned):
    # the Go SDK's ListVersionsResultVersion: Key, VersionId, IsLatest, LastModified, ETag, Size, StorageClass
    put = sdk_client.put_object(Bucket=BUCKET, Key="a.png", Body=b"four")
    entry = sdk_client.list_objects_versions(Bucket=BUCKET)["Version"][0]
    assert (entry["ETag"], entry["Size"], entry["StorageClass"]) == (put["ETag"], "4", "STANDARD")
    assert entry["LastModified"].endswith(".000Z")


def test_versions_page_with_key_and_version_id_markers(sdk_client, versioned):
    # 436/35521: max-keys counts entries; NextKeyMarker / NextVersionIdMarker continue the listing
    ids = [_put(sdk_client, "a.png", body) for body in (b"1", b"2", b"3")]
    page = sdk_client.list_objects_versions(Bucket=BUCKET, MaxKeys=2)
    assert page["IsTruncated"] == "true"
    rest = sdk_client.list_objects_versions(Bucket=BUCKET, KeyMarker=page["NextKeyMarker"],
                                            VersionIdMarker=page["NextVersionIdMarker"])
    assert [e["VersionId"] for e in page["Version"] + rest["Version"]] == ids[::-1]
    assert rest["IsTruncated"] == "false"


def test_versions_group_keys_under_common_prefixes(sdk_client, versioned):
    # 436/35521: delimiter groups keys into CommonPrefixes, which count toward max-keys
    _put(sdk_client, "dir/a.png", b"1")
    _put(sdk_client, "top.png", b"2")
    listing = sdk_client.list_objects_versions(Bucket=BUCKET, Delimiter="/")
    assert [p["Prefix"] for p in listing["CommonPrefixes"]] == ["dir/"]
    assert [v["Key"] for v in listing["Version"]] == ["top.png"]


def test_objects_from_before_versioning_are_the_null_version(sdk_client, bucket):
    # 436/19883: "For objects existing in the bucket before versioning is enabled, the version ID is 'null'"
    sdk_client.put_object(Bucket=bucket, Key="a.png", Body=b"old")
    sdk_client.put_bucket_versioning(Bucket=bucket, Status="Enabled")
    _put(sdk_client, "a.png", b"new")
    assert _read(sdk_client, "a.png", VersionId="null") == b"old"


def test_a_suspended_bucket_overwrites_the_null_version_and_keeps_the_others(sdk_client, versioned):
    # 436/19883: suspended, uploads are no longer versioned (the "null" version is replaced: inference from S3/OSS)
    kept = _put(sdk_client, "a.png", b"one")
    sdk_client.put_bucket_versioning(Bucket=BUCKET, Status="Suspended")
    sdk_client.put_object(Bucket=BUCKET, Key="a.png", Body=b"two")
    sdk_client.put_object(Bucket=BUCKET, Key="a.png", Body=b"three")
    assert [e[2] for e in _entries(sdk_client)] == ["null", kept]
    assert _read(sdk_client, "a.png") == b"three"


def test_a_suspended_delete_leaves_a_null_delete_marker(sdk_client, versioned):
    # 436/7743: "当版本控制为暂停时,该 DELETE 操作将创建一个版本 ID 为 null 的删除标记"
    kept = _put(sdk_client, "a.png", b"one")
    sdk_client.put_bucket_versioning(Bucket=BUCKET, Status="Suspended")
    deleted = sdk_client.delete_object(Bucket=BUCKET, Key="a.png")
    assert (deleted["x-cos-version-id"], deleted["x-cos-delete-marker"]) == ("null", "true")
    assert _read(sdk_client, "a.png", VersionId=kept) == b"one"


def test_a_bucket_holding_only_old_versions_is_not_empty(sdk_client, versioned):
    # inference (S3's rule; COS's DELETE Bucket page says only "must be empty")
    _put(sdk_client, "a.png", b"one")
    sdk_client.delete_object(Bucket=BUCKET, Key="a.png")
    with pytest.raises(CosServiceError) as err:
        sdk_client.delete_bucket(Bucket=BUCKET)
    assert (err.value.get_status_code(), err.value.get_error_code()) == (409, "BucketNotEmpty")


def test_backend_list_versions_gives_records_with_data(sdk_client, emulator, versioned):
    first = _put(sdk_client, "a.png", b"one")
    sdk_client.delete_object(Bucket=BUCKET, Key="a.png")
    rows = [(v.key, v.is_latest, v.is_delete_marker, v.data) for v in emulator.backend.list_versions(BUCKET)]
    assert rows == [("a.png", True, True, b""), ("a.png", False, False, b"one")]
    assert emulator.backend.get_object(BUCKET, "a.png", version_id=first).data == b"one"


# ----- ACL default, and ACL on copy ------------------------------------------------------------------
def test_put_object_acl_default_returns_a_private_object_to_the_bucket_acl(sdk_client, emulator, bucket):
    # 436/7748: x-cos-acl "default" (the default value): the object inherits the permissions of its bucket
    sdk_client.put_object(Bucket=bucket, Key="a.png", Body=b"x", ACL="private")
    sdk_client.put_object_acl(Bucket=bucket, Key="a.png", ACL="default")
    assert emulator.backend.get_object(bucket, "a.png").acl == "default"


def test_a_copy_inherits_the_bucket_acl_not_the_sources(sdk_client, emulator, bucket):
    # 436/10881: unless the request sets it, the target "继承(default)目标存储桶的 ACL"
    sdk_client.put_object(Bucket=bucket, Key="a.png", Body=b"x", ACL="private")
    sdk_client.copy_object(Bucket=bucket, Key="b.png", CopySource=_copy_source("a.png"))
    assert emulator.backend.get_object(bucket, "b.png").acl == "default"


def test_a_copy_takes_the_acl_the_request_sets(sdk_client, emulator, bucket):
    # 436/10881: x-cos-acl on the copy request sets the target's ACL
    sdk_client.put_object(Bucket=bucket, Key="a.png", Body=b"x")
    sdk_client.copy_object(Bucket=bucket, Key="b.png", CopySource=_copy_source("a.png"), ACL="private")
    assert emulator.backend.get_object(bucket, "b.png").acl == "private"


# ----- CI's AutoProcess in a versioned bucket --------------------------------------------------------
def _run_inspect(sdk_client, emulator, process_type):
    body = job_body(process_type=process_type)
    sdk_client.ci_create_inventory_trigger_jobs(Bucket=BUCKET, JobBody=body)
    emulator.backend.run_pending()


def test_auto_process_delete_leaves_a_delete_marker_the_image_can_come_back_from(sdk_client, emulator, versioned):
    # inference: CI's DeleteObject is taken to be a COS DELETE without versionId (436/7743); not published
    image = suspicious_png()
    _put(sdk_client, "bad.png", image)
    _run_inspect(sdk_client, emulator, "DeleteObject")
    marker = next(v for v in emulator.backend.list_versions(BUCKET) if v.is_latest)
    assert marker.is_delete_marker
    sdk_client.delete_object(Bucket=BUCKET, Key="bad.png", VersionId=marker.version_id)
    assert _read(sdk_client, "bad.png") == image


def test_auto_process_backup_keeps_the_original_as_an_old_version(sdk_client, emulator, versioned):
    # inference, as above: the move is a copy to abnormal_images_backup/ then a DELETE without versionId
    image = suspicious_png()
    original = _put(sdk_client, "bad.png", image)
    _run_inspect(sdk_client, emulator, "BackupObject")
    assert _read(sdk_client, "abnormal_images_backup/bad.png") == image
    assert _read(sdk_client, "bad.png", VersionId=original) == image
