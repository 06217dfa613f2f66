"""build_report against the SDK over a fake wire: pagination, the window, failed/stuck jobs, per-object results."""
from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlparse

import pytest

from lib.client import make_client
from lib.config import load_settings
from lib.errors import PaginationError
from lib.report.build import build_report
from lib.report.classify import is_failing
from lib.report.objects import MAX_OBJECTS_PER_JOB, read_job_objects
from lib.windows import compact, format_ci_time
from tests.support.settings import ENV
from tests.support.wires import execution_xml, inspect_result_xml

END = datetime(2026, 11, 28, 16, 0, tzinfo=timezone.utc)
INSIDE = "2026-11-28T10:00:00+0800"  # 02:00Z, 14 h before END


def ci(moment: datetime) -> str:
    return format_ci_time(moment)


def report(report_wire, **env):
    settings = load_settings({**ENV, **env})
    return build_report(settings, make_client(settings, sleep=lambda s: None), END, clock=lambda: END)


# --- pagination -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, 1, 100, 101, 1050])
def test_every_page_of_both_types_is_listed_once(report_wire, n):
    for i in range(n):
        report_wire.add_job(f"bJ{i:05d}", job_type="Job", state="Submitted", created=INSIDE)
        report_wire.add_job(f"bW{i:05d}", job_type="Workflow", state="Submitted", created=INSIDE)
    summary = report(report_wire)
    expected_pages = max(1, math.ceil(n / 100))
    assert len(report_wire.list_calls("Job")) == expected_pages
    assert len(report_wire.list_calls("Workflow")) == expected_pages
    assert summary.total_jobs == 2 * n
    assert sum(row.count for row in summary.counts) == 2 * n
    # + one stuck-job scan per Type (jobs from before the window) + one listing of the checkpoints + one listing of
    # the per-object results cache (none yet, and nothing to cache for jobs still Submitted) + a cancel of each
    # younger job (all of them share one name) + the spend section: the ledger listed once per month it reads
    # (October for the trend, November) and the held plans once, and their decisions once per day of the window (2)
    assert len(report_wire.rsps.calls) == 2 * expected_pages + 2 + 1 + 1 + len(report_wire.cancelled) + 2 + 1 + 2
    assert summary.api_calls == len(report_wire.rsps.calls)


def test_list_calls_ask_for_100_per_page_all_states_and_the_window(report_wire):
    report(report_wire)
    for call in report_wire.list_calls():
        query = call.request.url.split("?", 1)[1]
        assert "size=100" in query and "states=All" in query
        assert "startCreationTime=2026-11-28T00%3A00%3A00%2B0800" in query
        assert "endCreationTime=2026-11-29T00%3A00%3A00%2B0800" in query


def test_a_next_token_on_an_exactly_full_last_page_costs_one_more_call(report_wire):
    report_wire.token_on_last_page = True
    for i in range(100):
        report_wire.add_job(f"b{i:05d}", state="Submitted", created=INSIDE)
    summary = report(report_wire)
    assert len(report_wire.list_calls("Job")) == 2  # the second page is empty and ends the listing
    assert summary.total_jobs == 100


def test_a_job_listed_twice_is_counted_once(report_wire):
    report_wire.add_job("b1", state="Failed", created=INSIDE)
    report_wire.add_job("b1", state="Failed", created=INSIDE)
    summary = report(report_wire)
    assert summary.total_jobs == 1 and summary.failed_total == 1


def test_a_repeated_next_token_stops_with_an_error(report_wire):
    report_wire.repeat_token = "token-page-2"
    report_wire.add_job("b1", state="Submitted", created=INSIDE)
    with pytest.raises(PaginationError, match="token-page-2"):
        report(report_wire)
    assert len(report_wire.list_calls("Job")) == 2


# --- which jobs ---------------------------------------------------------------------------------------

def test_other_jobs_of_the_bucket_are_left_out_unless_report_all_jobs(report_wire):
    report_wire.add_job("b1", name="autopilot-hourly-x", created=INSIDE)
    report_wire.add_job("b2", name="someone-elses-job", created=INSIDE)
    assert report(report_wire).total_jobs == 1
    assert report(report_wire, REPORT_ALL_JOBS="true").total_jobs == 2


@pytest.mark.parametrize("created, counted", [
    (END - timedelta(days=1), True),
    (END - timedelta(days=1, seconds=1), False),
    (END - timedelta(seconds=1), True),
    (END, False),
    (END + timedelta(seconds=1), False),
], ids=["at-start", "before-start", "last-second", "at-end-belongs-to-the-next-report", "after-end"])
def test_the_window_is_creation_time_from_time_minus_lookback_up_to_time(report_wire, created, counted):
    report_wire.add_job("b1", state="Failed", created=ci(created))
    summary = report(report_wire)
    assert (summary.total_jobs, summary.failed_total) == ((1, 1) if counted else (0, 0))


def test_report_lookback_sets_the_window(report_wire):
    report_wire.add_job("b1", created=ci(END - timedelta(hours=2)))
    summary = report(report_wire, REPORT_LOOKBACK="1h")
    assert summary.total_jobs == 0
    assert summary.window_start == END - timedelta(hours=1)


# --- failed and stuck ----------------------------------------------------------------------------------

def test_failed_jobs_carry_code_and_message(report_wire):
    report_wire.add_job("b1", state="Failed", created=INSIDE, code="InternalError", message="inventory unreadable")
    line = report(report_wire).failed[0]
    assert (line.job_id, line.code, line.message) == ("b1", "InternalError", "inventory unreadable")


@pytest.mark.parametrize("state, age, stuck", [
    ("Running", timedelta(hours=6), False),
    ("Running", timedelta(hours=6, seconds=1), True),
    ("Submitted", timedelta(hours=6, seconds=1), True),
    ("Success", timedelta(hours=20), False),
    ("Pause", timedelta(hours=20), False),
])
def test_stuck_means_submitted_or_running_for_longer_than_report_stuck_after(report_wire, state, age, stuck):
    report_wire.add_job("b1", state=state, created=ci(END - age))
    summary = report(report_wire)
    assert summary.stuck_total == int(stuck)
    assert [line.job_id for line in summary.stuck] == (["b1"] if stuck else [])


def test_counts_are_by_type_group_and_state(report_wire):
    report_wire.add_job("b1", job_type="Job", state="Success", created=INSIDE)
    report_wire.add_job("b2", job_type="Job", state="Success", created=INSIDE)
    report_wire.add_job("b3", job_type="Workflow", state="Failed", created=INSIDE, workflow_ids="wabcdef0123")
    rows = {(r.type, r.group, r.state): r.count for r in report(report_wire).counts}
    assert rows == {("Job", "ImageInspect", "Success"): 2, ("Workflow", "wabcdef0123", "Failed"): 1}


@pytest.mark.parametrize("failed, total, fail_above, failing", [
    (1, 4, 0.2, True), (1, 4, 0.25, False), (0, 0, 0.0, False), (1, 1, None, False),
])
def test_failing_means_the_failed_share_is_strictly_above_the_threshold(failed, total, fail_above, failing):
    assert is_failing(failed, total, fail_above) is failing


def test_report_fail_above_marks_the_summary_failing(report_wire):
    report_wire.add_job("b1", state="Failed", created=INSIDE)
    report_wire.add_job("b2", state="Submitted", created=INSIDE)
    summary = report(report_wire, REPORT_FAIL_ABOVE="0.4")
    assert summary.failed_share == 0.5 and summary.failing and summary.problem


def test_a_clean_window_is_not_a_problem(report_wire):
    report_wire.add_job("b1", state="Success", created=INSIDE)
    summary = report(report_wire)
    assert not summary.problem and not summary.failing


# --- per-object results ----------------------------------------------------------------------------------

def test_image_inspect_results_list_the_flagged_objects_with_offsets_and_action(report_wire):
    report_wire.add_job("b1", created=INSIDE)
    report_wire.inspect_results["b1"] = [
        inspect_result_xml("b1", 0, "a/cat.png", suspicious=True, action=("Success", "BackupObject")),
        inspect_result_xml("b1", 1, "a/dog.png"),
        inspect_result_xml("b1", 2, "a/big.png", state="Failed"),
    ]
    summary = report(report_wire)
    assert (summary.objects.inspected, summary.objects.suspicious, summary.objects.acted) == (3, 1, 1)
    assert summary.objects.by_state == {"Failed": 1, "Success": 2}
    flagged, failed = summary.jobs_with_objects[0].objects
    assert (flagged.key, flagged.suspicious_type, flagged.begin_byte, flagged.end_byte, flagged.suspicious_size,
            flagged.action) == ("a/cat.png", "MPEG-TS", 120, 1097475, 1097356, "Success BackupObject")
    assert (failed.key, failed.state, failed.error) == ("a/big.png", "Failed", "Failed image too large")
    assert summary.problem


def test_the_per_object_call_filters_by_the_batch_job(report_wire):
    report_wire.add_job("b1", created=INSIDE)
    report(report_wire)
    (call,) = report_wire.calls("GET", "/jobs")
    query = call.request.url.split("?", 1)[1]
    for part in ("tag=ImageInspect", "inventoryTriggerJobId=b1", "size=100", "orderByTime=Asc", "states=All"):
        assert part in query


def test_a_report_carries_the_first_objects_of_a_job_and_exact_totals(report_wire):
    report_wire.add_job("b1", created=INSIDE)
    report_wire.inspect_results["b1"] = [inspect_result_xml("b1", i, f"k{i}.png", suspicious=True) for i in range(150)]
    summary = report(report_wire)
    job = summary.jobs_with_objects[0]
    assert len(job.objects) == MAX_OBJECTS_PER_JOB and job.truncated
    assert job.suspicious == 150 and summary.objects.suspicious == 150
    assert len(report_wire.calls("GET", "/jobs")) == 2


def test_submitted_jobs_cost_no_per_object_call(report_wire):
    report_wire.add_job("b1", state="Submitted", created=INSIDE)
    report(report_wire)
    assert report_wire.calls("GET", "/jobs") == []


def test_clean_jobs_are_counted_but_not_listed(report_wire):
    report_wire.add_job("b1", created=INSIDE)
    report_wire.inspect_results["b1"] = [inspect_result_xml("b1", 0, "ok.png")]
    summary = report(report_wire)
    assert summary.objects.inspected == 1 and summary.jobs_with_objects == []


def test_per_object_4xx_falls_back_to_batch_counts_once_and_says_so(report_wire):
    report_wire.media_error = (400, "InvalidArgument")
    for i in range(3):
        report_wire.add_job(f"b{i}", state="Failed", created=INSIDE)
    summary = report(report_wire)
    assert summary.total_jobs == 3 and summary.failed_total == 3
    assert summary.objects.jobs_without_results == 3
    assert len(report_wire.calls("GET", "/jobs")) == 1  # the refusal is not repeated for every job
    assert summary.notes[0].startswith("per-object ImageInspect results unavailable: ")
    assert "InvalidArgument" in summary.notes[0]


def test_workflow_jobs_count_their_executions_by_state_and_list_failed_objects(report_wire):
    report_wire.add_job("b1", job_type="Workflow", created=INSIDE, workflow_ids="wabcdef0123")
    report_wire.executions["b1"] = [execution_xml("r1", "wabcdef0123", "a.png", "Success"),
                                    execution_xml("r2", "wabcdef0123", "b.png", "Failed")]
    summary = report(report_wire)
    assert summary.objects.workflow_executions == {"Failed": 1, "Success": 1}
    (line,) = summary.jobs_with_objects[0].objects
    assert (line.key, line.state) == ("b.png", "Failed")
    (call,) = report_wire.calls("GET", "/workflowexecution")
    assert "jobId=b1" in call.request.url and "workflowId=wabcdef0123" in call.request.url


def one_job(report_wire, job_id):
    settings = load_settings(ENV)
    client = make_client(settings, sleep=lambda s: None)
    return client, next(j for j in client.iter_jobs("Job", States="All") if j.JobId == job_id)


def test_one_jobs_objects_read_alone_are_what_the_report_lists_for_it(report_wire):
    report_wire.add_job("b1", created=INSIDE)
    report_wire.inspect_results["b1"] = [inspect_result_xml("b1", 0, "a/cat.png", suspicious=True),
                                         inspect_result_xml("b1", 1, "a/big.png", state="Failed")]
    (listed,) = report(report_wire).jobs_with_objects
    read, notes = read_job_objects(*one_job(report_wire, "b1"))
    # The report adds each flag's review status (lib.report.review); a job read alone has none.
    assert [o.review for o in listed.objects] == ["pending", None]
    unreviewed = [o.model_copy(update={"review": None}) for o in listed.objects]
    assert read == listed.model_copy(update={"objects": unreviewed}) and notes == []


def test_a_clean_job_read_alone_still_gives_its_counts(report_wire):
    report_wire.add_job("b1", created=INSIDE)
    report_wire.inspect_results["b1"] = [inspect_result_xml("b1", 0, "ok.png")]
    read, _ = read_job_objects(*one_job(report_wire, "b1"))
    assert (read.kind, read.by_state, read.objects) == ("ImageInspect", {"Success": 1}, [])


def checkpointed_job(report_wire, job_id, end):
    """A timer job a run made for [end - 1h, end), created long before the report's window (not listed by it)."""
    name = f"autopilot-hourly-{compact(end - timedelta(hours=1))}-{compact(end)}"
    report_wire.add_job(job_id, name=name, created="2026-11-01T10:00:00+0800")
    interval = f"<TimeInterval><Start>{ci(end - timedelta(hours=1))}</Start><End>{ci(end)}</End></TimeInterval>"
    job = report_wire.jobs[-1]
    job["Operation"] = job["Operation"].replace("<Operation>", "<Operation>" + interval)
    return name


def test_api_calls_count_list_pages_per_object_pages_and_checkpoint_reads(report_wire):
    report_wire.add_job("b1", created=INSIDE)
    report_wire.inspect_results["b1"] = [inspect_result_xml("b1", i, f"k{i}.png") for i in range(101)]
    name = checkpointed_job(report_wire, "b0", END - timedelta(hours=1))
    report_wire.objects["autopilot/checkpoints/hourly.json"] = json.dumps(
        {"rule": "hourly", "end": "2026-11-28T15:00:00Z", "job_id": "b0", "job_name": name}).encode()
    summary = report(report_wire)
    # the cache listing, Job + Workflow lists, the queue lookup, 2 result pages, Job + Workflow stuck scans, the cache
    # write (b1 ended clean), list + read checkpoint, the GET of the job it names (issue 22's check), and the spend
    # section's listings: the ledger's two months, the held plans, the decisions of the window's two days
    assert len(report_wire.rsps.calls) == 1 + 2 + 1 + 2 + 2 + 1 + 1 + 1 + 1 + 2 + 1 + 2
    assert summary.api_calls == len(report_wire.rsps.calls)


def test_checkpoints_give_each_rules_next_window_start(report_wire):
    name = checkpointed_job(report_wire, "b9", END - timedelta(hours=1))
    report_wire.objects["autopilot/checkpoints/hourly.json"] = json.dumps(
        {"rule": "hourly", "end": "2026-11-28T15:00:00Z", "job_id": "b9", "job_name": name}).encode()
    report_wire.objects["autopilot/checkpoints/broken.json"] = b"{not json"
    summary = report(report_wire)
    (cp,) = summary.checkpoints
    assert (cp.rule, cp.next_window_start, cp.last_job_id) == ("hourly", END - timedelta(hours=1), "b9")
    assert summary.notes == ["checkpoint autopilot/checkpoints/broken.json is unreadable"]


# --- the function's time limit -----------------------------------------------------------------------------

def test_past_the_deadline_jobs_are_counted_without_per_object_results_and_the_report_says_so(report_wire):
    for i in range(3):
        report_wire.add_job(f"b{i}", created=INSIDE)
    settings = load_settings(ENV)
    ticks = iter([0.0, 10.0, 10.0])  # the first job starts before the deadline, the next two after it
    summary = build_report(settings, make_client(settings, sleep=lambda s: None), END, deadline=5.0,
                           monotonic=lambda: next(ticks))
    assert summary.total_jobs == 3
    assert len(report_wire.calls("GET", "/jobs")) == 1
    assert summary.objects.jobs_without_results == 2
    assert not summary.complete
    assert any("time limit" in note for note in summary.notes)


def test_a_report_with_every_result_read_is_complete(report_wire):
    report_wire.add_job("b1", created=INSIDE)
    assert report(report_wire).complete


def test_unavailable_per_object_results_make_the_report_incomplete(report_wire):
    report_wire.add_job("b1", created=INSIDE)
    report_wire.media_error = (400, "InvalidArgument")
    summary = report(report_wire)
    assert not summary.complete and summary.total_jobs == 1


# --- stuck jobs from before the window ------------------------------------------------------------------------

@pytest.mark.parametrize("state, stuck", [("Running", True), ("Submitted", True), ("Success", False)])
def test_a_job_created_before_the_window_and_still_running_is_reported_stuck(report_wire, state, stuck):
    report_wire.add_job("bOld", state=state, created=ci(END - timedelta(days=3)))
    summary = report(report_wire)
    assert summary.total_jobs == 0  # outside the window: not counted by state
    assert ([j.job_id for j in summary.stuck], summary.stuck_total) == ((["bOld"], 1) if stuck else ([], 0))
    assert summary.problem is stuck


def test_the_stuck_scan_asks_only_for_live_jobs_created_before_the_window(report_wire):
    report(report_wire)
    scans = report_wire.list_calls(states="Running,Submitted")
    assert sorted(parse_qs(urlparse(c.request.url).query)["type"][0] for c in scans) == ["Job", "Workflow"]
    for call in scans:
        query = parse_qs(urlparse(call.request.url).query)
        assert query["endCreationTime"] == ["2026-11-28T00:00:00+0800"] and "startCreationTime" not in query


def test_the_headline_names_objects_a_job_could_not_process(report_wire):
    from lib.report.models import headline

    report_wire.add_job("b1", created=INSIDE)
    report_wire.inspect_results["b1"] = [inspect_result_xml("b1", 0, "gone.png", state="Failed"),
                                         inspect_result_xml("b1", 1, "ok.png")]
    status, line = headline(report(report_wire))
    assert status == "PROBLEM" and "1 object failed" in line
