"""The ops CLI through its entry point `ops.cli.main`, against the SDK over a fake wire."""
from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from lib.client import make_client
from ops.cli import main
from tests.support.settings import ENV
from tests.support.wires import inspect_result_xml

EVENTS = Path(__file__).resolve().parents[2] / "events"
NOW = datetime(2026, 11, 28, 16, 0, tzinfo=timezone.utc)
INSIDE = "2026-11-28T10:00:00+0800"


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


class Run:
    """One CLI invocation's exit code and captured streams."""

    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err

    def json(self):
        return json.loads(self.out)


def cli(*argv, stdin="", environ=None, stderr=None, client_factory=None):
    out, err = io.StringIO(), stderr or io.StringIO()
    code = main(list(argv), environ=ENV if environ is None else environ, stdin=io.StringIO(stdin), stdout=out,
                stderr=err, clock=lambda: NOW, client_factory=client_factory)
    return Run(code, out.getvalue(), err.getvalue())


class RecordingFactory:
    """The app's client factory, noting each call's pool size and whether the process environment held COS_BUCKET."""

    def __init__(self):
        self.calls = []

    def __call__(self, settings, *, pool_size=None):
        import os

        self.calls.append({"pool_size": pool_size, "process_has_bucket": "COS_BUCKET" in os.environ})
        return make_client(settings, pool_size=pool_size)



def query(call):
    return {k: v[0] for k, v in parse_qs(urlparse(call.request.url).query, keep_blank_values=True).items()}


# --- jobs list ----------------------------------------------------------------------------------------

def test_jobs_list_pages_through_both_types_and_prints_a_table(report_wire):
    for i in range(150):
        report_wire.add_job(f"bJ{i:04d}", job_type="Job")
    report_wire.add_job("bW0001", job_type="Workflow")
    run = cli("jobs", "list")
    assert run.code == 0
    assert len(report_wire.list_calls("Job")) == 2 and len(report_wire.list_calls("Workflow")) == 1
    assert run.out.splitlines()[0].split() == ["JOB", "TYPE", "TAG/WORKFLOW", "STATE", "CREATED", "NAME",
                                                "INPUT"]
    assert "bJ0149" in run.out and "bW0001" in run.out
    assert run.out.rstrip().endswith("151 jobs")


def test_jobs_list_json_is_a_list_of_jobs(report_wire):
    report_wire.add_job("b1", state="Failed", message="boom")
    run = cli("jobs", "list", "--json")
    (job,) = run.json()
    assert (run.code, job["JobId"], job["State"], job["Message"]) == (0, "b1", "Failed", "boom")


def test_jobs_list_passes_every_filter_to_the_list_api(report_wire):
    run = cli("jobs", "list", "--type", "Workflow", "--state", "Failed", "--state", "Running,Pause",
              "--name", "autopilot-hourly-x", "--job-id", "b1", "--workflow-id", "wabcdef0123", "--order", "Asc",
              "--start", "2026-11-28T00:00:00Z", "--end", "2026-11-28T12:00:00+08:00")
    assert run.code == 0
    (call,) = report_wire.list_calls(states=None)
    assert query(call) == {
        "type": "Workflow", "states": "Failed,Running,Pause", "name": "autopilot-hourly-x", "jobId": "b1",
        "workflowId": "wabcdef0123", "orderByTime": "Asc", "startCreationTime": "2026-11-28T08:00:00+0800",
        "endCreationTime": "2026-11-28T12:00:00+0800", "size": "100", "nextToken": ""}


def test_jobs_list_since_is_relative_to_now_with_no_upper_bound(report_wire):
    cli("jobs", "list", "--type", "Job", "--since", "2h")
    (call,) = report_wire.list_calls()
    assert query(call)["startCreationTime"] == "2026-11-28T22:00:00+0800"
    assert "endCreationTime" not in query(call)  # a job created this very second is still listed


def test_jobs_list_limit_stops_early_and_asks_for_a_small_page(report_wire):
    for i in range(30):
        report_wire.add_job(f"b{i:03d}")
    run = cli("jobs", "list", "--limit", "5", "--json")
    assert [j["JobId"] for j in run.json()] == [f"b{i:03d}" for i in range(5)]
    (call,) = report_wire.list_calls()
    assert query(call)["size"] == "5"


@pytest.mark.parametrize("args, message", [
    (("--since", "5x"), "'5x' is not a duration"),
    (("--start", "yesterday"), "'yesterday' is not a time"),
    (("--end", "2026-13-01"), "'2026-13-01' is not a time"),
    (("--since", "1h", "--start", "2026-11-28"), "give --since or --start, not both"),
    (("--start", "2026-11-29", "--end", "2026-11-28"), "is after --end"),
    (("--state", "Done"), "--state Done: not a state"),
], ids=["bad-duration", "bad-start", "bad-end", "both", "reversed", "bad-state"])
def test_a_bad_filter_is_a_usage_error_and_calls_nothing(report_wire, args, message):
    run = cli("jobs", "list", *args)
    assert run.code == 2 and message in run.err
    assert len(report_wire.rsps.calls) == 0


def test_paging_shows_progress_on_a_terminal(report_wire):
    for i in range(101):
        report_wire.add_job(f"b{i:03d}")
    tty = Tty()
    cli("jobs", "list", "--type", "Job", stderr=tty)
    assert "listing Job jobs: page 2, 100 so far" in tty.getvalue()


def test_no_progress_when_stderr_is_not_a_terminal(report_wire):
    report_wire.add_job("b1")
    assert cli("jobs", "list").err == ""


# --- jobs get / cancel ------------------------------------------------------------------------------------

def test_jobs_get_shows_a_failed_jobs_code_and_message_and_exits_1(report_wire):
    report_wire.add_job("b1", state="Failed", code="InternalError", message="inventory unreadable")
    run = cli("jobs", "get", "b1")
    assert run.code == 1
    assert "state    failed (Failed)" in run.out and "message  inventory unreadable" in run.out


def test_jobs_get_json(report_wire):
    report_wire.add_job("b1")
    assert cli("jobs", "get", "b1", "--json").json()["JobId"] == "b1"


def test_jobs_get_of_an_unknown_id_exits_1(report_wire):
    run = cli("jobs", "get", "bnope")
    assert run.code == 1 and "no batch job bnope" in run.err


def test_cancel_asks_and_cancels_on_yes(report_wire):
    report_wire.add_job("b1", state="Running")
    run = cli("jobs", "cancel", "b1", stdin="y\n")
    assert "Cancel job b1 (autopilot-hourly-x, running)? [y/N]" in run.err
    assert run.code == 0 and report_wire.cancelled == ["b1"]


@pytest.mark.parametrize("answer", ["n\n", "\n", "", "maybe\n"], ids=["no", "enter", "eof", "other"])
def test_cancel_does_nothing_unless_the_answer_is_yes(report_wire, answer):
    report_wire.add_job("b1", state="Running")
    run = cli("jobs", "cancel", "b1", stdin=answer)
    assert run.code == 1 and "not cancelled" in run.err
    assert report_wire.cancelled == [] and report_wire.calls("PUT") == []


def test_cancel_yes_skips_the_question(report_wire):
    report_wire.add_job("b1", state="Submitted")
    run = cli("jobs", "cancel", "b1", "--yes", "--json")
    assert run.err == "" and run.json() == {"job_id": "b1", "cancelled": True, "previous_state": "Submitted"}
    assert report_wire.cancelled == ["b1"]


def test_cancel_of_a_finished_job_exits_1_without_a_call(report_wire):
    report_wire.add_job("b1", state="Success")
    run = cli("jobs", "cancel", "b1", "--yes")
    assert run.code == 1 and "already finished" in run.err and report_wire.calls("PUT") == []


# --- submit --dry-run ---------------------------------------------------------------------------------------

NO_CREDENTIALS = {"COS_BUCKET": ENV["COS_BUCKET"], "COS_REGION": ENV["COS_REGION"]}


def test_submit_dry_run_prints_the_timer_jobs_xml_without_credentials_or_calls(report_wire):
    run = cli("submit", "--dry-run", environ=NO_CREDENTIALS)
    root = ET.fromstring(run.out.split("\n", 1)[1])
    assert run.code == 0 and root.tag == "Request"
    assert root.findtext("Operation/TimeInterval/Start") == "2026-11-28T23:00:00+0800"  # FIRST_RUN_LOOKBACK 1h
    assert root.findtext("Operation/TimeInterval/End") == "2026-11-29T00:00:00+0800"
    assert len(report_wire.rsps.calls) == 0


def test_submit_dry_run_since_sets_the_window(report_wire):
    root = ET.fromstring(cli("submit", "--dry-run", "--since", "6h").out.split("\n", 1)[1])
    assert root.findtext("Operation/TimeInterval/Start") == "2026-11-28T18:00:00+0800"


def test_submit_dry_run_of_a_cos_event_prints_the_object_job(report_wire):
    run = cli("submit", "--dry-run", "--json", "--event", str(EVENTS / "cos-upload-one.json"))
    result = run.json()
    assert ET.fromstring(result["xml"].split("\n", 1)[1]).findtext("Input/Object") == "uploads/cat.png"
    assert result["name"].startswith("autopilot-upload-")
    # The only read: the listing of restored images, which the run leaves out too.
    assert [c.request.params.get("prefix") for c in report_wire.rsps.calls] == ["autopilot/reviewed/"]


def test_submit_without_dry_run_is_a_usage_error(report_wire):
    run = cli("submit")
    assert run.code == 2 and "--dry-run" in run.err


# --- report ---------------------------------------------------------------------------------------------------

def test_report_prints_the_summary_table_and_exits_1_on_a_problem(report_wire):
    report_wire.add_job("b1", state="Failed", created=INSIDE, code="InternalError", message="boom")
    run = cli("report", "--since", "24h")
    assert run.code == 1
    assert run.out.startswith("PROBLEM: 1 job, 1 failed, 0 stuck (last 1d)")
    assert "InternalError" in run.out


def test_report_json_is_the_functions_summary_and_exits_0_when_clean(report_wire):
    report_wire.add_job("b1", created=INSIDE)
    report_wire.inspect_results["b1"] = [inspect_result_xml("b1", 0, "ok.png")]
    run = cli("report", "--json")
    summary = run.json()
    assert run.code == 0 and summary["total_jobs"] == 1 and summary["objects"]["inspected"] == 1
    assert summary["window_end"] == "2026-11-28T16:00:01Z"  # one second past now: this second's jobs count


def test_report_since_narrows_the_window(report_wire):
    report_wire.add_job("b1", state="Failed", created=INSIDE)  # 14 h before now
    run = cli("report", "--since", "1h", "--json")
    assert run.code == 0 and run.json()["total_jobs"] == 0


def test_report_all_jobs_includes_other_jobs(report_wire):
    report_wire.add_job("b1", name="someone-else", created=INSIDE)
    assert cli("report", "--json").json()["total_jobs"] == 0
    assert cli("report", "--all-jobs", "--json").json()["total_jobs"] == 1


def test_report_writes_nothing_to_the_bucket(report_wire):
    cli("report")
    assert report_wire.calls("PUT") == [] and report_wire.calls("POST") == []


def test_report_asks_the_client_factory_for_a_connection_per_reader_plus_the_listing(report_wire):
    factory = RecordingFactory()
    cli("report", environ={**ENV, "REPORT_CONCURRENCY": "3"}, client_factory=factory)
    assert [c["pool_size"] for c in factory.calls] == [3 + 1]


# --- invoke ---------------------------------------------------------------------------------------------------

def test_invoke_report_runs_the_handler_and_prints_its_result(report_wire):
    report_wire.add_job("b1", created="2026-11-28T20:00:00+0800")
    run = cli("invoke", "report", str(EVENTS / "timer-hourly.json"))
    result = run.json()
    assert run.code == 0 and result["summary"]["total_jobs"] == 1
    assert "autopilot/reports/2026/11/28/report-160000Z.json" in report_wire.objects


def test_invoke_submit_creates_the_job(report_wire):
    run = cli("invoke", "submit", str(EVENTS / "timer-hourly.json"))
    assert run.code == 0 and run.json()["jobs"][0]["created"] is True
    assert len(report_wire.created_bodies) == 1


def test_invoke_leaves_the_process_environment_as_it_was(report_wire, monkeypatch):
    monkeypatch.delenv("COS_BUCKET", raising=False)
    cli("invoke", "report", str(EVENTS / "timer-hourly.json"))
    import os

    assert "COS_BUCKET" not in os.environ


def test_invoke_runs_the_handler_with_the_clis_client_factory(report_wire):
    factory = RecordingFactory()
    run = cli("invoke", "submit", str(EVENTS / "timer-hourly.json"), client_factory=factory)
    assert run.code == 0 and len(factory.calls) == 1


def test_invoke_hands_the_handler_its_environment_without_touching_the_processs(report_wire, monkeypatch):
    monkeypatch.delenv("COS_BUCKET", raising=False)
    factory = RecordingFactory()
    run = cli("invoke", "report", str(EVENTS / "timer-hourly.json"), client_factory=factory)
    assert run.code == 0 and run.json()["summary"]["bucket"] == ENV["COS_BUCKET"]
    assert [c["process_has_bucket"] for c in factory.calls] == [False]


def test_invoke_with_a_missing_event_file_is_a_usage_error(report_wire):
    run = cli("invoke", "report", "/nonexistent/event.json")
    assert run.code == 2 and "event file /nonexistent/event.json" in run.err


# --- settings -------------------------------------------------------------------------------------------------

def test_a_config_error_exits_2_with_the_variable_named(report_wire):
    run = cli("jobs", "list", environ={"COS_REGION": "ap-guangzhou"})
    assert run.code == 2 and "COS_BUCKET is required but not set" in run.err


def test_env_file_supplies_settings(report_wire, tmp_path):
    env_file = tmp_path / "prod.env"
    env_file.write_text("# prod\nexport COS_BUCKET=examplebucket-1250000000\nCOS_REGION='ap-guangzhou'\n\n"
                        f"TENCENTCLOUD_SECRETID={ENV['TENCENTCLOUD_SECRETID']}\n"
                        f"TENCENTCLOUD_SECRETKEY={ENV['TENCENTCLOUD_SECRETKEY']}\n")
    run = cli("jobs", "list", "--env-file", str(env_file), environ={})
    assert run.code == 0 and len(report_wire.list_calls()) == 2


def test_a_malformed_env_file_line_is_a_usage_error(report_wire, tmp_path):
    env_file = tmp_path / "bad.env"
    env_file.write_text("COS_BUCKET=examplebucket-1250000000\nthis is not a setting\n")
    run = cli("jobs", "list", "--env-file", str(env_file))
    assert run.code == 2 and "line 2: expected KEY=VALUE" in run.err


def test_a_service_error_exits_1_with_its_code(report_wire):
    report_wire.list_error = (403, "AccessDenied")
    run = cli("jobs", "list")
    assert run.code == 1 and "AccessDenied" in run.err
