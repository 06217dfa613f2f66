"""The report knows about inventory rules (issue 24 point 5): the report handler over the emulator, after the submit
handler processed (or did not process) an inventory report. A missing, late or unprocessed inventory, or refused
stored state, is a PROBLEM with a sentence, and REPORT_NOTIFY=on-problem posts it."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List

import pytest
import responses

from handlers.report import invoke as report_invoke
from lib.config import load_settings
from lib.report.build import build_report
from lib.report.delivery import html_key, report_keys
from tests.inventory.support import ROOT, Bucket, data_file, day_after
from tests.support.emulator import fast_client
from tests.support.events import timer_event
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator

T1 = datetime(2026, 11, 1, 2, 0, tzinfo=timezone.utc)
DAY1 = day_after(T1)
T2 = datetime(2026, 11, 3, 2, 0, tzinfo=timezone.utc)
DAY2 = day_after(T2)
CHECKPOINT = "autopilot/inventory-runs/daily/checkpoint.json"
LEDGER = f"autopilot/inventory-runs/daily/{DAY1}/ledger.json"
WEBHOOK = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=inventory-report-test-0001"
HOSTILE_REASON = "<@all> [click](https://evil.example/x) `\n# PROBLEM: forged headline <at user_id=\"all\">"


@pytest.fixture
def bucket(emulator):
    return Bucket(emulator, INPUT_PREFIX="uploads/", WINDOW="all")


def processed(bucket: Bucket) -> None:
    """Two objects kept, one dropped by suffix, one outside INPUT_PREFIX: report DAY1 processed by a timer tick, and
    its job run to the end (a job left Submitted would be a stuck job, a problem of its own)."""
    bucket.put("uploads/a.png", "uploads/b.jpg", "uploads/notes.txt", "other/c.png", at=T1)
    bucket.report(DAY1)
    bucket.tick()
    bucket.emulator.backend.run_pending()


def report(bucket: Bucket, later: timedelta = timedelta(0), **env: str) -> Dict[str, Any]:
    """The report function's result for a tick `later` than now (the checkpoint's processed_at is the real now)."""
    moment = datetime.now(timezone.utc).replace(microsecond=0) + later
    return report_invoke(timer_event(moment, name="report-daily"), {"request_id": "inv-report"},
                         environ={**bucket.env, **env}, client_factory=_client)


def _client(settings, pool_size=None):
    return fast_client(settings)


def section(result: Dict[str, Any]) -> Dict[str, Any]:
    [line] = result["summary"]["inventories"]
    return line


def written(bucket: Bucket, result: Dict[str, Any], suffix: str) -> str:
    end = datetime.fromisoformat(result["summary"]["window_end"].replace("Z", "+00:00"))
    _, md = report_keys("autopilot/reports/", end)
    return bucket.object(md if suffix == ".md" else html_key(md)).decode("utf-8")


def test_after_a_processed_report_the_section_names_its_date_counts_and_jobs_and_is_no_problem(bucket):
    processed(bucket)
    result = report(bucket)
    line = section(result)
    assert (line["inventory_id"], line["status"], line["day"], line["newest"]) == ("daily", "ok", DAY1, DAY1)
    assert (line["listed"], line["kept"], line["jobs"]) == (4, 2, 1)
    assert line["dropped"] == {"outside INPUT_PREFIX": 1, "suffix not in UPLOAD_SUFFIXES": 1}
    assert line["job_names"] == [bucket.jobs()[0].name] and line["processed_at"]
    assert line["problem"] == "" and result["summary"]["problem"] is False


def test_the_markdown_and_html_reports_show_the_inventory_section(bucket):
    processed(bucket)
    result = report(bucket)
    markdown = written(bucket, result, ".md")
    assert "## Inventory" in markdown
    assert f"| daily | {DAY1} |" in markdown and "1 outside INPUT\\_PREFIX; 1 suffix not in UPLOAD\\_SUFFIXES" in markdown
    assert '<section id="inventory">' in written(bucket, result, ".html")


def test_a_report_function_without_an_inventory_rule_has_no_section_and_reads_no_inventory(bucket):
    processed(bucket)
    bucket.emulator.request_log.clear()
    result = report(bucket, INPUT_SOURCE="prefix")
    assert result["summary"]["inventories"] == []
    assert not [r for r in bucket.emulator.request_log.snapshot() if reads_inventory(r)]


def reads_inventory(request) -> bool:
    """GET Bucket inventory, a listing of the reports, or a read of the rule's stored state (COS, not CI's
    /inventorytriggerjob)."""
    return request.service == "cos" and ("inventory" in request.query or "inventory" in request.query.get("prefix", "")
                                         or "inventory" in request.path)


def test_a_report_function_with_an_inventory_rule_reads_its_configuration_reports_and_state(bucket):
    processed(bucket)
    bucket.emulator.request_log.clear()
    report(bucket)
    read = [r for r in bucket.emulator.request_log.snapshot() if reads_inventory(r)]
    assert {"inventory" in r.query for r in read} == {True, False} and len(read) >= 4


def test_a_late_inventory_is_a_problem_the_headline_names_and_on_problem_notifies(bucket):
    processed(bucket)
    with responses.RequestsMock() as chat:
        chat.add_passthru(re.compile(r"http://"))
        chat.post(WEBHOOK, json={"errcode": 0, "errmsg": "ok"})
        result = report(bucket, later=timedelta(hours=37), REPORT_WEBHOOK_URL=WEBHOOK, REPORT_NOTIFY="on-problem")
        [post] = [c for c in chat.calls if c.request.url == WEBHOOK]
    line = section(result)
    assert line["status"] == "late" and line["problem"].startswith(f"inventory daily is late: no report newer than "
                                                                   f"{DAY1}")
    assert result["summary"]["problem"] is True
    message = json.loads(post.request.body)["markdown"]["content"]
    assert message.splitlines()[0].startswith("**cos-batch-autopilot report: PROBLEM:")
    assert "inventory late" in message.splitlines()[0]
    assert "inventory problem: inventory daily is late" in message


def test_a_report_in_time_posts_nothing_on_problem(bucket):
    processed(bucket)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as chat:
        chat.add_passthru(re.compile(r"http://"))
        chat.post(WEBHOOK, json={"errcode": 0, "errmsg": "ok"})
        report(bucket, REPORT_WEBHOOK_URL=WEBHOOK, REPORT_NOTIFY="on-problem")
        assert [c for c in chat.calls if c.request.url == WEBHOOK] == []


def test_no_report_processed_yet_is_a_problem(bucket):
    result = report(bucket)
    line = section(result)
    assert (line["status"], line["day"]) == ("none", None)
    assert line["problem"] == "inventory daily: no report processed yet"
    assert result["summary"]["problem"] is True


def test_a_report_in_the_bucket_that_no_run_processed_is_named_in_the_problem(bucket):
    bucket.put("uploads/a.png", at=T1)
    bucket.report(DAY1)
    line = section(report(bucket))
    assert line["status"] == "none" and line["problem"].endswith(f"report {DAY1} is in the bucket")


def test_a_missing_inventory_configuration_is_a_problem_naming_the_fix(bucket):
    bucket.client.sdk.delete_bucket_inventory(Bucket=BUCKET, Id="daily")
    result = report(bucket)
    line = section(result)
    assert line["status"] == "missing" and "python -m deploy" in line["problem"]
    assert "PROBLEM: 0 jobs, 0 failed, 0 stuck, inventory not configured" in written(bucket, result, ".md")


def test_a_newer_report_left_unprocessed_past_the_schedule_is_named_not_called_late(bucket):
    processed(bucket)
    bucket.put("uploads/d.png", at=T2)
    report2 = bucket.report(DAY2, rows_per_file=1)
    bucket.write(report2.data_keys[0], data_file([["1250000000", "examplebucket", "uploads/evil.png"]]))  # refused
    line = section(report(bucket, later=timedelta(hours=37)))
    assert line["status"] == "unprocessed" and line["newest"] == DAY2
    assert line["problem"].startswith(f"inventory daily: report {DAY2} is in the bucket but not processed")


def test_a_forged_checkpoint_is_refused_stored_state_and_a_problem(bucket):
    bucket.put("uploads/a.png", at=T1)
    bucket.report(DAY1)
    bucket.write(CHECKPOINT, json.dumps({"inventory_id": "daily", "day": DAY1, "cut": "2026-11-02T15:00:00Z",
                                         "processed_at": "2026-11-03T00:00:00Z"}).encode())
    result = report(bucket)
    line = section(result)
    assert line["status"] == "ignored" and "stands on no submitted ledger" in line["problem"]
    assert "inventory stored state ignored" in written(bucket, result, ".md")


def forge_reasons(bucket: Bucket, reasons: List[str]) -> None:
    """A bucket writer's edit of a genuine ledger: new drop reasons whose counts still add up (it passes the checks)."""
    ledger = json.loads(bucket.object(LEDGER))
    ledger["dropped"] = {reason: 1 for reason in reasons}
    ledger["listed"] = ledger["kept"] + len(reasons)
    bucket.write(LEDGER, json.dumps(ledger).encode())


def test_hostile_drop_reasons_read_back_are_inert_in_markdown_chat_and_html(bucket):
    processed(bucket)
    forge_reasons(bucket, [HOSTILE_REASON])
    with responses.RequestsMock() as chat:
        chat.add_passthru(re.compile(r"http://"))
        chat.post(WEBHOOK, json={"errcode": 0, "errmsg": "ok"})
        result = report(bucket, REPORT_WEBHOOK_URL=WEBHOOK, REPORT_NOTIFY="always")
        [post] = [c for c in chat.calls if c.request.url == WEBHOOK]
    assert section(result)["dropped"] == {HOSTILE_REASON: 1}  # shown, never dropped: it is what the ledger says
    message = json.loads(post.request.body)["markdown"]["content"]
    assert "<@all>" not in message and "](https://evil" not in message and "https://evil" not in message
    assert not any(line.startswith("# PROBLEM") for line in message.splitlines())
    markdown = written(bucket, result, ".md")
    assert "<@all>" not in markdown and "[click](" not in markdown and "\n# PROBLEM" not in markdown
    assert "\\<@all\\> \\[click\\]" in markdown
    page = written(bucket, result, ".html")
    assert "<@all>" not in page and "&lt;@all&gt; [click](https://evil.example/x)" in page


def test_api_calls_still_equal_the_requests_served_with_an_inventory_section(bucket):
    processed(bucket)
    bucket.emulator.request_log.clear()
    summary = build_report(load_settings(bucket.env), fast_client(load_settings(bucket.env)), datetime.now(timezone.utc))
    assert summary.inventories and summary.api_calls == len(bucket.emulator.request_log.snapshot())


def test_the_checksum_of_the_report_used_is_read_from_the_configurations_folder(bucket):
    processed(bucket)
    bucket.emulator.request_log.clear()
    report(bucket)
    paths = [r.path for r in bucket.emulator.request_log.snapshot()]
    assert f"/{ROOT}{DAY1}/manifest.checksum" in paths
