"""The benchmark machinery on tiny inputs: what it counts, seeds and writes. Behaviour only, never timings."""
from __future__ import annotations

import math
from datetime import timedelta

import pytest

from bench import calls, functions, render, seed
from bench.common import BUCKET, CHILD_REPORT, run_child

pytestmark = pytest.mark.emulator


@pytest.fixture
def emu(emulator):
    emulator.backend.create_bucket(BUCKET)
    return emulator


def sdk_client(emu):
    return seed.client(emu.url, emu.secret_id, emu.secret_key)


def test_the_counter_counts_each_request_by_operation(emu):
    client = sdk_client(emu)
    emu.request_log.clear()
    client.put_object("a/x.json", b"{}")
    client.get_object("a/x.json")
    client.get_object("a/missing.json")
    client.list_keys("a/")
    client.list_jobs_page("Job")
    client.list_jobs_page("Workflow")

    counted = calls.count(emu.request_log.snapshot())

    assert counted == {"put object": 1, "get object": 2, "list objects": 1,
                       "list batch jobs Type=Job": 1, "list batch jobs Type=Workflow": 1}
    assert calls.total(counted) == 6


def test_control_requests_are_not_api_calls():
    records = [{"service": "control", "method": "POST", "path": "/_emulator/run-pending", "query": {}},
               {"service": "ci", "method": "POST", "path": "/inventorytriggerjob", "query": {}},
               {"service": "ci", "method": "GET", "path": "/jobs", "query": {"inventoryTriggerJobId": "b1"}}]
    assert calls.count(records) == {"create batch job": 1, "list per-object jobs (GET /jobs)": 1}


def test_seeded_jobs_are_listed_with_their_type_name_and_state(emu):
    ids = seed.seed_jobs(emu, "Workflow", 3, state="Failed")
    jobs = list(sdk_client(emu).iter_jobs("Workflow", States="All"))
    assert sorted(j.JobId for j in jobs) == sorted(ids)
    assert {j.State for j in jobs} == {"Failed"}
    assert all(j.Name.startswith("autopilot-bench-workflow-") and j.workflow_ids == (seed.WORKFLOW_ID,)
               for j in jobs)


@pytest.mark.parametrize("per_type", [0, 1, 100, 101, 250])
def test_the_report_over_n_jobs_makes_ceil_n_over_100_list_calls_per_type(emu, per_type):
    from lib.report.build import build_report

    for job_type in ("Job", "Workflow"):
        seed.seed_jobs(emu, job_type, per_type, state="Submitted",  # Submitted: no per-object calls, quicker
                       created=lambda i: functions.JOBS_FROM + timedelta(seconds=i))
    emu.request_log.clear()
    settings = seed.settings(emu.url, emu.secret_id, emu.secret_key, report_lookback=timedelta(days=1))

    summary = build_report(settings, sdk_client(emu), functions.REPORT_TICK)

    counted = calls.count(emu.request_log.snapshot())
    assert summary.total_jobs == 2 * per_type
    expected = max(1, math.ceil(per_type / 100))
    assert calls.list_calls(counted, "Job") == expected
    assert calls.list_calls(counted, "Workflow") == expected
    assert calls.per_object_calls(counted) == 0


def test_a_finished_job_costs_one_per_object_call(emu):
    from lib.report.build import build_report

    seed.seed_jobs(emu, "Job", 2, created=lambda i: functions.JOBS_FROM)
    emu.request_log.clear()
    settings = seed.settings(emu.url, emu.secret_id, emu.secret_key, report_lookback=timedelta(days=1))
    build_report(settings, sdk_client(emu), functions.REPORT_TICK)
    assert calls.count(emu.request_log.snapshot())["list per-object jobs (GET /jobs)"] == 2


def test_the_upload_event_names_exactly_the_keys_in_the_bench_bucket(env):
    from lib.config import load_settings
    from lib.events import parse_event
    from lib.submit.uploads import select_uploads

    keys = ["uploads/a.jpg", "uploads/b c.png", "uploads/猫.gif"]
    settings = load_settings({"COS_BUCKET": BUCKET, "COS_REGION": "ap-guangzhou"})
    chosen, skipped = select_uploads(settings, parse_event(functions.upload_event(keys)))
    assert [o.key for o in chosen] == keys and skipped == []


def test_a_child_reports_its_own_peak_memory_not_its_parents():
    ballast = bytearray(96 * 1024 * 1024)
    for i in range(0, len(ballast), 4096):
        ballast[i] = 1
    _, rep = run_child(CHILD_REPORT + "_report(ok=True)", {"PATH": "/usr/bin:/bin"})
    assert rep["ok"] is True
    assert rep["maxrss_kb"] < 64 * 1024
    del ballast


def test_the_images_seeded_for_throughput_are_ones_the_detector_accepts(emu):
    from detector import inspect_bytes

    seed.seed_images(emu.backend, 10)
    for key in emu.backend.list_keys(BUCKET, prefix="images/"):
        result = inspect_bytes(emu.backend.get_object(BUCKET, key).data)
        assert not result["suspicious"], key


def test_the_document_keeps_the_detector_section_and_says_what_was_not_measured(tmp_path):
    existing = "old intro\n\n<!-- detector:start -->\nDETECTOR TEXT\n<!-- detector:end -->\n"
    path = tmp_path / "benchmarks.md"
    path.write_text(existing)
    results = {"machine": {"cpu": "cpu", "cores": "2", "python": "3.x", "os": "os", "sdk": "sdk", "date": "now"},
               "sizes": {"import_runs": 1}, "report": {"skipped": "handlers/report.py does not exist yet"}}

    render.write(path, results)

    text = path.read_text()
    assert "<!-- detector:start -->\nDETECTOR TEXT\n<!-- detector:end -->" in text
    assert "old intro" not in text
    assert "not measured yet: handlers/report.py does not exist yet" in text
    assert text.count("<!-- detector:start -->") == 1
