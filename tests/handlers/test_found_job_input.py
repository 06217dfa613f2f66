"""Issue 27, point 2: a timer job found by its name is reported with what it really does. After a job was made with
INPUT_PREFIX=uploads/, the same tick with another prefix is an error since issue 22 (JobMismatchError naming both);
the same tick with the same prefix finds it, and its `job_found` log line, the result and `jobs list` name the input
CI holds for the job (lib.submit.ensure.describe_input), never the settings' (the `job_found` line named no input at
all, and `jobs list` had no input column)."""
from __future__ import annotations

import json
import logging

import pytest

from lib.errors import JobMismatchError
from tests.cli.support import bucket_env, cli, credentials
from tests.security.timer_support import TICK, tick
from tests.support.events import timer_event

pytestmark = pytest.mark.emulator
OURS = "autopilot-hourly-20261128T150000Z-20261128T160000Z"


@pytest.fixture
def log_lines(caplog):
    """The JSON lines our `autopilot` logger writes (it does not propagate, so attach caplog's handler)."""
    logger = logging.getLogger("autopilot")
    logger.addHandler(caplog.handler)
    try:
        yield lambda event: [line for line in (json.loads(r.getMessage()) for r in caplog.records
                                               if r.name == "autopilot") if line["event"] == event]
    finally:
        logger.removeHandler(caplog.handler)


@pytest.fixture
def made_over_uploads(emulator_bucket, monkeypatch):
    """WINDOW=1h keeps no checkpoint, so the same Time again looks its job up by name; the job scans uploads/."""
    monkeypatch.setenv("WINDOW", "1h")
    monkeypatch.setenv("INPUT_PREFIX", "uploads/")
    return tick()["jobs"][0]


def test_a_timer_job_found_by_name_logs_the_input_ci_holds_for_it(emulator, made_over_uploads, log_lines):
    (again,) = tick(request_id="again")["jobs"]
    (found,) = log_lines("job_found")
    assert (found["job_id"], found["input"]) == (made_over_uploads["job_id"], "Prefix=uploads/")
    assert (again["created"], again["input"]) == (False, "Prefix=uploads/")


def test_a_timer_job_created_logs_its_input_too(emulator, emulator_bucket, monkeypatch, log_lines):
    monkeypatch.setenv("WINDOW", "1h")
    monkeypatch.setenv("INPUT_PREFIX", "uploads/")
    tick()
    (created,) = log_lines("job_created")
    assert created["input"] == "Prefix=uploads/"


def test_the_same_tick_with_another_prefix_fails_naming_the_jobs_real_input_in_the_error_and_its_log_line(
        emulator, made_over_uploads, monkeypatch, log_lines):
    monkeypatch.setenv("INPUT_PREFIX", "other/")
    with pytest.raises(JobMismatchError) as caught:
        tick(request_id="again")
    assert "Input.Prefix is 'uploads/' there, 'other/' here" in str(caught.value)
    (failed,) = log_lines("run_failed")
    assert "Input.Prefix is 'uploads/' there" in failed["message"] and log_lines("job_found") == []


def test_a_job_found_in_cis_own_form_of_the_prefix_is_logged_and_returned_as_ci_holds_it(env, ci_wire, monkeypatch,
                                                                                         log_lines):
    # "/uploads/" and "uploads/" name the same objects (lib.submit.ensure._input_value): found, not a mismatch.
    monkeypatch.setenv("WINDOW", "1h")
    monkeypatch.setenv("INPUT_PREFIX", "uploads/")
    interval = ("<TimeInterval><Start>2026-11-28T23:00:00+0800</Start><End>2026-11-29T00:00:00+0800</End>"
                "</TimeInterval>")
    ci_wire.jobs.append({"JobId": "b" + "7" * 32, "Name": OURS, "Type": "Job", "Tag": "ImageInspect",
                         "State": "Running", "Input": "<Input><Prefix>/uploads/</Prefix></Input>",
                         "Operation": f"<Operation>{interval}</Operation>"})
    (job,) = tick()["jobs"]
    (found,) = log_lines("job_found")
    assert job["input"] == found["input"] == "Prefix=/uploads/"


def test_jobs_list_shows_each_jobs_input_as_ci_holds_it_whatever_the_settings_say(emulator, made_over_uploads,
                                                                                  tmp_path):
    env = {**bucket_env(emulator, INPUT_PREFIX="other/"), **credentials()}
    ran = cli("jobs", "list", env=env, home=tmp_path)
    assert ran.code == 0, ran
    header, _, row = ran.out.splitlines()[:3]
    assert header.split()[-1] == "INPUT" and row.split()[-2:] == [OURS, "Prefix=uploads/"], ran


def test_invoking_the_same_tick_with_another_prefix_exits_1_naming_the_jobs_real_input(emulator, made_over_uploads,
                                                                                       tmp_path):
    event = tmp_path / "tick.json"
    event.write_text(json.dumps(timer_event(TICK)))
    env = {**bucket_env(emulator, INPUT_PREFIX="other/", WINDOW="1h"), **credentials()}
    ran = cli("invoke", "submit", str(event), env=env, home=tmp_path)
    assert ran.code == 1 and "Input.Prefix is 'uploads/' there, 'other/' here" in ran.err, ran
    assert '"event": "job_found"' not in ran.err and ran.out == "", ran
