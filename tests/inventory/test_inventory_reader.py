"""The core reader (lib/inventory.py) and the settings, on their own: what a manifest, a row and a setting may say."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from lib.config import load_settings
from lib.errors import ConfigError, InventoryConfigError
from lib.inventory import Manifest, parse_configuration, parse_time, report_cut
from lib.jobs import inventory_job_name
from tests.support.settings import ENV


def test_input_source_inventory_without_inventory_id_is_refused_naming_both_and_the_fix():
    with pytest.raises(ConfigError, match="INVENTORY_ID is required when INPUT_SOURCE='inventory'.*set INPUT_SOURCE"):
        load_settings({**ENV, "INPUT_SOURCE": "inventory"})


@pytest.mark.parametrize("bad", ["a b", "a/b", "x" * 65, "中文"])
def test_inventory_id_takes_only_the_published_alphabet(bad):
    with pytest.raises(ConfigError, match="INVENTORY_ID"):
        load_settings({**ENV, "INVENTORY_ID": bad})


@pytest.mark.parametrize("job_type", ["Job", "Workflow"])
def test_either_job_type_takes_its_objects_from_an_inventory(job_type):
    extra = {"WORKFLOW_IDS": "w2504f47ad46e4a1b9c0d1e2f3a4b5c6d"} if job_type == "Workflow" else {}
    settings = load_settings({**ENV, "INPUT_SOURCE": "inventory", "INVENTORY_ID": "a.b-c_1", "JOB_TYPE": job_type,
                              **extra})
    assert settings.input_source == "inventory" and settings.inventory_id == "a.b-c_1"


def test_a_cos_manifest_reads_its_string_numbers_and_md5checksum():
    manifest = Manifest.model_validate_json(
        '{"fileFormat": "CSV", "listObjectCount": "13", "fileSchema": "Appid, Bucket, Key, Size",'
        ' "files": [{"key": "k.csv.gz", "size": "502", "md5Checksum": "7d40288a09c25b302ad6cb5fced54f35"}]}')
    assert manifest.listObjectCount == 13 and manifest.files[0].size == 502
    assert manifest.columns == ["Appid", "Bucket", "Key", "Size"]


def test_an_s3_style_manifest_reads_its_md5checksum_spelling_and_numbers():
    manifest = Manifest.model_validate_json(
        '{"fileFormat": "CSV", "fileSchema": "Bucket, Key", "files": [{"key": "k.csv.gz", "size": 2147483647,'
        ' "MD5checksum": "F11166069F1990ABEB9C97ACE9CDFABC"}]}')
    assert manifest.files[0].md5 == "f11166069f1990abeb9c97ace9cdfabc" and manifest.files[0].size == 2147483647


@pytest.mark.parametrize("text", ["2026-11-01T02:00:00.000Z", "2026-11-01T10:00:00+08:00", "2026-11-01T02:00:00Z",
                                  "2026-11-01T02:00:00.1234567Z"])
def test_last_modified_dates_are_read_with_their_zone(text):
    assert parse_time(text).replace(microsecond=0) == datetime(2026, 11, 1, 2, 0, tzinfo=timezone.utc)


def test_a_last_modified_date_without_a_zone_is_refused():
    with pytest.raises(ValueError):
        parse_time("2026-11-01T02:00:00")


def test_a_reports_cut_is_an_hour_before_its_day_begins_in_beijing():
    assert report_cut("20261103") == datetime(2026, 11, 2, 15, 0, tzinfo=timezone.utc)


def test_a_configuration_without_optional_fields_reads_as_none_so_the_rule_can_name_what_is_missing():
    # The SDK's get_bucket_inventory raises KeyError without OptionalFields; lib.client returns this shape then.
    config = parse_configuration("daily", {"Id": "daily", "OptionalFields": None,
                                           "Destination": {"COSBucketDestination": {
                                               "Bucket": "qcs::cos:ap-guangzhou::examplebucket-1250000000"}}})
    assert config.fields == ()


def test_a_missing_configuration_names_the_id_and_the_fix():
    with pytest.raises(InventoryConfigError, match="INVENTORY_ID='daily'.*python -m deploy"):
        parse_configuration("daily", None)


def test_inventory_ids_that_differ_only_by_dot_or_underscore_get_different_job_names():
    assert inventory_job_name("autopilot", "a.b", "20261103", 1) != inventory_job_name("autopilot", "a_b", "20261103", 1)


def test_the_sdks_key_error_for_a_configuration_without_optional_fields_reads_as_no_fields():
    # cos-python-sdk-v5's get_bucket_inventory indexes data['OptionalFields'] unconditionally (inventory.md §1.4).
    import re

    import responses

    from lib.client import make_client

    body = ("<InventoryConfiguration><Id>daily</Id><IsEnabled>true</IsEnabled><Destination><COSBucketDestination>"
            "<Format>CSV</Format><Bucket>qcs::cos:ap-guangzhou::examplebucket-1250000000</Bucket>"
            "<Prefix>autopilot/inventory</Prefix></COSBucketDestination></Destination><Schedule><Frequency>Daily"
            "</Frequency></Schedule><IncludedObjectVersions>Current</IncludedObjectVersions></InventoryConfiguration>")
    client = make_client(load_settings(ENV), sleep=lambda _s: None)
    with responses.RequestsMock() as wire:
        wire.add(responses.GET, re.compile(r"https://examplebucket-1250000000\.cos\.ap-guangzhou\.myqcloud\.com/.*"
                                           r"inventory.*"), body=body, content_type="application/xml")
        with pytest.raises(KeyError):
            client.sdk.get_bucket_inventory(Bucket="examplebucket-1250000000", Id="daily")
        config = parse_configuration("daily", client.get_inventory_configuration("daily"))
    assert config.fields == () and config.dest_prefix == "autopilot/inventory"
