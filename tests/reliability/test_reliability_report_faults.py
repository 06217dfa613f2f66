"""Faults on the report path (item 3): 500/503, slow responses beyond the timeout and connection resets at each of
its calls → the report either completes or fails loudly, never counts a job twice, and says when it is incomplete
(a report marked complete has every per-object result)."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest

from lib.errors import AppError
from lib.events import CosEvent, TimerEvent
from lib.report.build import build_report
from lib.submit.run import Deps
from lib.submit.timer import submit_timer
from lib.submit.uploads import submit_upload
from tests.reliability.support import at, hours
from tests.support.emulator import emulator_settings, fast_client
from tests.support.events import cos_event, timer_event
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator
NOW = at(3)
TARGETS = {
    "list jobs": ("GET", r"^/inventorytriggerjob$", "ci"),
    "per-object results": ("GET", r"^/jobs$", "ci"),
    "checkpoint list": ("GET", r"^/$", "cos"),
    "checkpoint read": ("GET", r"/checkpoints/", "cos"),
}
ACTIONS = [("status", 500, 1), ("status", 503, 3), ("reset", 500, 1), ("reset", 500, 3), ("slow", 500, 1),
           ("drop_response", 500, 1)]


@pytest.fixture
def month_of_jobs(emulator):
    """Six timer jobs and two upload jobs over real objects, run to completion; returns (settings, jobs, objects)."""
    emulator.backend.set_clock(lambda: NOW)
    emulator.backend.create_bucket(BUCKET)
    settings = emulator_settings(emulator, API_TIMEOUT="0.3")
    client = fast_client(settings)
    for k in range(6):
        tick = at(2) + hours(4 * (k + 1))
        emulator.backend.put_object(BUCKET, f"uploads/t{k}.png", b"\x89PNG\r\n\x1a\n", last_modified=tick - hours(1))
        submit_timer(settings, TimerEvent.model_validate(timer_event(tick)),
                     Deps(client=client, clock=lambda t=tick: t, sleep=lambda _s: None, owner=f"t{k}"))
    for keys in (["uploads/u0.png"], ["uploads/u1.png", "uploads/u2.png"]):
        for key in keys:
            emulator.backend.put_object(BUCKET, key, b"\x89PNG\r\n\x1a\n", last_modified=NOW - hours(1))
        submit_upload(settings, CosEvent.model_validate(cos_event(keys)),
                      Deps(client=client, clock=lambda: NOW, sleep=lambda _s: None))
    emulator.backend.run_pending()
    with emulator.backend.lock:
        jobs = len(emulator.backend.jobs)
        objects = sum(len(v) for v in emulator.backend.inspect_jobs_by_batch.values())
    return settings, jobs, objects


def test_the_report_without_faults_counts_every_job_and_object_once(month_of_jobs):
    settings, jobs, objects = month_of_jobs
    summary = build_report(settings, fast_client(settings), NOW + timedelta(minutes=1), lookback=timedelta(days=2))
    assert summary.total_jobs == jobs == 8 and summary.objects.inspected == objects and summary.complete


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize(("action", "status", "count"), ACTIONS)
def test_a_fault_in_the_report_path_never_doubles_a_job_and_is_never_silently_incomplete(
        emulator, month_of_jobs, target, action, status, count):
    settings, jobs, objects = month_of_jobs
    method, path, service = TARGETS[target]
    emulator.faults.add(method, path, service, action=action, status=status, count=count, delay=0.5)
    try:
        summary = build_report(settings, fast_client(settings), NOW + timedelta(minutes=1),
                               lookback=timedelta(days=2))
    except AppError:
        return  # failed loudly: SCF records the error and retries
    finally:
        time.sleep(0.6 if action == "slow" else 0)
    assert summary.total_jobs == jobs, "a job was counted twice or lost"
    assert sum(row.count for row in summary.counts) == jobs
    if summary.complete:
        assert summary.objects.inspected == objects, "a report marked complete is missing per-object results"
    else:
        assert summary.notes, "an incomplete report must say why"
