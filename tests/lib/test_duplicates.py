"""Twin jobs: which live jobs share a name, which one is kept, and which younger ones the setting cancels."""
from __future__ import annotations

from typing import List

import pytest

from lib.client import JobDetail
from lib.errors import CloudApiError
from lib.report.duplicates import (
    DuplicateJobs,
    LiveNames,
    cancel_younger,
    describe,
    find_duplicates,
    settle_duplicates,
    should_cancel,
)


def job(job_id, name="autopilot-hourly-a-b", state="Running", created="2026-11-28T10:00:00+0800"):
    return JobDetail(JobId=job_id, Name=name, State=state, CreationTime=created)


class Canceller:
    """The one client call this module makes; `refuse` ids answer like a job that already ended."""

    def __init__(self, refuse=()):
        self.cancelled: List[str] = []
        self.refuse = set(refuse)

    def cancel_job(self, job_id):
        if job_id in self.refuse:
            raise CloudApiError("CancelInventoryTriggerJob", 400, "InvalidArgument", "job already finished")
        self.cancelled.append(job_id)


def test_the_oldest_of_two_live_jobs_with_one_name_is_kept():
    jobs = [job("b2", created="2026-11-28T10:00:05+0800"), job("b1", created="2026-11-28T10:00:00+0800")]
    assert find_duplicates(jobs) == [DuplicateJobs(name="autopilot-hourly-a-b", kept="b1", younger=("b2",))]


def test_equal_creation_times_keep_the_smaller_job_id():
    assert find_duplicates([job("b9"), job("b3")])[0].kept == "b3"


@pytest.mark.parametrize("other_state", ["Failed", "Cancel"])
def test_a_failed_or_cancelled_job_is_not_a_twin(other_state):
    assert find_duplicates([job("b1"), job("b2", state=other_state)]) == []


def test_the_same_job_listed_twice_is_not_a_twin():
    assert find_duplicates([job("b1"), job("b1")]) == []


@pytest.mark.parametrize("mode, name, cancels", [
    ("timer", "autopilot-hourly-a-b", True),
    ("timer", "autopilot-upload-0123", False),
    ("all", "autopilot-upload-0123", True),
    ("off", "autopilot-hourly-a-b", False),
])
def test_the_setting_decides_which_twins_are_cancelled(mode, name, cancels):
    assert should_cancel(mode, name, "autopilot-upload-") is cancels


def test_a_younger_twin_that_already_ended_or_refuses_is_left_and_named():
    twin = DuplicateJobs(name="n", kept="b1", younger=("b2", "b3", "b4"))
    client = Canceller(refuse={"b4"})
    done = cancel_younger(client, twin, {"b2": "Running", "b3": "Success", "b4": "Submitted"})
    assert (done.cancelled, done.left, client.cancelled) == (("b2",), ("b3", "b4"), ["b2"])
    assert "cancelled b2" in describe(done) and "not cancelled b3, b4" in describe(done)


def test_jobs_not_named_with_our_prefix_are_never_touched():
    client = Canceller()
    other = [job("x1", name="someone-else"), job("x2", name="someone-else")]
    assert settle_duplicates(client, other, "all", "autopilot") == [] and client.cancelled == []


@pytest.mark.parametrize("names", [
    ["a", "b", "c"],  # no twins
    ["a", "b", "a"],  # one pair, the first seen older
    ["a", "a", "a", "b", "b"],  # a triple and a pair
    ["x", "y", "z", "x"],  # the twin far from its first
])
def test_the_compact_live_names_find_exactly_the_twins_every_job_would(names):
    jobs = [job(f"b{i:031d}", name=f"autopilot-{n}", created=f"2026-11-28T10:00:{59 - i:02d}+0800")
            for i, n in enumerate(names)]
    live = LiveNames()
    for j in jobs:
        live.add(j)
    assert find_duplicates(live.twins()) == find_duplicates(jobs)
