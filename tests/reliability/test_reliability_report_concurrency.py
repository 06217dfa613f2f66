"""The report's concurrent per-object reads under faults (issue 16): 500/503 beyond the client's retries, resets,
dropped responses and slow answers past API_TIMEOUT, injected at each per-object call in turn and at random, with
1-8 readers. Every job is counted exactly once; a job is either read whole or counted "without results" (never
half its pages); the per-object totals are the sum over the jobs read; jobs read + jobs without results = the jobs
eligible; and a report that lost a job's results says so and is not complete."""
from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta
from typing import Callable, List, Optional, Tuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lib.client import CiClient, make_client
from lib.report.build import build_report, connections_needed
from lib.report.models import ReportSummary
from tests.reliability.report_jobs import REPORT_END, PlannedJob, Seeded, report_settings, seed
from tests.reliability.support import examples

pytestmark = pytest.mark.emulator
ATTEMPTS = CiClient(None, "").read_attempts
PATHS = {"Job": r"^/jobs$", "Workflow": r"^/workflowexecution$"}
CLEAN = (("Success", False),)
FIXED = [
    PlannedJob("Job", "Success", (("Success", True), ("Failed", False))),
    PlannedJob("Workflow", "Failed", (("Failed", False),)),
    PlannedJob("Job", "Success", tuple(("Success", i % 50 == 0) for i in range(130))),  # two pages
    PlannedJob("Job", "Submitted"),
    PlannedJob("Workflow", "Success", CLEAN * 3),
]
FIXED_CALLS = 5  # per-object reads of FIXED: one page each, two for the 130-object job, none for Submitted
# (action, count): beyond the retries, or recovered by them
FAULTS = [("status", ATTEMPTS), ("reset", ATTEMPTS), ("drop_response", ATTEMPTS), ("status", 1), ("reset", 1)]


class FaultAtCall:
    """Arms an emulator fault just before the k-th per-object read (page) the report makes, whichever thread."""

    def __init__(self, emulator, client: CiClient, k: int, action: str, status: int, count: int) -> None:
        self.emulator, self.k, self.fault = emulator, k, dict(action=action, status=status, count=count, delay=0.5)
        self.lock = threading.Lock()
        self.calls = 0
        self.hit_job: Optional[str] = None
        media, executions = client.list_media_jobs_page, client.list_workflow_executions_page
        client.list_media_jobs_page = self._wrap(media, "Job", lambda args: args[0])
        client.list_workflow_executions_page = self._wrap(executions, "Workflow", lambda args: args[1])

    def _wrap(self, page: Callable, job_type: str, job_of: Callable[[Tuple], str]) -> Callable:
        def call(*args, **kwargs):
            with self.lock:
                if self.calls == self.k:
                    self.hit_job = job_of(args)
                    self.emulator.faults.add("GET", PATHS[job_type], "ci", **self.fault)
                self.calls += 1
            return page(*args, **kwargs)

        return call


def run(emulator, concurrency: int, k: int, action: str, status: int, count: int) -> Tuple[ReportSummary, FaultAtCall]:
    settings = report_settings(emulator, REPORT_CONCURRENCY=str(concurrency), API_TIMEOUT="0.3")
    client = make_client(settings, sleep=lambda _s: None, pool_size=connections_needed(settings))
    armed = FaultAtCall(emulator, client, k, action, status, count)
    try:
        return build_report(settings, client, REPORT_END, lookback=timedelta(days=1)), armed
    finally:
        if action == "slow":
            time.sleep(0.6)  # let the stalled server thread finish before the next case resets the emulator


def unread_jobs(summary: ReportSummary, seeded: Seeded) -> List[str]:
    notes = " ".join(n for n in summary.notes if "could not be read after retries" in n)
    return [job_id for job_id, _ in seeded.read_jobs() if job_id in notes]


def assert_every_job_once_and_whole(summary: ReportSummary, seeded: Seeded) -> List[str]:
    """The invariants of the issue; returns the jobs counted without results."""
    assert summary.total_jobs == len(seeded.plan), "a job was lost or counted twice"
    assert sum(row.count for row in summary.counts) == len(seeded.plan)
    unread = unread_jobs(summary, seeded)
    assert summary.objects.jobs_without_results == len(unread), "every job without results is named"
    read = [p for job_id, p in seeded.read_jobs() if job_id not in unread]
    inspected = Counter(state for p in read if p.job_type == "Job" for state, _ in p.objects)
    executions = Counter(state for p in read if p.job_type == "Workflow" for state, _ in p.objects)
    assert summary.objects.by_state == dict(inspected), "per-object totals are the sum over the jobs read"
    assert summary.objects.inspected == sum(inspected.values())
    assert summary.objects.workflow_executions == dict(executions)
    assert summary.objects.suspicious == sum(s for p in read if p.job_type == "Job" for _, s in p.objects)
    assert summary.complete == (not unread), "a report that lost results says it is incomplete"
    return unread


@pytest.mark.parametrize("concurrency", [1, 4])
@pytest.mark.parametrize(("action", "count"), FAULTS)
@pytest.mark.parametrize("k", range(FIXED_CALLS))
def test_a_fault_at_each_per_object_call_in_turn_loses_no_job_and_merges_no_partial_job(
        emulator, k, action, count, concurrency):
    seeded = seed(emulator, FIXED)
    summary, armed = run(emulator, concurrency, k, action, 500, count)
    unread = assert_every_job_once_and_whole(summary, seeded)
    if concurrency == 1:  # one reader: the faulted call's job is exactly the one lost, and only beyond the retries
        assert unread == ([armed.hit_job] if count >= ATTEMPTS else [])


OBJECTS = st.one_of(
    # a Failed object was never inspected, so only a Success one can be suspicious
    st.lists(st.sampled_from([("Success", False), ("Success", True), ("Failed", False)]), max_size=4).map(tuple),
    st.integers(101, 103).map(lambda n: CLEAN * n),  # two pages
)
JOBS = st.builds(PlannedJob, st.sampled_from(["Job", "Workflow"]),
                 st.sampled_from(["Success", "Failed", "Cancel", "Running", "Submitted"]), OBJECTS)


@examples(default=25, soak=400)
@given(plan=st.lists(JOBS, min_size=1, max_size=10), concurrency=st.integers(1, 8), k=st.integers(0, 14),
       action=st.sampled_from(["status", "reset", "drop_response", "slow"]), status=st.sampled_from([500, 503]),
       count=st.integers(1, 2 * ATTEMPTS + 1))
def test_random_jobs_faults_and_readers_count_every_job_once_and_whole(emulator, plan, concurrency, k, action,
                                                                      status, count):
    emulator.reset()
    seeded = seed(emulator, plan)
    summary, _ = run(emulator, concurrency, k, action, status, min(count, 2) if action == "slow" else count)
    assert_every_job_once_and_whole(summary, seeded)
