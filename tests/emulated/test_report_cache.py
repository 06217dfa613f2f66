"""Calls that need not be made (issue 16): a finished job whose per-object results were all finished and clean when
one report read them is not read again by the next report over an overlapping window; its counters come from
one cache object under STATE_PREFIX. Everything else is read again, and a cache that cannot be used is a note.

Nothing published says a batch job has zero per-object results (the Go SDK's InventoryTriggerJobDetail has a
Progress string, tencentyun/cos-go-sdk-v5 ci_media.go @cc9846d line 3558, whose meaning no API page we found
states; read 2026-12-02), so a job with none is never cached and always asked."""
from __future__ import annotations

from datetime import timedelta

import pytest

from lib.client import make_client
from lib.report.build import build_report
from lib.report.cache import NewResults, cache_key
from tests.reliability.report_jobs import BUCKET, REPORT_END, PlannedJob, report_settings, seed

pytestmark = pytest.mark.emulator
KEY = cache_key("autopilot/")
CLEAN = (("Success", False), ("Success", False))
FLAGGED = (("Success", True),)


def report(emulator, end=REPORT_END):
    settings = report_settings(emulator)
    return build_report(settings, make_client(settings, sleep=lambda _s: None), end, lookback=timedelta(days=1))


def per_object_calls(emulator) -> int:
    return sum(1 for r in emulator.request_log.snapshot() if r.path in ("/jobs", "/workflowexecution"))


def test_a_second_report_over_the_same_window_reads_no_finished_clean_job_again(emulator):
    seed(emulator, [PlannedJob("Job", "Success", CLEAN), PlannedJob("Workflow", "Cancel", CLEAN)] * 5)
    first = report(emulator)
    emulator.request_log.clear()
    second = report(emulator)
    assert per_object_calls(emulator) == 0
    assert second.objects.cached_jobs == 10 and first.objects.cached_jobs == 0
    assert second.objects.model_dump(exclude={"cached_jobs"}) == first.objects.model_dump(exclude={"cached_jobs"})
    assert second.complete and second.api_calls < first.api_calls


@pytest.mark.parametrize(("planned", "why"), [
    (PlannedJob("Job", "Success", FLAGGED), "a suspicious object is listed, so the job is read again"),
    (PlannedJob("Job", "Success", (("Success", False), ("Failed", False))), "a failed object is listed"),
    (PlannedJob("Job", "Running", CLEAN), "the job has not ended"),
    (PlannedJob("Workflow", "Success", (("Running", False),)), "an execution has not ended"),
    (PlannedJob("Job", "Success", ()), "no results yet: nothing published says none is final"),
])
def test_a_job_whose_results_could_still_matter_or_change_is_read_every_time(emulator, planned, why):
    seed(emulator, [planned])
    report(emulator)
    emulator.request_log.clear()
    again = report(emulator)
    assert per_object_calls(emulator) >= 1, why
    assert again.objects.cached_jobs == 0


def test_a_cached_entry_is_not_used_once_the_jobs_end_time_differs(emulator):
    (job_id,) = seed(emulator, [PlannedJob("Job", "Success", CLEAN)]).ids
    report(emulator)
    with emulator.backend.lock:
        emulator.backend.jobs[job_id].end_time += timedelta(seconds=5)
    emulator.request_log.clear()
    assert report(emulator).objects.cached_jobs == 0 and per_object_calls(emulator) == 1


def test_the_cache_keeps_only_the_jobs_of_the_latest_window(emulator):
    ids = seed(emulator, [PlannedJob("Job", "Success", CLEAN)] * 3).ids
    report(emulator)
    report(emulator, end=REPORT_END + timedelta(days=2))  # a window with none of them
    raw = emulator.backend.get_object(BUCKET, KEY).data
    assert not any(job_id.encode() in raw for job_id in ids)


@pytest.mark.parametrize(("content", "said"), [
    (b"{not json", "it is not a per-object results cache"),
    (NewResults("otherbucket-1250000000").dump(), "it was written for bucket 'otherbucket-1250000000'"),
    (b'{"format": 99, "bucket": "x", "jobs": {}}', "its format is 99"),
])
def test_an_unusable_cache_is_a_note_and_every_job_is_read(emulator, content, said):
    seed(emulator, [PlannedJob("Job", "Success", CLEAN)] * 2)
    emulator.backend.put_object(BUCKET, KEY, content)
    summary = report(emulator)
    assert per_object_calls(emulator) == 2 and summary.objects.inspected == 4 and summary.complete
    (note,) = [n for n in summary.notes if KEY in n]
    assert said in note


def test_a_cache_that_cannot_be_written_is_a_note_not_a_failed_report(emulator):
    seed(emulator, [PlannedJob("Job", "Success", CLEAN)])
    emulator.faults.add("PUT", "report-cache", "cos", action="status", status=403)
    summary = report(emulator)
    assert summary.objects.inspected == 2 and summary.complete
    assert any("could not be written" in n for n in summary.notes)
