"""Realistic pacing: in standalone mode a new batch job is Submitted, then Running, for ``--job-pace`` seconds each,
so a user's create → get → list → cancel sees it unfinished; tests keep stepping jobs themselves.

Why pace at all: the SDK's ut/test.py test_ci_create_inventory_trigger_jobs polls a new job every 5 s until it ends,
i.e. the real service's jobs are observable unfinished (read 2026-12-01); the default 5 s is that interval. How long
a real job stays in each state is published nowhere: the pacing is inferred.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from qcloud_cos import CosConfig, CosS3Client

from emulator.__main__ import DEFAULT_JOB_PACE, main, parse_args
from emulator.runtime import JobWorker
from tests.emulator.factories import job_body, png
from tests.support.settings import BUCKET, REGION

pytestmark = pytest.mark.emulator
ROOT = Path(__file__).resolve().parents[2]


class FakeMonotonic:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _state(emulator, job_id: str) -> str:
    return emulator.backend.get_job(job_id).state


def test_paced_worker_keeps_a_job_submitted_then_running_for_the_pace_each(emulator, bucket, sdk_client):
    emulator.backend.put_object(bucket, "a.png", png())
    job_id = sdk_client.ci_create_inventory_trigger_jobs(Bucket=bucket, JobBody=job_body())["JobsDetail"][0]["JobId"]
    clock = FakeMonotonic()
    worker = JobWorker(emulator.backend, pace=5.0, monotonic=clock)  # not started: the test drives it
    seen = []
    for t in (0.0, 4.9, 5.0, 9.9, 10.0):
        clock.now = t
        worker.advance_due()
        seen.append((t, _state(emulator, job_id)))
    assert seen == [(0.0, "Submitted"), (4.9, "Submitted"), (5.0, "Running"), (9.9, "Running"), (10.0, "Success")]


def test_paced_worker_leaves_a_cancelled_job_cancelled(emulator, bucket, sdk_client):
    job_id = sdk_client.ci_create_inventory_trigger_jobs(Bucket=bucket, JobBody=job_body())["JobsDetail"][0]["JobId"]
    clock = FakeMonotonic()
    worker = JobWorker(emulator.backend, pace=1.0, monotonic=clock)
    worker.advance_due()
    sdk_client.ci_delete_inventory_trigger_jobs(Bucket=bucket, JobId=job_id)
    clock.now = 5.0
    assert worker.advance_due() == 0
    assert _state(emulator, job_id) == "Cancel"


@pytest.mark.parametrize("env, expected", [(None, DEFAULT_JOB_PACE), ("7.5", 7.5), ("0", 0.0)])
def test_job_pace_comes_from_the_environment_unless_given(monkeypatch, env, expected):
    if env is None:
        monkeypatch.delenv("EMULATOR_JOB_PACE", raising=False)
    else:
        monkeypatch.setenv("EMULATOR_JOB_PACE", env)
    assert parse_args([]).job_pace == expected
    assert parse_args(["--job-pace", "2"]).job_pace == 2.0


def test_job_pace_that_is_not_a_number_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.setenv("EMULATOR_JOB_PACE", "soon")
    with pytest.raises(SystemExit) as exc:
        parse_args([])
    assert exc.value.code == 2
    assert "--job-pace" in capsys.readouterr().err


def test_negative_job_pace_is_refused_naming_the_option(capsys):
    assert main(["--port", "0", "--job-pace", "-1"]) == 2
    assert "--job-pace must be >= 0 seconds, got -1" in capsys.readouterr().err


def test_standalone_server_lets_a_user_create_get_list_and_cancel_a_job(tmp_path):
    env = dict(os.environ, EMULATOR_JOB_PACE="3")
    proc = subprocess.Popen([sys.executable, "-m", "emulator", "--port", "0", "--bucket", BUCKET],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env)
    try:
        url = proc.stdout.readline().split(" on ", 1)[1].split()[0]
        sdk_client = CosS3Client(CosConfig(Region=REGION, SecretId="AKIDtest", SecretKey="test-secret-key",
                                           Scheme="http", Proxies={"http": url}), retry=0)
        job_id = sdk_client.ci_create_inventory_trigger_jobs(Bucket=BUCKET, JobBody=job_body(prefix="empty/"))[
            "JobsDetail"][0]["JobId"]
        got = sdk_client.ci_get_inventory_trigger_jobs(Bucket=BUCKET, JobID=job_id)["JobsDetail"][0]["State"]
        listed = sdk_client.ci_list_inventory_trigger_jobs(Bucket=BUCKET, Type="Job")["JobsDetail"]
        assert sdk_client.ci_delete_inventory_trigger_jobs(Bucket=BUCKET, JobId=job_id).status_code == 200
        after = sdk_client.ci_get_inventory_trigger_jobs(Bucket=BUCKET, JobID=job_id)["JobsDetail"][0]["State"]
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    assert (got, [j["JobId"] for j in listed], after) == ("Submitted", [job_id], "Cancel")
