"""The report reads per-object results REPORT_CONCURRENCY jobs at a time (issue 16): over the emulator's HTTP, through
the official SDK, it says exactly what a one-at-a-time report says, asks the media queue once, keeps its window of
jobs bounded, opens no more connections than its pool, and counts a job whose reads fail without its results."""
from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from lib.client import CiClient, make_client
from lib.report import objects as report_objects
from lib.report.build import build_report, connections_needed
from lib.report.cache import cache_key
from tests.reliability.report_jobs import BUCKET, REPORT_END, PlannedJob, report_settings, seed

pytestmark = pytest.mark.emulator
CLEAN = (("Success", False),)
MIXED = [
    PlannedJob("Job", "Success", (("Success", True), ("Failed", False), ("Success", False))),
    PlannedJob("Workflow", "Success", (("Success", False), ("Failed", False))),
    PlannedJob("Job", "Submitted"),
    PlannedJob("Job", "Failed", (("Failed", False),)),
    PlannedJob("Job", "Success", tuple(("Success", i % 40 == 0) for i in range(130))),  # two pages
    PlannedJob("Workflow", "Running", CLEAN),
    *[PlannedJob("Job" if i % 2 else "Workflow", "Success", CLEAN) for i in range(30)],
]


ATTEMPTS = CiClient(None, "").read_attempts  # how many times the client tries one read


def forget_cache(emulator) -> None:
    emulator.backend.delete_object(BUCKET, cache_key("autopilot/"))


def run(emulator, concurrency: int, **env: str):
    settings = report_settings(emulator, REPORT_CONCURRENCY=str(concurrency), **env)
    client = make_client(settings, sleep=lambda _s: None, pool_size=connections_needed(settings))
    return build_report(settings, client, REPORT_END, lookback=timedelta(days=1))


def test_a_concurrent_report_says_exactly_what_a_sequential_one_says(emulator):
    seed(emulator, MIXED)
    one_at_a_time = run(emulator, 1)
    forget_cache(emulator)  # so the second report reads every job too
    eight_at_a_time = run(emulator, 8)
    assert eight_at_a_time == one_at_a_time
    assert one_at_a_time.total_jobs == len(MIXED) and one_at_a_time.complete
    assert one_at_a_time.objects.inspected == 3 + 1 + 130 + 15


def test_the_media_queue_is_looked_up_once_however_many_readers(emulator):
    seed(emulator, MIXED)
    run(emulator, 8)
    assert sum(1 for r in emulator.request_log.snapshot() if r.path == "/queue") == 1


def test_no_more_than_twice_the_concurrency_jobs_wait_to_be_merged(emulator, monkeypatch):
    seed(emulator, [PlannedJob("Job", "Success", CLEAN)] * 120)
    widest = []
    push = report_objects.PerObjectReads._push

    def recording_push(self, job, read):
        push(self, job, read)
        widest.append(len(self.window))

    monkeypatch.setattr(report_objects.PerObjectReads, "_push", recording_push)
    summary = run(emulator, 4)
    assert summary.objects.inspected == 120
    assert max(widest) <= 2 * 4


def test_concurrent_reads_open_at_most_one_connection_per_thread_and_never_overflow_the_pool(emulator, caplog):
    seed(emulator, [PlannedJob("Job", "Success", CLEAN)] * 60)
    emulator.latency = 0.01  # calls overlap, as on a network
    with caplog.at_level(logging.DEBUG, logger="urllib3.connectionpool"):
        run(emulator, 6)
    opened = [r for r in caplog.records if r.getMessage().startswith("Starting new HTTP connection")]
    assert 1 <= len(opened) <= 6 + 1  # six readers and the listing thread
    assert not [r for r in caplog.records if "Connection pool is full" in r.getMessage()]


def test_a_job_whose_reads_still_fail_after_retries_is_counted_without_results_and_named(emulator):
    seeded = seed(emulator, [PlannedJob("Job", "Success", CLEAN)] * 3)
    # one at a time, the first job's first page is the first /jobs request: it fails every attempt
    emulator.faults.add("GET", r"^/jobs$", "ci", action="status", status=503, count=ATTEMPTS)
    summary = run(emulator, 1)
    assert summary.total_jobs == 3 and summary.objects.jobs_without_results == 1
    assert summary.objects.inspected == 2 and not summary.complete
    (note,) = [n for n in summary.notes if "could not be read after retries" in n]
    assert seeded.ids[0] in note and seeded.ids[1] not in note and "503" in note
