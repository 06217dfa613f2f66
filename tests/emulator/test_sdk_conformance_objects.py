"""What the official SDK's own tests and demos exercise on COS objects, through the unmodified SDK over HTTP.

Yardstick: tencentyun/cos-python-sdk-v5 at cc3bdf0 (read 2026-12-01), ``ut/test.py`` and ``demo/*.py``; each test
names the function it mirrors. These are our own tests of those behaviours, not copies. Wire facts: COS API pages
PUT Object https://cloud.tencent.com/document/product/436/7749, GET Object /436/7753, DELETE Multiple Objects
https://cloud.tencent.com/document/api/436/8289, request signature /436/7778, error codes
https://cloud.tencent.com/document/api/436/7730 (all read 2026-12-01).
"""
from __future__ import annotations

import io
import time

import pytest
import requests
from qcloud_cos import CosConfig, CosS3Client, CosServiceError

from tests.support.settings import BUCKET, REGION

pytestmark = pytest.mark.emulator

OTHER_BUCKET = "copy-examplebucket-1250000000"
# The kind of key ut/test.py uses for special_file_name: Chinese, arrows and every printable ASCII punctuation mark.
SPECIAL_KEY = "中文→↓←↖! \"#$%&'()*+,-./09:;<=>@AZ[\\]^_`az{|}~"
STORED = [("CacheControl", "Cache-Control", "no-cache"),
          ("ContentDisposition", "Content-Disposition", "attachment; filename=download.txt"),
          ("ContentEncoding", "Content-Encoding", "gzip"),
          ("ContentLanguage", "Content-Language", "zh-CN"),
          ("Expires", "Expires", "Wed, 21 Oct 2026 07:28:00 GMT")]
OVERRIDES = [("ResponseCacheControl", "Cache-Control", "private"),
             ("ResponseContentDisposition", "Content-Disposition", "inline"),
             ("ResponseContentEncoding", "Content-Encoding", "identity"),
             ("ResponseContentLanguage", "Content-Language", "en-US"),
             ("ResponseExpires", "Expires", "Thu, 01 Jan 2026 00:00:00 GMT"),
             ("ResponseContentType", "Content-Type", "text/plain")]


def _put(sdk_client, key="test.txt", body=b"test", **kwargs):
    return sdk_client.put_object(Bucket=BUCKET, Key=key, Body=body, **kwargs)


def test_put_head_get_delete_round_trip_keeps_etag_and_applies_response_cache_control(sdk_client, bucket):
    # ut/test.py test_put_get_delete_object_10MB (a smaller body; the size is not the behaviour)
    body = b"x" * 70_000
    put = _put(sdk_client, "tmp_10MB", io.BytesIO(body), CacheControl="no-cache", ContentDisposition="download.txt")
    assert sdk_client.head_object(Bucket=bucket, Key="tmp_10MB")["ETag"] == put["ETag"]
    got = sdk_client.get_object(Bucket=bucket, Key="tmp_10MB", ResponseCacheControl="private")
    assert (got["ETag"], got["Cache-Control"]) == (put["ETag"], "private")
    assert got["Body"].get_raw_stream().read() == body
    sdk_client.delete_object(Bucket=bucket, Key="tmp_10MB")
    assert not sdk_client.object_exists(Bucket=bucket, Key="tmp_10MB")


@pytest.mark.parametrize("kwarg, header, value", STORED)
def test_standard_header_sent_on_put_is_returned_by_get_and_head(sdk_client, bucket, kwarg, header, value):
    # ut/test.py test_put_object_speacil_names / test_upload_empty_file send CacheControl and ContentDisposition;
    # the PUT Object page (436/7749) lists all five as request headers that GET Object (436/7753) returns
    _put(sdk_client, **{kwarg: value})
    assert sdk_client.get_object(Bucket=bucket, Key="test.txt")[header] == value
    assert sdk_client.head_object(Bucket=bucket, Key="test.txt")[header] == value


@pytest.mark.parametrize("kwarg, header, value", OVERRIDES)
def test_response_parameter_overrides_one_header_of_one_get(sdk_client, bucket, kwarg, header, value):
    # ut/test.py test_put_get_delete_object_10MB (ResponseCacheControl); GET Object lists all six overrides
    _put(sdk_client, CacheControl="no-cache", ContentDisposition="attachment", ContentEncoding="gzip",
         ContentLanguage="zh-CN", Expires="Wed, 21 Oct 2026 07:28:00 GMT", ContentType="image/png")
    assert sdk_client.get_object(Bucket=bucket, Key="test.txt", **{kwarg: value})[header] == value
    assert sdk_client.get_object(Bucket=bucket, Key="test.txt")[header] != value


def test_gzip_content_encoding_is_stored_and_the_body_is_served_as_stored(sdk_client, bucket, tmp_path):
    # ut/test.py test_put_get_gzip_file: the download is not decompressed
    _put(sdk_client, "test_gzip_file", b"123456", ContentEncoding="gzip")
    got = sdk_client.get_object(Bucket=bucket, Key="test_gzip_file")
    assert got["Content-Encoding"] == "gzip"
    got["Body"].get_stream_to_file(str(tmp_path / "local"))
    assert (tmp_path / "local").read_bytes() == b"123456"


def test_special_character_key_puts_gets_and_deletes(sdk_client, bucket):
    # ut/test.py test_put_object_speacil_names, test_get_object_special_names, test_delete_object_special_names
    _put(sdk_client, SPECIAL_KEY, b"S" * 1024, CacheControl="no-cache", ContentDisposition="download.txt")
    assert sdk_client.get_object(Bucket=bucket, Key=SPECIAL_KEY)["Body"].get_raw_stream().read() == b"S" * 1024
    sdk_client.delete_object(Bucket=bucket, Key=SPECIAL_KEY)
    assert not sdk_client.object_exists(Bucket=bucket, Key=SPECIAL_KEY)


def test_put_to_a_missing_bucket_is_404_no_such_bucket(sdk_client, emulator):
    # ut/test.py test_put_object_non_exist_bucket
    with pytest.raises(CosServiceError) as err:
        sdk_client.put_object(Bucket="test0xx-1250000000", Key="test.txt", Body="T" * 10, CacheControl="no-cache")
    assert (err.value.get_status_code(), err.value.get_error_code()) == (404, "NoSuchBucket")


def test_put_object_acl_public_read_then_get_object_acl_lists_all_users_read(sdk_client, bucket):
    # ut/test.py test_put_object_acl, test_get_object_acl; demo/object_acl.py
    _put(sdk_client, body=b"test acl")
    sdk_client.put_object_acl(Bucket=bucket, Key="test.txt", ACL="public-read")
    grants = sdk_client.get_object_acl(Bucket=bucket, Key="test.txt")["AccessControlList"]["Grant"]
    assert any(g["Permission"] == "READ" and "AllUsers" in g["Grantee"].get("URI", "") for g in grants)


def test_copy_object_from_another_bucket(sdk_client, bucket, emulator):
    # ut/test.py test_copy_object_diff_bucket; demo/copy_object.py
    emulator.backend.create_bucket(OTHER_BUCKET)
    sdk_client.put_object(Bucket=OTHER_BUCKET, Key="test.txt", Body=b"from the other bucket")
    copied = sdk_client.copy_object(Bucket=bucket, Key="test.txt",
                                    CopySource={"Bucket": OTHER_BUCKET, "Key": "test.txt", "Region": REGION})
    assert copied["ETag"] == sdk_client.head_object(Bucket=OTHER_BUCKET, Key="test.txt")["ETag"]
    copied = sdk_client.get_object(Bucket=bucket, Key="test.txt")["Body"].get_raw_stream().read()
    assert copied == b"from the other bucket"


def test_update_object_meta_replaces_user_metadata(sdk_client, bucket):
    # ut/test.py test_update_object_meta; demo/modify_object_meta.py
    _put(sdk_client, Metadata={"x-cos-meta-old": "gone"})
    sdk_client.update_object_meta(Bucket=bucket, Key="test.txt",
                                  Metadata={"x-cos-meta-key1": "value1", "x-cos-meta-key2": "value2"})
    head = sdk_client.head_object(Bucket=bucket, Key="test.txt")
    assert (head["x-cos-meta-key1"], head["x-cos-meta-key2"], "x-cos-meta-old" in head) == ("value1", "value2", False)


@pytest.mark.parametrize("quiet, listed", [("true", []), ("false", ["tmp_delete1", "tmp_delete2"])])
def test_delete_multiple_objects_deletes_all_and_lists_them_unless_quiet(sdk_client, bucket, quiet, listed):
    # ut/test.py test_delete_multiple_objects (Quiet); demo/delete_object.py (verbose)
    _put(sdk_client, "tmp_delete1", b"A" * 1024)
    _put(sdk_client, "tmp_delete2", b"B" * 2048)
    result = sdk_client.delete_objects(Bucket=bucket, Delete={
        "Quiet": quiet, "Object": [{"Key": "tmp_delete1"}, {"Key": "tmp_delete2"}]})
    assert [d["Key"] for d in result.get("Deleted", [])] == listed
    assert result.get("Error", []) == []
    assert sdk_client.list_objects(Bucket=bucket).get("Contents", []) == []


def test_delete_multiple_objects_counts_a_missing_key_as_deleted(sdk_client, bucket):
    # inferred: the DELETE Multiple Objects page (436/8289) gives each key's result but says nothing of an absent
    # key; S3 reports it deleted, as COS's single DELETE Object answers 204 for one (docs/emulator.md: inference)
    result = sdk_client.delete_objects(Bucket=bucket, Delete={"Quiet": "false", "Object": [{"Key": "never-was"}]})
    assert [d["Key"] for d in result["Deleted"]] == ["never-was"]


def test_delete_multiple_objects_reports_an_empty_key_under_error_even_when_quiet(sdk_client, bucket):
    # DELETE Multiple Objects page (436/8289): Quiet mode still lists failures; that an empty key is one, with
    # InvalidArgument, is inferred
    _put(sdk_client, "a")
    result = sdk_client.delete_objects(Bucket=bucket, Delete={"Quiet": "true", "Object": [{"Key": ""}, {"Key": "a"}]})
    assert [e["Code"] for e in result["Error"]] == ["InvalidArgument"]
    assert not sdk_client.object_exists(Bucket=bucket, Key="a")


def test_delete_multiple_objects_with_more_than_1000_keys_is_400(sdk_client, bucket):
    # DELETE Multiple Objects page (436/8289): "单次请求支持最多删除1000个对象"; the status is stated nowhere, so
    # 400 (MalformedXML, S3's answer) is inferred
    _put(sdk_client, "keep")
    with pytest.raises(CosServiceError) as err:
        sdk_client.delete_objects(Bucket=bucket, Delete={"Object": [{"Key": f"k{i}"} for i in range(1001)]})
    assert err.value.get_status_code() == 400
    assert sdk_client.object_exists(Bucket=bucket, Key="keep")


def test_presigned_download_url_serves_the_object_without_an_authorization_header(sdk_client, bucket, emulator):
    # ut/test.py test_get_presigned_url, test_put_chunked_object; demo/get_presigned_url.py
    _put(sdk_client, "中文.txt", b"presigned")
    url = sdk_client.get_presigned_download_url(Bucket=bucket, Key="中文.txt")
    response = requests.get(url, proxies={"http": emulator.url}, timeout=5)
    assert (response.status_code, response.content) == (200, b"presigned")


def test_presigned_put_url_uploads_the_body(sdk_client, bucket, emulator):
    # demo/get_presigned_url.py (Method='PUT')
    url = sdk_client.get_presigned_url(Bucket=bucket, Key="upload.txt", Method="PUT")
    assert requests.put(url, data=b"via url", proxies={"http": emulator.url}, timeout=5).status_code == 200
    assert sdk_client.get_object(Bucket=bucket, Key="upload.txt")["Body"].get_raw_stream().read() == b"via url"


@pytest.mark.parametrize("tamper, code", [
    (lambda url: url.replace("q-signature=", "q-signature=0"), "SignatureDoesNotMatch"),
    (lambda url: url.replace("/secret.txt", "/other.txt"), "SignatureDoesNotMatch"),
    (lambda url: url.replace("q-ak=AKIDtest", "q-ak=AKIDother"), "InvalidAccessKeyId"),
])
def test_tampered_presigned_url_is_403(sdk_client, bucket, emulator, tamper, code):
    # request signature page (436/7778): a presigned URL's query carries the q-* fields, so the same checks apply
    # (inferred: the page shows no failing URL)
    _put(sdk_client, "secret.txt", b"secret")
    _put(sdk_client, "other.txt", b"other")
    url = tamper(sdk_client.get_presigned_download_url(Bucket=bucket, Key="secret.txt"))
    response = requests.get(url, proxies={"http": emulator.url}, timeout=5)
    assert response.status_code == 403
    assert f"<Code>{code}</Code>" in response.text


def test_expired_presigned_url_is_403(sdk_client, bucket, emulator, monkeypatch):
    # demo/get_presigned_url.py: "Expired=120  # 120秒后过期"; the signature page's q-sign-time bounds the URL's life
    _put(sdk_client, "secret.txt", b"secret")
    url = sdk_client.get_presigned_download_url(Bucket=bucket, Key="secret.txt", Expired=60)
    monkeypatch.setattr(emulator.server.dispatcher.verifier, "now", lambda: time.time() + 3600)
    response = requests.get(url, proxies={"http": emulator.url}, timeout=5)
    assert (response.status_code, "Request has expired" in response.text) == (403, True)


def test_presigned_put_url_with_a_signed_param_must_keep_its_value(sdk_client, bucket, emulator):
    # demo/get_presigned_url.py: Params "会算入签名，不允许使用者修改请求参数的值" (signed, the value may not change)
    url = sdk_client.get_presigned_url(Bucket=bucket, Key="a.txt", Method="PUT",
                                       Params={"x-cos-traffic-limit": "819200"})
    tampered = url.replace("x-cos-traffic-limit=819200", "x-cos-traffic-limit=1")
    assert requests.put(tampered, data=b"x", proxies={"http": emulator.url}, timeout=5).status_code == 403
    assert not sdk_client.object_exists(Bucket=bucket, Key="a.txt")


def test_get_auth_signature_with_an_unknown_param_is_served(sdk_client, bucket, emulator):
    # ut/test.py test_use_get_auth: GET /test.txt?acl&unsed=123 signed by get_auth answers 200
    _put(sdk_client)
    auth = sdk_client.get_auth(Method="GET", Bucket=bucket, Key="test.txt", Params={"acl": "", "unsed": "123"})
    url = f"http://{bucket}.cos.{REGION}.myqcloud.com/test.txt?acl&unsed=123"
    response = requests.get(url, headers={"Authorization": auth}, proxies={"http": emulator.url}, timeout=5)
    assert response.status_code == 200
    assert "<AccessControlPolicy>" in response.text


def test_short_connection_gets_connection_close_back(emulator, bucket):
    # ut/test.py test_short_connection_put_get_object (CosConfig KeepAlive=False)
    sdk_client = CosS3Client(emulator.cos_config(region=REGION, KeepAlive=False), retry=0)
    assert sdk_client.put_object(Bucket=bucket, Key="test.txt", Body="test")["Connection"] == "close"
    assert sdk_client.get_object(Bucket=bucket, Key="test.txt")["Connection"] == "close"


def test_list_objects_by_prefix_and_delimiter_with_and_without_url_encoding(sdk_client, bucket):
    # ut/test.py test_list_objects: Prefix '中文', Delimiter '/', EncodingType url (the invalid EncodingType it also
    # tries is refused by the SDK before any request, so it is not the emulator's to answer)
    for key in ("中文/a.txt", "中文/b/c.txt", "other.txt"):
        _put(sdk_client, key)
    plain = sdk_client.list_objects(Bucket=bucket, MaxKeys=100, Prefix="中文", Delimiter="/")
    assert [p["Prefix"] for p in plain["CommonPrefixes"]] == ["中文/"]
    deep = sdk_client.list_objects(Bucket=bucket, MaxKeys=100, Prefix="中文/", Delimiter="/", EncodingType="url")
    assert [c["Key"] for c in deep["Contents"]] == ["%E4%B8%AD%E6%96%87/a.txt"]  # the SDK leaves them encoded


def test_object_exists_and_bucket_exists_tell_present_from_absent(sdk_client, bucket):
    # ut/test.py test_object_exists, test_bucket_exists; demo/object_exists.py
    _put(sdk_client)
    assert (sdk_client.object_exists(Bucket=bucket, Key="test.txt"),
            sdk_client.object_exists(Bucket=bucket, Key="object_not_exists")) == (True, False)
    assert (sdk_client.bucket_exists(Bucket=bucket),
            sdk_client.bucket_exists(Bucket="bucket-not-exists-1250000000")) == (True, False)


def test_create_head_delete_bucket(sdk_client, emulator):
    # ut/test.py test_create_head_delete_bucket (ACL public-read is accepted)
    sdk_client.create_bucket(Bucket="buckettest1-1250000000", ACL="public-read")
    assert sdk_client.head_bucket(Bucket="buckettest1-1250000000")["x-cos-request-id"]
    sdk_client.delete_bucket(Bucket="buckettest1-1250000000")
    assert not emulator.backend.has_bucket("buckettest1-1250000000")


@pytest.mark.parametrize("call", [
    lambda c: c.head_bucket(Bucket="nosuchbucket-1250000000"),
    lambda c: c.head_object(Bucket=BUCKET, Key="nosuchkey"),
])
def test_head_of_missing_bucket_or_object_is_404_no_such_resource(sdk_client, bucket, call):
    # ut/test.py test_head_bucket_object_not_exist: a HEAD 404 has no body, so the SDK reports NoSuchResource
    with pytest.raises(CosServiceError) as err:
        call(sdk_client)
    assert (err.value.get_status_code(), err.value.get_error_code()) == (404, "NoSuchResource")


@pytest.mark.parametrize("body", [b"", io.BytesIO(b"123456")])
def test_empty_and_file_like_bodies_upload(sdk_client, bucket, body):
    # ut/test.py test_upload_empty_file (no 411), test_put_file_like_object (EnableMD5)
    _put(sdk_client, "f", body, EnableMD5=True)
    expected = body if isinstance(body, bytes) else body.getvalue()
    assert sdk_client.get_object(Bucket=bucket, Key="f")["Body"].get_raw_stream().read() == expected


def test_unemulated_sub_resource_is_501_not_the_plain_object_api(sdk_client, bucket):
    # inferred: unknown parameters are ignored, but a COS sub-resource (here ?tagging, a name qcloud_cos sends)
    # names another API, and NotImplemented is a code of the COS error page (436/7730)
    _put(sdk_client)
    with pytest.raises(CosServiceError) as err:
        sdk_client.get_object_tagging(Bucket=bucket, Key="test.txt")
    assert (err.value.get_status_code(), err.value.get_error_code()) == (501, "NotImplemented")


def test_anonymous_config_is_refused_with_cos_403(emulator, bucket):
    # ut/test.py test_config_anoymous: an unsigned request to a private bucket
    sdk_client = CosS3Client(CosConfig(Region=REGION, Anonymous=True, Scheme="http", Proxies={"http": emulator.url}),
                             retry=0)
    with pytest.raises(CosServiceError) as err:
        sdk_client.put_object(Bucket=bucket, Key="a.txt", Body=b"x")
    assert (err.value.get_status_code(), err.value.get_error_code()) == (403, "AccessDenied")
