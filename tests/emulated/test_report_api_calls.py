"""The report's "API calls" is every request its client sent: list pages, per-object pages, cache and checkpoint
reads, and also the cancels of duplicate jobs and the client's own retries. Over the emulator's HTTP, through the
official SDK, it equals the number of requests the emulator served (its request log), however many readers."""
from __future__ import annotations

from datetime import timedelta

import pytest

from lib.client import make_client
from lib.report.build import build_report, connections_needed
from tests.reliability.report_jobs import REPORT_END, PlannedJob, report_settings, seed

CLEAN = (("Success", False),)
# Two live timer jobs under one name (a create that landed after its retry's lookup), and jobs with results to read.
PLAN = [
    PlannedJob("Job", "Running", CLEAN),
    PlannedJob("Job", "Running", CLEAN),
    PlannedJob("Job", "Success", (("Success", True), ("Failed", False))),
    PlannedJob("Workflow", "Success", (("Success", False), ("Failed", False))),
    *[PlannedJob("Job" if i % 2 else "Workflow", "Success", CLEAN) for i in range(8)],
]
TWIN_NAME = "autopilot-hourly-20261102T010000Z-20261102T020000Z"


def seed_twins_and_faults(emulator):
    """The plan seeded, its first two jobs renamed into twins, and one transient 5xx on a list and a result read."""
    seeded = seed(emulator, PLAN)
    with emulator.backend.lock:
        for job_id in seeded.ids[:2]:
            emulator.backend.jobs[job_id].name = TWIN_NAME
    emulator.faults.add("GET", r"^/inventorytriggerjob$", "ci", action="status", status=503, count=1)
    emulator.faults.add("GET", r"^/jobs$", "ci", action="status", status=500, count=1)
    emulator.request_log.clear()
    return seeded.ids[1]


@pytest.mark.emulator
@pytest.mark.parametrize("concurrency", [1, 4])
def test_api_calls_equal_the_requests_served_including_cancels_and_retries(emulator, concurrency):
    younger = seed_twins_and_faults(emulator)
    settings = report_settings(emulator, REPORT_CONCURRENCY=str(concurrency), REPORT_CANCEL_DUPLICATES="timer")
    client = make_client(settings, sleep=lambda _s: None, pool_size=connections_needed(settings))

    summary = build_report(settings, client, REPORT_END, lookback=timedelta(days=1))

    served = emulator.request_log.snapshot()
    assert any(f"cancelled {younger}" in note for note in summary.notes)
    assert sorted(r.status for r in served if r.fault) == [500, 503]  # each failed once, then was retried
    assert summary.complete and summary.api_calls == len(served)
