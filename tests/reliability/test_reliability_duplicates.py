"""No duplicate jobs: redeliveries, SCF retries after a kill, and creates whose answer was lost (issue 6, item 2).

Each test drives the real SDK over HTTP against the emulator and counts the jobs the service holds."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from handlers.submit import main_handler
from lib.errors import CloudUnavailableError, LeaseHeldError
from lib.events import CosEvent
from lib.submit.run import Deps
from lib.submit.uploads import submit_upload
from tests.reliability.support import (
    Killed,
    ScriptedClient,
    all_jobs,
    at,
    duplicated_names,
    hours,
    run_timer,
    start_paused,
)
from tests.support.emulator import emulator_settings, fast_client
from tests.support.events import cos_event, timer_event

pytestmark = pytest.mark.emulator
TICK = at(2, 0)
UPLOADS = ["uploads/a.png", "uploads/b.png"]


def run_upload(settings, keys, client, *, clock, owner="run", time_limit=None):
    event = CosEvent.model_validate(cos_event(keys))
    return submit_upload(settings, event, Deps(client=client, clock=lambda: clock, sleep=lambda _s: None,
                                               owner=owner, time_limit=time_limit))


def test_the_same_timer_event_twice_creates_one_job(emu_env):
    first = main_handler(timer_event(TICK), {"request_id": "r1"})
    second = main_handler(timer_event(TICK), {"request_id": "r2"})
    assert len(all_jobs(emu_env)) == 1
    assert first["jobs"][0]["created"] is True and second["jobs"] == []


def test_the_same_multi_object_cos_event_twice_creates_one_job(emu_env):
    first = main_handler(cos_event(UPLOADS), {"request_id": "r1"})
    second = main_handler(cos_event(UPLOADS), {"request_id": "r2"})
    assert len(all_jobs(emu_env)) == 1
    assert second["jobs"][0]["job_id"] == first["jobs"][0]["job_id"] and second["jobs"][0]["created"] is False


@pytest.mark.parametrize("make_event", [lambda: timer_event(TICK), lambda: cos_event(UPLOADS)], ids=["timer", "cos"])
def test_the_same_event_delivered_twice_at_once_creates_one_job(emu_env, make_event, rounds=12):
    for i in range(rounds):
        emu_env.reset()
        emu_env.backend.create_bucket("examplebucket-1250000000")
        outcomes = run_concurrently(lambda n, i=i: main_handler(make_event(), {"request_id": f"r{i}-{n}"}))
        assert len(all_jobs(emu_env)) == 1, outcomes
        assert all(isinstance(o, (dict, LeaseHeldError)) for o in outcomes), outcomes


def run_concurrently(fn, n=2):
    barrier = threading.Barrier(n)
    outcomes = [None] * n

    def worker(k):
        barrier.wait()
        try:
            outcomes[k] = fn(k)
        except Exception as exc:  # noqa: BLE001 - collected and asserted on by the caller
            outcomes[k] = exc

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return outcomes


def test_scf_retries_after_a_timer_run_killed_right_after_create_never_create_again(emulator):
    settings = emulator_settings(emulator)
    emulator.backend.create_bucket("examplebucket-1250000000")
    with pytest.raises(Killed):
        run_timer(settings, TICK, ScriptedClient(fast_client(settings), kill_after=("create_job", 1)))
    for retry in (1, 2):  # SCF retries twice, a minute apart: the dead run's lease is still live
        with pytest.raises(LeaseHeldError):
            run_timer(settings, TICK, fast_client(settings), clock=TICK + timedelta(minutes=retry), owner="retry")
    later = run_timer(settings, TICK + hours(1), fast_client(settings), owner="next")  # lease expired by then
    assert later.jobs[0].created is False and later.jobs[0].window_end == "2026-11-02T08:00:00+0800"
    assert len(all_jobs(emulator)) == 1


def test_an_upload_run_killed_right_after_create_is_found_by_the_retry_not_recreated(emulator):
    settings = emulator_settings(emulator, LEASE_SECONDS="300")
    emulator.backend.create_bucket("examplebucket-1250000000")
    start = at(2, 0)
    with pytest.raises(Killed):
        run_upload(settings, UPLOADS, ScriptedClient(fast_client(settings), kill_after=("create_job", 1)), clock=start)
    retry = run_upload(settings, UPLOADS, fast_client(settings), clock=start + timedelta(seconds=360), owner="retry")
    assert retry.jobs[0].created is False and len(all_jobs(emulator)) == 1


def test_with_default_settings_a_killed_upload_run_is_completed_by_scfs_first_retry(emulator):
    settings = emulator_settings(emulator)  # no LEASE_SECONDS: the claim follows the function's 300 s limit
    emulator.backend.create_bucket("examplebucket-1250000000")
    start = at(2, 0)
    with pytest.raises(Killed):
        run_upload(settings, UPLOADS, ScriptedClient(fast_client(settings), kill_after=("put_object", 2)),
                   clock=start, time_limit=300)
    # SCF kills the run at 300 s and retries a minute after that.
    retry = run_upload(settings, UPLOADS, fast_client(settings), clock=start + timedelta(seconds=360),
                       owner="retry", time_limit=300)
    assert retry.jobs[0].created is True and len(all_jobs(emulator)) == 1


def test_an_upload_run_killed_before_create_is_completed_by_the_scf_retry(emulator):
    settings = emulator_settings(emulator, LEASE_SECONDS="300")  # = the function timeout in serverless.yml
    emulator.backend.create_bucket("examplebucket-1250000000")
    start = at(2, 0)
    with pytest.raises(Killed):
        run_upload(settings, UPLOADS, ScriptedClient(fast_client(settings), kill_after=("put_object", 2)), clock=start)
    assert all_jobs(emulator) == []
    retry = run_upload(settings, UPLOADS, fast_client(settings), clock=start + timedelta(seconds=360), owner="retry")
    assert retry.jobs[0].created is True and len(all_jobs(emulator)) == 1


def test_a_create_carried_out_whose_response_was_dropped_is_found_not_recreated(emulator):
    settings = emulator_settings(emulator)
    emulator.backend.create_bucket("examplebucket-1250000000")
    emulator.faults.add("POST", r"^/inventorytriggerjob$", "ci", action="drop_response")
    result = run_timer(settings, TICK, fast_client(settings))
    assert result.jobs[0].created is False and len(all_jobs(emulator)) == 1


def test_a_create_that_timed_out_but_lands_later_is_not_sent_again_in_the_same_run(emulator):
    settings = emulator_settings(emulator, API_TIMEOUT="0.3")
    emulator.backend.create_bucket("examplebucket-1250000000")
    emulator.faults.add("POST", r"^/inventorytriggerjob$", "ci", action="slow", delay=0.6)
    try:
        run_timer(settings, TICK, fast_client(settings))
    except CloudUnavailableError:
        pass  # the run fails loudly: it cannot know yet whether the create will land
    time.sleep(0.8)  # the slow create lands; SCF's retry comes a minute later
    assert len(all_jobs(emulator)) == 1


def test_a_run_whose_create_timed_out_fails_loudly_and_its_retry_finds_the_job(emulator):
    settings = emulator_settings(emulator, API_TIMEOUT="0.3")
    emulator.backend.create_bucket("examplebucket-1250000000")
    emulator.faults.add("POST", r"^/inventorytriggerjob$", "ci", action="slow", delay=0.6)
    with pytest.raises(CloudUnavailableError, match="CreateInventoryTriggerJob"):
        run_timer(settings, TICK, fast_client(settings))
    time.sleep(0.8)
    retry = run_timer(settings, TICK, fast_client(settings), clock=TICK + timedelta(minutes=1), owner="retry")
    assert retry.jobs[0].created is False and len(all_jobs(emulator)) == 1


def test_a_create_reset_before_it_was_carried_out_is_created_by_the_scf_retry(emulator):
    settings = emulator_settings(emulator)
    emulator.backend.create_bucket("examplebucket-1250000000")
    emulator.faults.add("POST", r"^/inventorytriggerjob$", "ci", action="reset")
    with pytest.raises(CloudUnavailableError):
        run_timer(settings, TICK, fast_client(settings))
    retry = run_timer(settings, TICK, fast_client(settings), clock=TICK + timedelta(minutes=1), owner="retry")
    assert retry.jobs[0].created is True and len(all_jobs(emulator)) == 1


@pytest.mark.parametrize("status", [500, 503])
def test_a_5xx_on_create_is_retried_in_the_run_and_creates_one_job(emulator, status):
    settings = emulator_settings(emulator)
    emulator.backend.create_bucket("examplebucket-1250000000")
    emulator.faults.add("POST", r"^/inventorytriggerjob$", "ci", action="status", status=status)
    result = run_timer(settings, TICK, fast_client(settings))
    assert result.jobs[0].created is True and len(all_jobs(emulator)) == 1


# --- deterministic interleavings of two runs ---------------------------------------------------------

@pytest.mark.parametrize("pause_at", [("create_job", 1), ("put_object", 2)],
                         ids=["before-create", "before-checkpoint"])
def test_a_duplicate_tick_while_the_first_run_is_inside_its_lease_stops_without_creating(emulator, pause_at):
    settings = emulator_settings(emulator)
    emulator.backend.create_bucket("examplebucket-1250000000")
    a = ScriptedClient(fast_client(settings), pause_before=pause_at)
    thread, box = start_paused(lambda: run_timer(settings, TICK, a, owner="A"), a)
    with pytest.raises(LeaseHeldError):
        run_timer(settings, TICK, fast_client(settings), owner="B")
    a.resume.set()
    thread.join(10)
    assert "error" not in box and len(all_jobs(emulator)) == 1


def test_a_run_that_read_the_checkpoint_before_another_finished_the_window_skips_it(emulator):
    settings = emulator_settings(emulator)
    emulator.backend.create_bucket("examplebucket-1250000000")
    a = ScriptedClient(fast_client(settings), pause_before=("put_object", 1))  # A has read the checkpoint
    thread, box = start_paused(lambda: run_timer(settings, TICK, a, owner="A"), a)
    b = run_timer(settings, TICK, fast_client(settings), owner="B")  # B does the whole window and releases
    a.resume.set()
    thread.join(10)
    assert b.jobs[0].created is True
    assert box["result"].jobs == [] and "meanwhile" in box["result"].note
    assert len(all_jobs(emulator)) == 1 and duplicated_names(all_jobs(emulator)) == {}


def test_a_later_tick_running_while_an_earlier_one_is_paused_never_overlaps_its_window(emulator):
    settings = emulator_settings(emulator)
    emulator.backend.create_bucket("examplebucket-1250000000")
    run_timer(settings, TICK, fast_client(settings), owner="first")
    slow_tick, next_tick = TICK + hours(1), TICK + hours(1) + timedelta(minutes=1)  # a per-minute trigger
    a = ScriptedClient(fast_client(settings), pause_before=("create_job", 1))
    thread, box = start_paused(lambda: run_timer(settings, slow_tick, a, owner="A"), a)
    with pytest.raises(LeaseHeldError):  # same checkpoint, same lease: B must leave the window to A
        run_timer(settings, next_tick, fast_client(settings), owner="B")
    a.resume.set()
    thread.join(10)
    after = run_timer(settings, next_tick, fast_client(settings), clock=next_tick + timedelta(minutes=1),
                      owner="B-retry")
    windows = sorted((j.start, j.end) for j in all_jobs(emulator))
    assert windows == [(TICK - hours(1), TICK), (TICK, slow_tick), (slow_tick, next_tick)]
    assert after.jobs[0].created is True and "error" not in box
