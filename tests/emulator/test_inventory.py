"""COS Inventory in the emulator: the bucket inventory API through the unmodified SDK, the report it writes, and
CI batch jobs whose Input is the report's manifest.json.

Sources (each behaviour's row in docs/emulator.md's fidelity table says source, inference or unknown): the PUT, GET,
DELETE, List and POST Bucket inventory pages (cloud.tencent.com/document/product/436/33707, 436/33705,
tencentcloud.com/document/api/436/46869); the overview 清单功能概述 for the report layout and the manifest.json
sample (cloud.tencent.com/document/product/436/33702, tencentcloud.com 436/30622); cos-python-sdk-v5 qcloud_cos/cos_client.py, demo/bucket_inventory.py and ut/test.py for the
SDK's shapes; cos-go-sdk-v5 example/CI/workflow_and_job/inventory.go for Input.Manifest's value."""
from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
import urllib.request
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional
from urllib.parse import quote, unquote

import pytest
from qcloud_cos import CosServiceError
from qcloud_cos.cos_auth import CosS3Auth
from qcloud_cos.cos_comm import format_xml

from emulator.errors import EmulatorError
from emulator.inventory import parse_configuration
from emulator.testing import run_emulator
from emulator.xmlio import parse_body
from tests.emulator.factories import job_body, png, suspicious_png
from tests.support.settings import BUCKET, REGION

pytestmark = pytest.mark.emulator

DEST = f"qcs::cos:{REGION}::{BUCKET}"
ODD_KEYS = ["with space.png", "plus+sign.png", "per%cent.png", "中文/图片.png", "comma,quote\".png",
            "semi;colon&amp=.png", "tilde~hash#q?.png", "new\nline.png"]


def config(prefix: Optional[str] = "autopilot/inventory", enabled: str = "true", fields: Optional[List[str]] = None,
           flt: Optional[Dict[str, Any]] = None, versions: str = "Current", **extra: Any) -> Dict[str, Any]:
    """A fresh InventoryConfiguration dict in the SDK demo's shape (demo/bucket_inventory.py); the SDK mutates it."""
    dest: Dict[str, Any] = {"AccountId": "100000000001", "Bucket": DEST, "Format": "CSV",
                            "Encryption": {"SSE-COS": {}}}
    if prefix is not None:
        dest["Prefix"] = prefix
    body: Dict[str, Any] = {"Destination": {"COSBucketDestination": dest}, "IsEnabled": enabled,
                            "IncludedObjectVersions": versions,
                            "OptionalFields": {"Field": fields if fields is not None else
                                               ["Size", "LastModifiedDate", "ETag", "StorageClass"]},
                            "Schedule": {"Frequency": "Daily"}}
    if flt is not None:
        body["Filter"] = flt
    body.update(extra)
    return body


def one_time(**kwargs: Any) -> Dict[str, Any]:
    body = config(**kwargs)
    del body["IsEnabled"], body["Schedule"]
    return body


def error_of(call) -> tuple:
    with pytest.raises(CosServiceError) as err:
        call()
    return err.value.get_status_code(), err.value.get_error_code(), err.value.get_error_msg()


def read(emulator, key: str) -> bytes:
    return emulator.backend.get_object(BUCKET, key).data


def rows_of(emulator, data_key: str) -> List[List[str]]:
    return list(csv.reader(io.StringIO(gzip.decompress(read(emulator, data_key)).decode("utf-8"), newline="")))


def manifest_of(emulator, report) -> dict:
    return json.loads(read(emulator, report.manifest_key))


def all_rows(emulator, report) -> List[Dict[str, str]]:
    manifest = manifest_of(emulator, report)
    columns = manifest["fileSchema"].split(", ")
    return [dict(zip(columns, row)) for f in manifest["files"] for row in rows_of(emulator, f["key"])]


# ----- the API through the SDK ---------------------------------------------------------------------------------
def test_put_then_get_returns_the_configuration_as_the_sdk_parses_it(sdk_client, bucket):
    sdk_client.put_bucket_inventory(Bucket=bucket, Id="daily-1", InventoryConfiguration=config(flt={"Prefix": "img/"}))
    got = sdk_client.get_bucket_inventory(Bucket=bucket, Id="daily-1")
    assert got["Id"] == "daily-1" and got["IsEnabled"] == "true"
    assert got["Destination"]["COSBucketDestination"] == {
        "Format": "CSV", "AccountId": "100000000001", "Bucket": DEST, "Prefix": "autopilot/inventory",
        "Encryption": {"SSE-COS": None}}
    assert got["Schedule"] == {"Frequency": "Daily"}
    assert got["Filter"] == {"Prefix": "img/"}
    assert got["IncludedObjectVersions"] == "Current"
    assert got["OptionalFields"] == {"Field": ["Size", "LastModifiedDate", "ETag", "StorageClass"]}


def test_the_sdk_ut_shape_with_capital_true_and_ssecos_is_accepted(sdk_client, bucket):
    # ut/test.py test_put_get_delete_bucket_inventory sends 'True', 'SSECOS' and All, and passes on the service
    body = config(enabled="True", versions="All")
    body["Destination"]["COSBucketDestination"]["Encryption"] = {"SSECOS": {}}
    sdk_client.put_bucket_inventory(Bucket=bucket, Id="test", InventoryConfiguration=body)
    got = sdk_client.get_bucket_inventory(Bucket=bucket, Id="test")
    assert got["IsEnabled"] == "true" and got["IncludedObjectVersions"] == "All"


def test_put_replaces_a_configuration_with_the_same_id(sdk_client, bucket):
    sdk_client.put_bucket_inventory(Bucket=bucket, Id="a", InventoryConfiguration=config())
    sdk_client.put_bucket_inventory(Bucket=bucket, Id="a", InventoryConfiguration=config(prefix="elsewhere"))
    assert sdk_client.get_bucket_inventory(Bucket=bucket, Id="a")["Destination"]["COSBucketDestination"]["Prefix"] \
        == "elsewhere"
    assert sdk_client.list_bucket_inventory_configurations(Bucket=bucket)["InventoryConfiguration"]["Id"] == "a"


@pytest.mark.parametrize("bad_id", ["has space", "slash/", "x" * 65, "中文"])
def test_an_id_outside_the_documented_characters_is_400_invalid_argument(sdk_client, bucket, bad_id):
    status, code, _ = error_of(lambda: sdk_client.put_bucket_inventory(Bucket=bucket, Id=bad_id,
                                                                   InventoryConfiguration=config()))
    assert (status, code) == (400, "InvalidArgument")


@pytest.mark.parametrize("drop, named", [("IsEnabled", "IsEnabled"), ("Schedule", "Schedule.Frequency"),
                                         ("IncludedObjectVersions", "IncludedObjectVersions"),
                                         ("Destination", "Destination.COSBucketDestination")])
def test_a_missing_required_element_is_400_naming_it(sdk_client, bucket, drop, named):
    body = config()
    del body[drop]
    status, code, message = error_of(lambda: sdk_client.put_bucket_inventory(Bucket=bucket, Id="a",
                                                                         InventoryConfiguration=body))
    assert (status, code) == (400, "InvalidArgument") and named in message


@pytest.mark.parametrize("field, value", [("Format", "ORC"), ("Bucket", BUCKET), ("Bucket", "qcs::cos:r::nobucket")])
def test_a_destination_other_than_a_csv_qcs_bucket_is_400(sdk_client, bucket, field, value):
    body = config()
    body["Destination"]["COSBucketDestination"][field] = value
    status, code, _ = error_of(lambda: sdk_client.put_bucket_inventory(Bucket=bucket, Id="a", InventoryConfiguration=body))
    assert (status, code) == (400, "InvalidArgument")


def test_a_tag_filter_needs_the_tag_field(sdk_client, bucket):
    body = config(flt={"And": {"Prefix": "p/", "Tag": [{"Key": "age", "Value": "18"}]}})
    status, code, message = error_of(lambda: sdk_client.put_bucket_inventory(Bucket=bucket, Id="a",
                                                                         InventoryConfiguration=body))
    assert (status, code) == (400, "InvalidArgument") and "Tag" in message


def test_the_body_id_must_equal_the_query_id():
    body = b"<InventoryConfiguration><Id>other</Id></InventoryConfiguration>"
    with pytest.raises(EmulatorError, match="must equal the id query parameter"):
        parse_configuration(parse_body(body, root="InventoryConfiguration"), "mine")


def test_the_thousand_and_first_configuration_is_400_too_many_configurations(sdk_client, bucket, emulator):
    for i in range(1000):
        client_body = parse_configuration(parse_body(_xml(f"id-{i}"), root="InventoryConfiguration"), f"id-{i}")
        emulator.backend.put_inventory(bucket, client_body)
    status, code, _ = error_of(lambda: sdk_client.put_bucket_inventory(Bucket=bucket, Id="one-more",
                                                                   InventoryConfiguration=config()))
    assert (status, code) == (400, "TooManyConfigurations")
    sdk_client.put_bucket_inventory(Bucket=bucket, Id="id-7", InventoryConfiguration=config())  # a replacement is fine


def _xml(inventory_id: str) -> bytes:
    return (f"<InventoryConfiguration><Id>{inventory_id}</Id><IsEnabled>true</IsEnabled><Destination>"
            f"<COSBucketDestination><Format>CSV</Format><Bucket>{DEST}</Bucket></COSBucketDestination></Destination>"
            "<Schedule><Frequency>Weekly</Frequency></Schedule><IncludedObjectVersions>Current"
            "</IncludedObjectVersions></InventoryConfiguration>").encode()


def test_get_of_an_absent_configuration_is_404_no_such_configuration(sdk_client, bucket):
    status, code, _ = error_of(lambda: sdk_client.get_bucket_inventory(Bucket=bucket, Id="absent"))
    assert (status, code) == (404, "NoSuchConfiguration")


def test_delete_removes_the_configuration_and_an_absent_one_is_no_error(sdk_client, bucket):
    sdk_client.put_bucket_inventory(Bucket=bucket, Id="a", InventoryConfiguration=config())
    assert sdk_client.delete_bucket_inventory(Bucket=bucket, Id="a") is None
    assert error_of(lambda: sdk_client.get_bucket_inventory(Bucket=bucket, Id="a"))[:2] == (404, "NoSuchConfiguration")
    sdk_client.delete_bucket_inventory(Bucket=bucket, Id="a")


def test_list_pages_by_100_in_the_order_configurations_were_put(sdk_client, bucket):
    # ut/test.py test_list_bucket_inventory_configrations: 150 ids, pages of 100, listed ID-0 … ID-149 in order
    for i in range(150):
        sdk_client.put_bucket_inventory(Bucket=bucket, Id=f"ID-{i}", InventoryConfiguration=config())
    ids, pages, token = [], [], ""
    while True:
        resp = sdk_client.list_bucket_inventory_configurations(Bucket=bucket, ContinuationToken=token)
        pages.append(len(resp["InventoryConfiguration"]))
        ids += [c["Id"] for c in resp["InventoryConfiguration"]]
        if resp["IsTruncated"] != "true":
            break
        token = resp["NextContinuationToken"]
    assert pages == [100, 50]
    assert ids == [f"ID-{i}" for i in range(150)]


def test_list_of_a_bucket_without_configurations_is_empty_and_not_truncated(sdk_client, bucket):
    assert sdk_client.list_bucket_inventory_configurations(Bucket=bucket) == {"IsTruncated": "false"}


def test_configurations_survive_a_restart_with_a_data_directory(tmp_path):
    with run_emulator(data_dir=str(tmp_path)) as first:
        first.backend.create_bucket(BUCKET)
        first.client(region=REGION).put_bucket_inventory(Bucket=BUCKET, Id="kept", InventoryConfiguration=config())
    with run_emulator(data_dir=str(tmp_path)) as second:
        got = second.client(region=REGION).get_bucket_inventory(Bucket=BUCKET, Id="kept")
        assert got["Destination"]["COSBucketDestination"]["Prefix"] == "autopilot/inventory"


# ----- one-time inventory (POST) ---------------------------------------------------------------------------------
def test_post_writes_a_report_before_it_answers(sdk_client, bucket, emulator):
    emulator.backend.put_object(bucket, "a.png", png())
    assert sdk_client.post_bucket_inventory(Bucket=bucket, Id="now", InventoryConfiguration=one_time()) is None
    keys = emulator.backend.list_keys(bucket, prefix="autopilot/inventory/1250000000/examplebucket/now/")
    # The data file sits directly under now/ and its random hex name may start with a digit: match the date folder.
    assert [k.rsplit("/", 1)[1] for k in keys if re.search(r"/now/\d{8}/", k)] == ["manifest.checksum", "manifest.json"]


def test_post_answers_post_inventory_result_with_a_job_id(sdk_client, bucket):
    url = sdk_client._conf.uri(bucket=bucket)
    params = {"inventory": "", "id": "raw"}
    body = one_time()
    body["Id"] = "raw"
    response = sdk_client.send_request(method="POST", url=url, bucket=bucket, params=params,
                                   data=format_xml(data=body, root="InventoryConfiguration"),
                                   auth=CosS3Auth(sdk_client._conf, params=params), headers={})
    assert b"<PostInventoryResult><JobId>" in response.content


@pytest.mark.parametrize("extra", [{"IsEnabled": "true"}, {"Schedule": {"Frequency": "Daily"}}])
def test_post_with_is_enabled_or_schedule_is_400(sdk_client, bucket, extra):
    body = one_time()
    body.update(extra)
    status, code, _ = error_of(lambda: sdk_client.post_bucket_inventory(Bucket=bucket, Id="x", InventoryConfiguration=body))
    assert (status, code) == (400, "InvalidArgument")


def test_post_of_an_id_used_today_or_by_a_periodic_configuration_is_duplicate_inventory_id(sdk_client, bucket):
    sdk_client.post_bucket_inventory(Bucket=bucket, Id="once", InventoryConfiguration=one_time())
    assert error_of(lambda: sdk_client.post_bucket_inventory(Bucket=bucket, Id="once",
                                                         InventoryConfiguration=one_time()))[1] == "DuplicateInventoryId"
    sdk_client.put_bucket_inventory(Bucket=bucket, Id="periodic", InventoryConfiguration=config())
    assert error_of(lambda: sdk_client.post_bucket_inventory(Bucket=bucket, Id="periodic",
                                                         InventoryConfiguration=one_time()))[1] == "DuplicateInventoryId"


# ----- the report ------------------------------------------------------------------------------------------------
@pytest.fixture
def periodic(sdk_client, bucket):
    sdk_client.put_bucket_inventory(Bucket=bucket, Id="nightly", InventoryConfiguration=config())
    return "nightly"


def test_a_run_writes_the_documented_layout_dated_as_asked(emulator, bucket, periodic):
    emulator.backend.put_object(bucket, "a.png", png())
    report = emulator.run_inventory(bucket, periodic, date="20261207")
    folder = "autopilot/inventory/1250000000/examplebucket/nightly/"
    assert report.manifest_key == folder + "20261207/manifest.json"
    assert report.checksum_key == folder + "20261207/manifest.checksum"
    assert len(report.data_keys) == 1
    name = report.data_keys[0][len(folder):]
    assert len(name) == len("0" * 32 + ".csv.gz") and name.endswith(".csv.gz") and "/" not in name


def test_the_manifest_has_the_documented_fields_with_numbers_as_strings(emulator, bucket, periodic):
    emulator.backend.put_object(bucket, "a.png", b"12345")
    emulator.backend.put_object(bucket, "b.png", b"123")
    report = emulator.run_inventory(bucket, periodic)
    manifest = manifest_of(emulator, report)
    assert list(manifest) == ["sourceAppid", "sourceBucket", "destinationAppid", "destinationBucket", "fileFormat",
                              "listObjectCount", "listStorageSize", "filterObjectCount", "filterStorageSize",
                              "fileSchema", "files"]
    assert {k: manifest[k] for k in ("sourceAppid", "sourceBucket", "fileFormat", "listObjectCount",
                                     "listStorageSize", "filterObjectCount", "filterStorageSize")} == {
        "sourceAppid": "1250000000", "sourceBucket": "examplebucket", "fileFormat": "CSV", "listObjectCount": "2",
        "listStorageSize": "8", "filterObjectCount": "2", "filterStorageSize": "8"}
    assert manifest["fileSchema"] == "Appid, Bucket, Key, Size, LastModifiedDate, ETag, StorageClass"
    (entry,) = manifest["files"]
    data = read(emulator, entry["key"])
    assert entry == {"key": report.data_keys[0], "size": str(len(data)), "md5Checksum": hashlib.md5(data).hexdigest()}


def test_manifest_checksum_is_the_md5_hex_of_manifest_json(emulator, bucket, periodic):
    report = emulator.run_inventory(bucket, periodic)
    assert read(emulator, report.checksum_key).decode() == hashlib.md5(read(emulator, report.manifest_key)).hexdigest()


def test_manifest_checksum_is_written_last(emulator, bucket, periodic, monkeypatch):
    emulator.backend.put_object(bucket, "a.png", png())
    written: List[str] = []
    real = emulator.backend.put_object

    def spy(bucket_name, key, *args, **kwargs):
        written.append(key)
        return real(bucket_name, key, *args, **kwargs)

    monkeypatch.setattr(emulator.backend, "put_object", spy)
    report = emulator.run_inventory(bucket, periodic, rows_per_file=1)
    assert written == report.data_keys + [report.manifest_key, report.checksum_key]


def test_rows_have_no_header_and_the_columns_of_file_schema(emulator, bucket, periodic):
    stamp = datetime(2026, 12, 1, 8, 30, 5, tzinfo=timezone.utc)
    emulator.backend.put_object(bucket, "a.png", b"12345", last_modified=stamp)
    rows = all_rows(emulator, emulator.run_inventory(bucket, periodic))
    assert rows == [{"Appid": "1250000000", "Bucket": "examplebucket", "Key": "a.png", "Size": "5",
                     "LastModifiedDate": "2026-12-01T08:30:05.000Z", "ETag": hashlib.md5(b"12345").hexdigest(),
                     "StorageClass": "STANDARD"}]


def test_keys_are_percent_encoded_and_unquote_restores_them(emulator, bucket, periodic):
    for key in ODD_KEYS:
        emulator.backend.put_object(bucket, key, b"x")
    rows = all_rows(emulator, emulator.run_inventory(bucket, periodic))
    assert sorted(unquote(r["Key"]) for r in rows) == sorted(ODD_KEYS)
    assert all(r["Key"] == quote(unquote(r["Key"]), safe="/") for r in rows)
    assert "plus%2Bsign.png" in {r["Key"] for r in rows}


def test_a_bounded_number_of_rows_per_file_makes_a_multi_file_report(emulator, bucket, periodic):
    for i in range(7):
        emulator.backend.put_object(bucket, f"k{i}.png", b"x")
    report = emulator.run_inventory(bucket, periodic, rows_per_file=3)
    assert [len(rows_of(emulator, k)) for k in report.data_keys] == [3, 3, 1]
    assert sorted(r["Key"] for r in all_rows(emulator, report)) == [f"k{i}.png" for i in range(7)]


def test_an_empty_scan_writes_a_manifest_with_no_files(emulator, bucket, periodic):
    manifest = manifest_of(emulator, emulator.run_inventory(bucket, periodic))
    assert (manifest["files"], manifest["filterObjectCount"]) == ([], "0")


def test_the_filter_prefix_and_period_choose_the_rows(sdk_client, emulator, bucket):
    old, new = datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2026, 6, 1, tzinfo=timezone.utc)
    emulator.backend.put_object(bucket, "img/old.png", b"1", last_modified=old)
    emulator.backend.put_object(bucket, "img/new.png", b"22", last_modified=new)
    emulator.backend.put_object(bucket, "doc/new.txt", b"333", last_modified=new)
    period = {"StartTime": str(int(datetime(2026, 3, 1, tzinfo=timezone.utc).timestamp()))}
    sdk_client.put_bucket_inventory(Bucket=bucket, Id="img", InventoryConfiguration=config(
        flt={"Prefix": "img/", "Period": period}))
    report = emulator.run_inventory(bucket, "img")
    manifest = manifest_of(emulator, report)
    assert [r["Key"] for r in all_rows(emulator, report)] == ["img/new.png"]
    assert (manifest["listObjectCount"], manifest["filterObjectCount"], manifest["filterStorageSize"]) == \
        ("2", "1", "2")


def test_a_report_lists_the_bucket_as_it_was_before_the_report_was_written(emulator, bucket, periodic):
    emulator.backend.put_object(bucket, "a.png", b"x")
    emulator.run_inventory(bucket, periodic, date="20261201")
    second = emulator.run_inventory(bucket, periodic, date="20261202")
    keys = [r["Key"] for r in all_rows(emulator, second)]
    assert "a.png" in keys and not any("20261202" in k for k in keys)
    assert any(k.endswith("20261201/manifest.json") for k in keys)  # yesterday's report is an object like any other


def test_all_versions_add_the_version_columns_and_meta_fields_come_last(sdk_client, emulator, bucket):
    emulator.backend.put_object(bucket, "a.png", b"x", metadata={"owner": "alice"})
    sdk_client.put_bucket_inventory(Bucket=bucket, Id="v", InventoryConfiguration=config(
        versions="All", fields=["x-cos-meta-owner", "Size", "x-cos-meta-none"]))
    report = emulator.run_inventory(bucket, "v")
    assert manifest_of(emulator, report)["fileSchema"] == \
        "Appid, Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, x-cos-meta-owner, x-cos-meta-none"
    assert all_rows(emulator, report)[0]["x-cos-meta-owner"] == "alice"


def test_a_disabled_configuration_produces_no_report(sdk_client, emulator, bucket):
    sdk_client.put_bucket_inventory(Bucket=bucket, Id="off", InventoryConfiguration=config(enabled="false"))
    with pytest.raises(EmulatorError, match="IsEnabled false"):
        emulator.run_inventory(bucket, "off")


def test_the_control_endpoint_runs_an_inventory_and_answers_its_keys(emulator, bucket, periodic):
    emulator.backend.put_object(bucket, "a.png", b"x")
    request = urllib.request.Request(f"{emulator.url}/_emulator/inventory/run?bucket={bucket}&id={periodic}"
                                     "&date=20261207&rows_per_file=5", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback emulator
        answer = json.loads(response.read())
    assert answer["manifest_key"].endswith("/nightly/20261207/manifest.json") and answer["rows"] == 1
    assert emulator.backend.get_object(bucket, answer["checksum_key"])


# ----- CI runs Input.Manifest -----------------------------------------------------------------------------------
def manifest_url(key: str) -> str:
    return f"https://{BUCKET}.cos.{REGION}.myqcloud.com/{quote(key, safe='/')}"


def run_manifest_job(sdk_client, emulator, manifest_key: str) -> dict:
    body = job_body(input_={"Manifest": manifest_url(manifest_key)}, auto="false")
    job_id = sdk_client.ci_create_inventory_trigger_jobs(Bucket=BUCKET, JobBody=body)["JobsDetail"][0]["JobId"]
    emulator.backend.run_pending()
    return sdk_client.ci_get_inventory_trigger_jobs(Bucket=BUCKET, JobID=job_id)["JobsDetail"][0]


def inspected(emulator, job_id: str) -> List[str]:
    return sorted(j.key for j in emulator.backend.inspect_jobs_by_batch.get(job_id, []))


def test_a_manifest_job_inspects_every_row_of_every_data_file(sdk_client, emulator, bucket):
    sdk_client.put_bucket_inventory(Bucket=bucket, Id="imgs", InventoryConfiguration=config(flt={"Prefix": "img/"}))
    keys = [f"img/{k}" for k in ODD_KEYS] + ["img/bad.png"]
    for key in keys[:-1]:
        emulator.backend.put_object(bucket, key, png())
    emulator.backend.put_object(bucket, "img/bad.png", suspicious_png())
    report = emulator.run_inventory(bucket, "imgs", rows_per_file=4)
    detail = run_manifest_job(sdk_client, emulator, report.manifest_key)
    assert detail["State"] == "Success"
    assert inspected(emulator, detail["JobId"]) == sorted(keys)


def test_a_data_file_that_does_not_match_its_md5_fails_the_manifest_job(sdk_client, emulator, bucket, periodic):
    emulator.backend.put_object(bucket, "a.png", png())
    report = emulator.run_inventory(bucket, periodic)
    emulator.backend.put_object(bucket, report.data_keys[0], gzip.compress(b'"1250000000","examplebucket","x.png"\n'))
    detail = run_manifest_job(sdk_client, emulator, report.manifest_key)
    assert (detail["State"], detail["Code"]) == ("Failed", "InvalidInput") and "md5Checksum" in detail["Message"]


def test_a_manifest_naming_a_missing_data_file_fails_the_job(sdk_client, emulator, bucket, periodic):
    emulator.backend.put_object(bucket, "a.png", png())
    report = emulator.run_inventory(bucket, periodic)
    emulator.backend.delete_object(bucket, report.data_keys[0])
    detail = run_manifest_job(sdk_client, emulator, report.manifest_key)
    assert (detail["State"], detail["Code"]) == ("Failed", "InvalidInput") and "does not exist" in detail["Message"]


def test_a_manifest_that_does_not_exist_fails_the_job(sdk_client, emulator, bucket):
    detail = run_manifest_job(sdk_client, emulator, "inv/20261207/manifest.json")
    assert (detail["State"], detail["Message"]) == ("Failed", f"Manifest not found: "
                                                              f"{manifest_url('inv/20261207/manifest.json')}")


def test_rows_of_another_bucket_are_skipped(sdk_client, emulator, bucket):
    rows = b'"1250000000","examplebucket","mine.png"\r\n"1250000000","otherbucket","theirs.png"\r\n'
    data = gzip.compress(rows)
    emulator.backend.put_object(bucket, "inv/a.csv.gz", data)
    manifest = {"fileSchema": "Appid, Bucket, Key", "files": [{"key": "inv/a.csv.gz", "size": str(len(data)),
                                                               "md5Checksum": hashlib.md5(data).hexdigest()}]}
    emulator.backend.put_object(bucket, "inv/manifest.json", json.dumps(manifest).encode())
    emulator.backend.put_object(bucket, "mine.png", png())
    emulator.backend.put_object(bucket, "theirs.png", png())
    detail = run_manifest_job(sdk_client, emulator, "inv/manifest.json")
    assert inspected(emulator, detail["JobId"]) == ["mine.png"]
