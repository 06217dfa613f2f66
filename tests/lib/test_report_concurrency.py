"""The report reads per-object results REPORT_CONCURRENCY jobs at a time (issue 16): over the emulator's HTTP, through
the official SDK, it says exactly what a one-at-a-time report says, asks the media queue once, keeps its window of
jobs bounded, opens no more connections than its pool, and counts a job whose reads fail without its results."""
from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from lib.client import CiClient, make_client, sized_session
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


@pytest.fixture
def bucket(emulator):
    return emulator


def run(emulator, concurrency: int, **env: str):
    settings = report_settings(emulator, REPORT_CONCURRENCY=str(concurrency), **env)
    client = make_client(settings, sleep=lambda _s: None, pool_size=connections_needed(settings))
    return build_report(settings, client, REPORT_END, lookback=timedelta(days=1))


def test_a_concurrent_report_says_exactly_what_a_sequential_one_says(bucket):
    seed(bucket, MIXED)
    one_at_a_time = run(bucket, 1)
    forget_cache(bucket)  # so the second report reads every job too
    eight_at_a_time = run(bucket, 8)
    assert eight_at_a_time == one_at_a_time
    assert one_at_a_time.total_jobs == len(MIXED) and one_at_a_time.complete
    assert one_at_a_time.objects.inspected == 3 + 1 + 130 + 15


def test_the_media_queue_is_looked_up_once_however_many_readers(bucket):
    seed(bucket, MIXED)
    run(bucket, 8)
    assert sum(1 for r in bucket.request_log.snapshot() if r.path == "/queue") == 1


def test_no_more_than_twice_the_concurrency_jobs_wait_to_be_merged(bucket, monkeypatch):
    seed(bucket, [PlannedJob("Job", "Success", CLEAN)] * 120)
    widest = []
    push = report_objects.PerObjectReads._push

    def recording_push(self, job, read):
        push(self, job, read)
        widest.append(len(self.window))

    monkeypatch.setattr(report_objects.PerObjectReads, "_push", recording_push)
    summary = run(bucket, 4)
    assert summary.objects.inspected == 120
    assert max(widest) <= 2 * 4


def test_concurrent_reads_open_at_most_one_connection_per_thread_and_never_overflow_the_pool(bucket, caplog):
    seed(bucket, [PlannedJob("Job", "Success", CLEAN)] * 60)
    bucket.latency = 0.01  # calls overlap, as on a network
    with caplog.at_level(logging.DEBUG, logger="urllib3.connectionpool"):
        run(bucket, 6)
    opened = [r for r in caplog.records if r.getMessage().startswith("Starting new HTTP connection")]
    assert 1 <= len(opened) <= 6 + 1  # six readers and the listing thread
    assert not [r for r in caplog.records if "Connection pool is full" in r.getMessage()]


def test_a_job_whose_reads_still_fail_after_retries_is_counted_without_results_and_named(bucket):
    seeded = seed(bucket, [PlannedJob("Job", "Success", CLEAN)] * 3)
    # one at a time, the first job's first page is the first /jobs request: it fails every attempt
    bucket.faults.add("GET", r"^/jobs$", "ci", action="status", status=503, count=ATTEMPTS)
    summary = run(bucket, 1)
    assert summary.total_jobs == 3 and summary.objects.jobs_without_results == 1
    assert summary.objects.inspected == 2 and not summary.complete
    (note,) = [n for n in summary.notes if "could not be read after retries" in n]
    assert seeded.ids[0] in note and seeded.ids[1] not in note and "503" in note


@pytest.mark.parametrize(("environ", "trusted"), [({}, False), ({"HTTPS_PROXY": "http://proxy.example:3128"}, True)])
def test_the_sized_session_skips_the_proxy_scan_only_when_no_proxy_is_configured(monkeypatch, environ, trusted):
    # requests rescans the environment for proxies on every call when trust_env is on (most of the report's
    # per-call overhead beyond signing); an operator's HTTPS_PROXY must still reach the CLI's report.
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert sized_session(4).trust_env is trusted
