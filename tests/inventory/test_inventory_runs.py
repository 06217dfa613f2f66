"""INPUT_SOURCE=inventory through the submit handler over the emulator: which objects a report's run submits, once.

The report's layout, manifest.json fields (numbers as strings, files[].md5Checksum) and URL-encoded keys are the
overview page 清单功能概述 (cloud.tencent.com/document/product/436/33702; tencentcloud.com/document/product/436/30622); Input.Manifest's value is the form of
cos-go-sdk-v5 example/CI/workflow_and_job/inventory.go; ImageInspect's 32 MB limit is CN doc 436/75996. What the
docs leave open (header row, quoting, the date's zone) is settled in docs/reliability.md, "Inventory runs"."""
from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from lib.config import load_settings
from lib.errors import InventoryConfigError, InventoryReportError, LeaseHeldError
from lib.inventory_state import summarise_inventory
from tests.inventory.support import ROOT, Bucket, data_file, day_after, rewrite_manifest

pytestmark = pytest.mark.emulator

T1 = datetime(2026, 11, 1, 2, 0, tzinfo=timezone.utc)
DAY1 = day_after(T1)  # 20261103: cut 2026-11-02T15:00Z
T2 = datetime(2026, 11, 3, 2, 0, tzinfo=timezone.utc)
DAY2 = day_after(T2)  # 20261105


@pytest.fixture
def bucket(emulator):
    return Bucket(emulator, INPUT_PREFIX="uploads/", WINDOW="all")


def test_a_scheduled_report_becomes_one_urlfile_job_over_exactly_the_objects_the_rules_keep(bucket):
    bucket.put("uploads/a.png", "uploads/b.jpg", "uploads/notes.txt", "other/c.png", "autopilot/x.png", at=T1)
    bucket.report(DAY1)
    result = bucket.tick()
    assert sorted(bucket.covered()) == ["uploads/a.png", "uploads/b.jpg"]
    assert [j.input_kind for j in bucket.jobs()] == ["UrlFile"]
    assert result["inventory"]["day"] == DAY1 and result["inventory"]["kept"] == 2
    assert result["inventory"]["listed"] == 5
    assert result["inventory"]["dropped"] == {
        "outside INPUT_PREFIX": 2, "suffix not in UPLOAD_SUFFIXES": 1}


def test_the_same_report_is_processed_once(bucket):
    bucket.put("uploads/a.png", at=T1)
    bucket.report(DAY1)
    bucket.tick()
    again = bucket.tick()
    assert len(bucket.jobs()) == 1 and again["jobs"] == []
    assert f"report {DAY1} already processed" in again["note"]


def test_two_consecutive_reports_with_overlapping_contents_put_each_object_in_exactly_one_job(emulator):
    bucket = Bucket(emulator, INPUT_PREFIX="uploads/")  # WINDOW incremental: the second report starts at the first's cut
    bucket.put("uploads/a.png", "uploads/b.png", at=T1)
    bucket.report(DAY1)
    bucket.tick(message='{"WINDOW": "all"}')  # the first run takes everything up to its cut
    bucket.put("uploads/c.png", at=T2)
    bucket.report(DAY2)  # lists a, b and c
    second = bucket.tick()
    assert Counter(bucket.covered()) == Counter({"uploads/a.png": 1, "uploads/b.png": 1, "uploads/c.png": 1})
    assert second["inventory"]["dropped"]["modified before the window (an earlier report took it)"] == 2


def test_an_object_modified_after_the_reports_cut_waits_for_the_next_report(bucket):
    late = datetime(2026, 11, 2, 15, 30, tzinfo=timezone.utc)  # after DAY1's cut (15:00Z), listed by it anyway
    bucket.put("uploads/a.png", at=T1)
    bucket.put("uploads/late.png", at=late)
    bucket.report(DAY1)
    result = bucket.tick()
    assert bucket.covered() == ["uploads/a.png"]
    assert result["inventory"]["dropped"] == {"modified after this report's cut (the next report takes it)": 1}


def test_an_older_unprocessed_report_is_skipped_with_a_note_when_a_newer_one_exists(bucket):
    bucket.put("uploads/a.png", at=T1)
    bucket.report(DAY1)
    bucket.report(DAY2)
    result = bucket.tick()
    assert result["inventory"]["day"] == DAY2
    assert f"skipped older report(s) {DAY1}" in result["note"]
    assert bucket.covered() == ["uploads/a.png"]


def test_a_data_file_that_fails_its_md5_checksum_is_refused_and_no_job_is_made(bucket):
    bucket.put("uploads/a.png", "uploads/b.png", at=T1)
    report = bucket.report(DAY1, rows_per_file=1)
    bucket.write(report.data_keys[1], data_file([["1250000000", "examplebucket", "uploads/evil.png", "1",
                                                  "2026-11-01T00:00:00.000Z", "e", "STANDARD"]]))
    with pytest.raises(InventoryReportError, match="md5Checksum"):
        bucket.tick()
    assert bucket.jobs() == []


def test_a_manifest_naming_a_missing_data_file_is_refused_and_no_job_is_made(bucket):
    bucket.put("uploads/a.png", "uploads/b.png", at=T1)
    report = bucket.report(DAY1, rows_per_file=1)
    bucket.emulator.backend.delete_object("examplebucket-1250000000", report.data_keys[1])
    with pytest.raises(InventoryReportError, match="does not exist"):
        bucket.tick()
    assert bucket.jobs() == []


def test_a_manifest_that_fails_manifest_checksum_is_refused(bucket):
    bucket.put("uploads/a.png", at=T1)
    bucket.report(DAY1)
    bucket.write(f"{ROOT}{DAY1}/manifest.checksum", b"0" * 32)
    with pytest.raises(InventoryReportError, match="does not match manifest.checksum"):
        bucket.tick()
    assert bucket.jobs() == []


ODD_KEYS = ["uploads/with space.png", "uploads/plus+sign.png", "uploads/per%cent.png", "uploads/中文/图片.png",
            'uploads/comma,quote".png', "uploads/semi;colon&amp=.png", "uploads/tilde~hash#q?.png",
            "uploads/new\nline.png", "uploads/tab\there.png", "uploads/%2F.png", "uploads/emoji😀.png"]


def test_keys_with_every_character_the_inventory_url_encodes_reach_the_job_exactly(bucket):
    bucket.put(*ODD_KEYS, at=T1)
    bucket.report(DAY1)
    bucket.tick()
    assert sorted(bucket.covered()) == sorted(ODD_KEYS)


def test_the_manifest_checksum_event_runs_the_rule_for_its_report(bucket):
    bucket.put("uploads/a.png", at=T1)
    bucket.report(DAY1)
    result = bucket.checksum_event(f"{ROOT}{DAY1}/manifest.checksum")
    assert result["trigger"] == "cos" and result["inventory"]["day"] == DAY1
    assert bucket.covered() == ["uploads/a.png"]


def test_a_checksum_event_outside_the_configurations_layout_is_an_ordinary_upload(bucket):
    bucket.put("uploads/a.png", at=T1)
    bucket.report(DAY1)
    result = bucket.checksum_event(f"uploads/{DAY1}/manifest.checksum")
    assert result.get("inventory") is None and bucket.jobs() == []
    assert result["skipped"][0]["reason"] == "suffix not in UPLOAD_SUFFIXES"


def test_the_checksum_trigger_and_the_timer_racing_make_one_job_set(bucket):
    bucket.put(*(f"uploads/{i}.png" for i in range(30)), at=T1)
    bucket.report(DAY1)
    outcomes = []

    def run(call):
        try:
            outcomes.append(call())
        except LeaseHeldError as exc:  # the loser fails; SCF's retry then finds the report processed
            outcomes.append(exc)

    threads = [threading.Thread(target=run, args=(bucket.tick,)),
               threading.Thread(target=run, args=(lambda: bucket.checksum_event(f"{ROOT}{DAY1}/manifest.checksum"),))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    retry = bucket.tick()
    assert Counter(bucket.covered()) == Counter({f"uploads/{i}.png": 1 for i in range(30)})
    assert len(bucket.jobs()) == 1 and retry["jobs"] == []


def test_a_forged_manifest_moves_nothing_outside_input_prefix_or_from_another_bucket(bucket):
    bucket.put("uploads/a.png", at=T1)
    bucket.report(DAY1)
    forged = data_file([
        ["1250000000", "examplebucket", "secret/payroll.png", "1", "2026-11-01T00:00:00.000Z", "e", "STANDARD"],
        ["1250000000", "examplebucket", "autopilot/state.png", "1", "2026-11-01T00:00:00.000Z", "e", "STANDARD"],
        ["1300000000", "otherbucket", "uploads/theirs.png", "1", "2026-11-01T00:00:00.000Z", "e", "STANDARD"],
        ["1250000000", "examplebucket", "uploads/a.png", "1", "2026-11-01T00:00:00.000Z", "e", "STANDARD"]])
    key = f"{ROOT}forged.csv.gz"
    bucket.write(key, forged)

    def swap(manifest):
        manifest["files"] = [{"key": key, "size": str(len(forged)), "md5Checksum": hashlib.md5(forged).hexdigest()}]

    rewrite_manifest(bucket, DAY1, swap)
    result = bucket.tick()
    assert bucket.covered() == ["uploads/a.png"]
    assert result["inventory"]["dropped"]["row of another bucket"] == 1
    assert result["inventory"]["dropped"]["outside INPUT_PREFIX"] == 2


def test_a_forged_manifest_naming_a_data_file_outside_the_configurations_folder_is_refused(bucket):
    bucket.put("uploads/a.png", at=T1)
    bucket.report(DAY1)
    bucket.write("uploads/list.csv.gz", data_file([["1250000000", "examplebucket", "uploads/a.png"]]))
    rewrite_manifest(bucket, DAY1, lambda m: m["files"].append(
        {"key": "uploads/list.csv.gz", "size": "1", "md5Checksum": "0" * 32}))
    with pytest.raises(InventoryReportError, match="outside the configuration's folder"):
        bucket.tick()
    assert bucket.jobs() == []


def test_when_nothing_is_filtered_out_the_job_takes_the_reports_own_manifest(emulator):
    bucket = Bucket(emulator, WINDOW="all")
    bucket.configure(flt={"Prefix": "uploads/"})  # the inventory lists only what the rule keeps
    bucket.put("uploads/a.png", "uploads/b.png", at=T1)
    bucket.report(DAY1)
    bucket.tick()
    assert [j.input_kind for j in bucket.jobs()] == ["Manifest"]
    assert bucket.jobs()[0].input_value.endswith(f"{ROOT}{DAY1}/manifest.json")
    assert sorted(bucket.covered()) == ["uploads/a.png", "uploads/b.png"]


def test_no_report_yet_is_a_note_not_a_failure(bucket):
    result = bucket.tick()
    assert result["jobs"] == [] and "no report yet" in result["note"]


def test_a_configuration_without_the_fields_the_filters_read_is_refused_naming_them(bucket):
    bucket.configure(fields=["ETag"])
    with pytest.raises(InventoryConfigError, match="lack LastModifiedDate, Size"):
        bucket.tick()


def test_a_configuration_without_optional_fields_is_refused_naming_them_not_with_the_sdks_key_error(bucket):
    bucket.configure(optional_fields=False)
    with pytest.raises(InventoryConfigError, match="lack LastModifiedDate, Size"):
        bucket.tick()


def test_a_newer_report_without_its_manifest_checksum_is_left_until_cos_finishes_it(bucket):
    bucket.put("uploads/a.png", at=T1)
    bucket.report(DAY1)
    bucket.report(DAY2)
    bucket.emulator.backend.delete_object("examplebucket-1250000000", f"{ROOT}{DAY2}/manifest.checksum")
    result = bucket.tick()
    assert result["inventory"]["day"] == DAY1


def test_no_report_newer_than_the_last_processed_one_for_more_than_36_hours_is_a_late_note(bucket):
    bucket.put("uploads/a.png", at=T1)
    bucket.report(DAY1)
    bucket.tick()
    key = "autopilot/inventory-runs/daily/checkpoint.json"
    checkpoint = json.loads(bucket.object(key))
    processed = datetime.fromisoformat(checkpoint["processed_at"].replace("Z", "+00:00"))
    bucket.write(key, json.dumps(dict(checkpoint, processed_at=(processed - timedelta(hours=37)).isoformat())).encode())
    result = bucket.tick()
    assert "inventory daily is late: no report newer than 20261103" in result["note"]


def test_the_summary_for_the_report_names_the_date_counts_and_jobs_with_no_problem_when_in_time(bucket):
    bucket.put("uploads/a.png", "uploads/b.txt", at=T1)
    bucket.report(DAY1)
    bucket.tick()
    now = datetime.now(timezone.utc)
    summary = summarise_inventory(bucket.client, load_settings(bucket.env), "daily", now)
    assert (summary.day, summary.kept, summary.jobs, summary.problem) == (DAY1, 1, 1, "")
    assert summary.dropped["suffix not in UPLOAD_SUFFIXES"] == 1


def test_the_summary_for_the_report_says_the_inventory_is_late_as_a_problem(bucket):
    bucket.put("uploads/a.png", at=T1)
    bucket.report(DAY1)
    bucket.tick()
    later = datetime.now(timezone.utc) + timedelta(hours=37)
    summary = summarise_inventory(bucket.client, load_settings(bucket.env), "daily", later)
    assert summary.problem.startswith("inventory daily is late: no report newer than 20261103")


def test_a_forged_checkpoint_is_ignored_with_a_note_and_the_report_is_processed(bucket):
    bucket.put("uploads/a.png", at=T1)
    bucket.report(DAY1)
    bucket.write("autopilot/inventory-runs/daily/checkpoint.json", json.dumps({
        "inventory_id": "daily", "day": "20261103", "cut": "2026-11-02T15:00:00Z",
        "processed_at": "2026-11-03T00:00:00Z"}).encode())
    result = bucket.tick()
    assert "stands on no submitted ledger" in result["note"]
    assert bucket.covered() == ["uploads/a.png"]


def test_a_dry_run_counts_what_the_run_then_submits_and_writes_nothing(bucket):
    from lib.submit.inventory import dry_run

    bucket.put("uploads/a.png", "uploads/b.png", "uploads/c.txt", "other/d.png", at=T1)
    bucket.report(DAY1)
    keys_before = sorted(bucket.emulator.backend.buckets["examplebucket-1250000000"])
    day, plan = dry_run(load_settings(bucket.env), bucket.client, datetime.now(timezone.utc))
    assert sorted(bucket.emulator.backend.buckets["examplebucket-1250000000"]) == keys_before
    assert bucket.jobs() == []
    result = bucket.tick()
    assert (day, plan.listed, plan.kept, plan.dropped) == (DAY1, result["inventory"]["listed"],
                                                           result["inventory"]["kept"], result["inventory"]["dropped"])
