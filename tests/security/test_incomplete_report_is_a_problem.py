"""Issue 22 point 5 (second half): a report that could not read everything may be hiding a flagged image, so it
is a problem: it notifies under the default REPORT_NOTIFY=on-problem, its headline says why, and `report` exits 1."""
from __future__ import annotations

import io
import json
import re
from datetime import timedelta

import pytest
import responses

import handlers.report
from handlers.submit import main_handler
from ops.cli import main as cli_main
from tests.emulator.factories import png
from tests.support.emulator import EMULATOR_NOW, emulator_env
from tests.support.events import cos_event, timer_event
from tests.support.settings import BUCKET
from tests.support.wires import WEBHOOK_URL

pytestmark = pytest.mark.emulator

CONTEXT = {"request_id": "r-report", "function_name": "report", "time_limit_in_ms": 60000}
REPORT_AT = EMULATOR_NOW + timedelta(minutes=30)
# Per-object reads refused (403: e.g. no ci:DescribeMediaJobs) or failing after every retry (503).
READ_FAULTS = [pytest.param(403, id="refused"), pytest.param(503, id="failing")]


@pytest.fixture
def one_job(emulator_bucket):
    """One finished upload job whose per-object results exist."""
    emulator_bucket.put_object(BUCKET, "uploads/cat.png", png(), content_type="image/png")
    main_handler(cos_event(["uploads/cat.png"]), {"request_id": "r-upload"})
    emulator_bucket.run_pending()
    return emulator_bucket


def lose_per_object_reads(emulator, status: int) -> None:
    emulator.faults.add("GET", r"^/jobs$", "ci", action="status", status=status, count=1000)


@pytest.mark.parametrize("status", READ_FAULTS)
def test_an_incomplete_report_notifies_under_on_problem_and_says_why(emulator, one_job, monkeypatch, status):
    lose_per_object_reads(emulator, status)
    monkeypatch.setenv("REPORT_WEBHOOK_URL", WEBHOOK_URL)  # REPORT_NOTIFY left at its default, on-problem
    with responses.RequestsMock() as rsps:
        rsps.add_passthru(re.compile(r"http://[^/]*\.myqcloud\.com/"))  # COS and CI go on to the emulator
        rsps.post(WEBHOOK_URL, json={"errcode": 0, "errmsg": "ok"})
        result = handlers.report.main_handler(timer_event(REPORT_AT), CONTEXT)
        sent = [json.loads(c.request.body) for c in rsps.calls if c.request.url.startswith(WEBHOOK_URL[:30])]
    summary = result["summary"]
    assert not summary["complete"] and summary["problem"]
    assert len(sent) == 1, result["deliveries"]
    text = sent[0]["markdown"]["content"]
    assert "PROBLEM" in text and "INCOMPLETE" in text


@pytest.mark.parametrize("status", READ_FAULTS)
def test_the_report_command_exits_1_when_the_report_is_incomplete(emulator, one_job, status):
    lose_per_object_reads(emulator, status)
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(["report", "--json"], environ=emulator_env(emulator), stdin=io.StringIO(""), stdout=out,
                    stderr=err, clock=lambda: REPORT_AT, sleep=lambda _s: None)
    report = json.loads(out.getvalue())
    assert (report["complete"], report["problem"], report["total_jobs"]) == (False, True, 1)
    assert code == 1, err.getvalue()


def test_a_complete_clean_report_is_still_ok(emulator, one_job):
    out = io.StringIO()
    code = cli_main(["report", "--json"], environ=emulator_env(emulator), stdin=io.StringIO(""), stdout=out,
                    stderr=io.StringIO(), clock=lambda: REPORT_AT, sleep=lambda _s: None)
    report = json.loads(out.getvalue())
    assert (report["complete"], report["problem"], code) == (True, False, 0)
