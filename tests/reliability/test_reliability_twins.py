"""Two live jobs sharing a name (issue 17, point 3): a create that stalled in the network lands after the retry's
lookup. The report names them and, with REPORT_CANCEL_DUPLICATES=timer (the default), cancels the younger;
`jobs duplicates` lists them.

Sources (read 2026-12-01): CI "取消任务" PUT /inventorytriggerjob/<jobId>?cancel,
https://cloud.tencent.com/document/api/460/76892 (also https://www.tencentcloud.com/document/api/1045/47028);
the SDK call is qcloud_cos/cos_client.py ci_delete_inventory_trigger_jobs (tencentyun/cos-python-sdk-v5). Neither
the create page nor the SDK makes Name unique, so the service can hold two live jobs under one name."""
from __future__ import annotations

import io
import itertools
import json
import time
from datetime import timedelta

import pytest

from handlers.report import main_handler as report_handler
from lib.errors import CloudUnavailableError
from ops.cli import main as cli_main
from tests.reliability.support import all_jobs, at, run_timer
from tests.support.emulator import emulator_settings, fast_client
from tests.support.events import timer_event

pytestmark = pytest.mark.emulator
TICK = at(1, 6)
STALL = 0.6  # the create lands this long after it was sent; API_TIMEOUT is 0.3 s


@pytest.fixture
def twins(emu_env, monkeypatch):
    """Run 1's create stalls and times out; SCF's retry creates the job; then run 1's create lands too."""
    seconds = itertools.count()
    emu_env.backend.set_clock(lambda: at(1, 6) + timedelta(seconds=next(seconds)))
    monkeypatch.setenv("API_TIMEOUT", "0.3")
    settings = emulator_settings(emu_env, API_TIMEOUT="0.3")
    emu_env.faults.add("POST", r"^/inventorytriggerjob$", "ci", action="slow", delay=STALL, count=1)
    with pytest.raises(CloudUnavailableError):
        run_timer(settings, TICK, fast_client(settings), owner="run1")
    retry = run_timer(settings, TICK, fast_client(settings), clock=TICK + timedelta(minutes=1), owner="retry")
    time.sleep(STALL + 0.2)  # the stalled create lands after the retry's lookup and create
    jobs = all_jobs(emu_env)
    assert len(jobs) == 2 and jobs[0].name == jobs[1].name, "the scenario needs two live jobs under one name"
    return retry.jobs[0].job_id, next(j.job_id for j in jobs if j.job_id != retry.jobs[0].job_id)


def report(emu_env):
    return report_handler(timer_event(at(1, 12), name="daily-report"), {"request_id": "rep-1"})


def test_the_report_names_both_jobs_and_cancels_the_younger_by_default(emu_env, twins):
    older, younger = twins
    summary = report(emu_env)["summary"]
    note = next(n for n in summary["notes"] if "share the name" in n)
    assert older in note and younger in note and f"cancelled {younger}" in note
    states = {j.job_id: j.state for j in all_jobs(emu_env)}
    assert states[younger] == "Cancel" and states[older] != "Cancel"
    assert summary["problem"] is True


def test_with_the_setting_off_the_report_names_them_and_cancels_nothing(emu_env, twins, monkeypatch):
    older, younger = twins
    monkeypatch.setenv("REPORT_CANCEL_DUPLICATES", "off")
    note = next(n for n in report(emu_env)["summary"]["notes"] if "share the name" in n)
    assert f"not cancelled {younger}" in note and "; cancelled" not in note
    assert "Cancel" not in {j.state for j in all_jobs(emu_env)}


def test_a_second_report_finds_nothing_left_to_cancel(emu_env, twins):
    report(emu_env)
    assert not [n for n in report(emu_env)["summary"]["notes"] if "share the name" in n]


def test_the_cli_lists_the_twins_and_exits_1(emu_env, twins):
    older, younger = twins
    out = io.StringIO()
    code = cli_main(["jobs", "duplicates", "--json", "--since", "2d"], stdout=out, stderr=io.StringIO(),
                    clock=lambda: at(1, 12))
    assert code == 1
    assert json.loads(out.getvalue()) == [{"name": all_jobs(emu_env)[0].name, "kept": older, "younger": [younger],
                                           "cancelled": [], "left": []}]


def test_the_cli_says_so_when_no_name_is_shared(emu_env):
    out = io.StringIO()
    assert cli_main(["jobs", "duplicates"], stdout=out, stderr=io.StringIO(), clock=lambda: at(1, 12)) == 0
    assert out.getvalue() == "0 names are held by more than one live job\n"
