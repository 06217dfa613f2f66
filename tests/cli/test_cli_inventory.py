"""`python -m ops inventory show` and an inventory rule's `submit --dry-run` (issue 24 point 5), over the emulator:
what the bucket's inventory holds, whether the function processed it, and what the next run would submit, sending
nothing (the emulator's request log holds no PUT and no POST /inventorytriggerjob)."""
from __future__ import annotations

import io
import json
from datetime import datetime, timezone
from typing import Any, Dict, Tuple

import pytest

from ops.cli import main
from tests.cli.support import cli
from tests.inventory.support import ROOT, Bucket, day_after
from tests.support.emulator import fast_client

pytestmark = pytest.mark.emulator

T1 = datetime(2026, 11, 1, 2, 0, tzinfo=timezone.utc)
DAY1 = day_after(T1)


@pytest.fixture
def bucket(emulator):
    bucket = Bucket(emulator, INPUT_PREFIX="uploads/", WINDOW="all")
    bucket.put("uploads/a.png", "uploads/b.png", "uploads/c.txt", "other/d.png", at=T1)
    return bucket


def run(bucket: Bucket, *argv: str, **env: str) -> Tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), environ={**bucket.env, "HOME": "/nonexistent", **env}, stdout=out, stderr=err,
                client_factory=lambda settings, pool_size=None: fast_client(settings))
    return code, out.getvalue(), err.getvalue()


def sent(bucket: Bucket) -> list:
    """What a dry run must never send: a write, or a batch job."""
    return [(r.method, r.path) for r in bucket.emulator.request_log.snapshot()
            if r.method in ("PUT", "DELETE") or (r.method == "POST" and r.path.startswith("/inventorytriggerjob"))
            or (r.method == "POST" and "delete" in r.query)]


def test_show_names_the_configuration_its_destination_and_the_newest_reports_counts_and_files(bucket):
    bucket.report(DAY1)
    code, out, _ = run(bucket, "inventory", "show", "--json")
    view: Dict[str, Any] = json.loads(out)
    assert view["configuration"]["dest_prefix"] == "autopilot/inventory" and view["report_root"] == ROOT
    assert view["newest"]["day"] == DAY1 and view["newest"]["list_object_count"] == 4
    assert [f["key"].startswith(f"{ROOT}") for f in view["newest"]["files"]] == [True]
    assert view["processed"] is False
    assert view["problem"] == f"inventory daily: no report processed yet; report {DAY1} is in the bucket"
    assert code == 1


def test_show_says_the_newest_report_is_processed_with_what_the_run_made(bucket):
    bucket.report(DAY1)
    bucket.tick()
    code, out, _ = run(bucket, "inventory", "show")
    assert code == 0
    assert f"newest report: {DAY1}: listed 4 objects (listObjectCount)" in out
    assert f"processed by the function: yes, report {DAY1}" in out
    assert "listed 4, kept 2, dropped 2 (1 outside INPUT_PREFIX; 1 suffix not in UPLOAD_SUFFIXES), 1 job" in out


def test_show_of_an_id_the_bucket_does_not_have_is_a_problem_naming_the_fix(bucket):
    code, _, err = run(bucket, "inventory", "show", "--id", "nightly")
    assert code == 1 and "INVENTORY_ID='nightly'" in err and "python -m deploy" in err


def test_show_with_a_malformed_id_is_refused_before_any_call(bucket):
    bucket.emulator.request_log.clear()
    code, _, err = run(bucket, "inventory", "show", "--id", "no spaces")
    assert code == 2 and "INVENTORY_ID" in err
    assert bucket.emulator.request_log.snapshot() == []


def test_show_without_an_id_anywhere_is_a_usage_error(bucket):
    code, _, err = run(bucket, "inventory", "show", INPUT_SOURCE="prefix", INVENTORY_ID="")
    assert code == 2 and "give --id ID or set INVENTORY_ID" in err


def test_a_dry_run_prints_the_counts_and_jobs_the_run_would_make_and_sends_nothing(bucket):
    bucket.report(DAY1)
    bucket.emulator.request_log.clear()
    code, out, _ = run(bucket, "submit", "--dry-run", "--json")
    result = json.loads(out)
    assert code == 0 and sent(bucket) == [] and bucket.jobs() == []
    assert (result["day"], result["listed"], result["kept"]) == (DAY1, 4, 2)
    assert result["dropped"] == {"outside INPUT_PREFIX": 1, "suffix not in UPLOAD_SUFFIXES": 1}
    assert [(p["input"], p["objects"], p["job_name"]) for p in result["parts"]] == [
        ("UrlFile", 2, f"autopilot-inv-daily-{DAY1}-1")]


def test_the_dry_runs_counts_and_jobs_are_the_ones_the_run_then_makes(bucket):
    bucket.report(DAY1)
    _, out, _ = run(bucket, "submit", "--dry-run", "--json")
    made = bucket.tick()
    planned = json.loads(out)
    assert (planned["listed"], planned["kept"], planned["dropped"]) == (
        made["inventory"]["listed"], made["inventory"]["kept"], made["inventory"]["dropped"])
    assert [p["job_name"] for p in planned["parts"]] == [j["name"] for j in made["jobs"]]


def test_a_dry_run_as_text_lists_each_drop_reason_and_each_job(bucket):
    bucket.report(DAY1)
    code, out, _ = run(bucket, "submit", "--dry-run")
    assert code == 0
    assert out.splitlines()[0] == f"inventory daily, report {DAY1}: listed 4, kept 2, dropped 2"
    assert "  1 suffix not in UPLOAD_SUFFIXES" in out and "would make 1 job (dry run: nothing written" in out
    assert f"autopilot-inv-daily-{DAY1}-1" in out


def test_a_dry_run_with_nothing_filtered_out_would_use_the_reports_own_manifest(emulator):
    bucket = Bucket(emulator, WINDOW="all")
    bucket.configure(flt={"Prefix": "uploads/"})
    bucket.put("uploads/a.png", "uploads/b.png", at=T1)
    bucket.report(DAY1)
    _, out, _ = run(bucket, "submit", "--dry-run", "--json")
    [part] = json.loads(out)["parts"]
    assert (part["input"], part["objects"], part["file_key"]) == ("Manifest", 2, f"{ROOT}{DAY1}/manifest.json")
    bucket.tick()
    assert [j.input_kind for j in bucket.jobs()] == ["Manifest"]


def test_a_dry_run_after_the_report_was_processed_says_a_run_would_submit_nothing(bucket):
    bucket.report(DAY1)
    bucket.tick()
    bucket.emulator.request_log.clear()
    code, out, _ = run(bucket, "submit", "--dry-run")
    assert code == 0 and sent(bucket) == []
    assert f"report {DAY1} is processed already: a run now would submit nothing" in out


def test_a_dry_run_without_any_report_is_a_problem(bucket):
    code, out, _ = run(bucket, "submit", "--dry-run")
    assert code == 1 and "no complete report under" in out


def test_a_dry_run_of_an_inventory_rule_takes_no_since(bucket):
    code, _, err = run(bucket, "submit", "--dry-run", "--since", "6h")
    assert code == 2 and "window comes from its checkpoint" in err


def test_a_timer_argument_in_the_event_file_makes_the_dry_run_an_inventory_one(bucket, tmp_path):
    bucket.report(DAY1)
    event = tmp_path / "tick.json"
    event.write_text(json.dumps({"Type": "Timer", "TriggerName": "inventory", "Time": "2026-12-01T00:00:00Z",
                                 "Message": json.dumps({"INPUT_SOURCE": "inventory", "INVENTORY_ID": "daily"})}))
    code, out, _ = run(bucket, "submit", "--dry-run", "--json", "--event", str(event), INPUT_SOURCE="prefix",
                       INVENTORY_ID="")
    assert code == 0 and json.loads(out)["kept"] == 2


def test_python_m_ops_inventory_show_runs_as_a_process(bucket, tmp_path):
    bucket.report(DAY1)
    bucket.tick()
    ran = cli("inventory", "show", "--json", env=bucket.env, home=tmp_path)
    assert ran.code == 0, ran
    assert ran.json()["processed"] is True


def test_show_prints_drop_reasons_read_back_from_the_ledger_with_control_characters_visible(bucket):
    bucket.report(DAY1)
    bucket.tick()
    key = f"autopilot/inventory-runs/daily/{DAY1}/ledger.json"
    ledger = json.loads(bucket.object(key))
    ledger["dropped"] = {"\x1b[2J\x1b[31mall clear\nproblem: none": 1}
    ledger["listed"] = ledger["kept"] + 1
    bucket.write(key, json.dumps(ledger).encode())
    _, out, _ = run(bucket, "inventory", "show")
    assert "\x1b" not in out and "\\x1b[2J\\x1b[31mall clear\\nproblem: none" in out
    assert not any(line.startswith("problem: none") for line in out.splitlines())
