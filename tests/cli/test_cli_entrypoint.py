"""`python -m ops` as a person runs it: a real process, and once end to end against the local emulator."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ops.cli import main

ROOT = Path(__file__).resolve().parents[2]
BUCKET_ENV = {"COS_BUCKET": "examplebucket-1250000000", "COS_REGION": "ap-guangzhou"}


def run_module(*argv, module="ops"):
    # A clean environment: the CLI must not need credentials for these commands.
    return subprocess.run([sys.executable, "-m", module, *argv], cwd=ROOT, env=BUCKET_ENV,
                          capture_output=True, text=True, timeout=60)


def test_help_lists_the_commands_and_exit_codes():
    proc = run_module("--help")
    assert proc.returncode == 0
    for word in ("jobs", "submit", "report", "invoke", "Exit codes, the same for every command"):
        assert word in proc.stdout


def test_a_bad_time_filter_exits_2_with_a_message_on_stderr():
    proc = run_module("jobs", "list", "--start", "yesterday")
    assert proc.returncode == 2 and proc.stdout == ""
    assert "error: --start 'yesterday' is not a time" in proc.stderr


def test_a_missing_command_exits_2():
    proc = run_module()
    assert proc.returncode == 2 and "usage: python -m ops" in proc.stderr


def test_the_old_name_python_m_lib_cli_is_the_same_cli():
    # Scripts and notes in the wild run `python -m lib.cli`: it stays an alias of `python -m ops`.
    old, new = run_module(module="lib.cli"), run_module()
    assert (old.returncode, old.stdout, old.stderr) == (new.returncode, new.stdout, new.stderr)
    assert old.returncode == 2 and old.stderr.startswith("error: the following arguments are required: command")


def test_submit_dry_run_of_several_uploads_shows_the_manifest_it_would_write():
    proc = run_module("submit", "--dry-run", "--json", "--event", "events/cos-upload-multi.json")
    result = json.loads(proc.stdout)
    assert proc.returncode == 0
    assert "<UrlFile>https://examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com/autopilot/manifests/" in result["xml"]
    assert result["manifest"]["text"].count("\n") == 3


@pytest.mark.emulator
def test_invoke_submit_then_report_against_the_emulator(emulator, tmp_path):
    from emulator.executor import run_pending
    from emulator.runtime import DEFAULT_REGION

    bucket = "examplebucket-1250000000"
    emulator.backend.create_bucket(bucket, exist_ok=True)
    emulator.client().put_object(Bucket=bucket, Key="uploads/plain.png", Body=b"not really an image")
    now = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=5)
    environ = {"COS_BUCKET": bucket, "COS_REGION": DEFAULT_REGION, "COS_EMULATOR_URL": emulator.url,
               "INPUT_PREFIX": "uploads/",
               "TENCENTCLOUD_SECRETID": emulator.secret_id, "TENCENTCLOUD_SECRETKEY": emulator.secret_key}
    event = tmp_path / "tick.json"
    event.write_text(json.dumps({"Type": "Timer", "TriggerName": "hourly", "Time": now.isoformat()}))

    out = io.StringIO()
    assert main(["invoke", "submit", str(event)], environ=environ, stdout=out, stderr=io.StringIO()) == 0
    job_id = json.loads(out.getvalue())["jobs"][0]["job_id"]
    run_pending(emulator.backend)

    out = io.StringIO()
    code = main(["report", "--json", "--since", "1h"], environ=environ, stdout=out, stderr=io.StringIO(),
                clock=lambda: now)
    summary = json.loads(out.getvalue())
    assert summary["total_jobs"] == 1
    assert [row["state"] for row in summary["counts"]] != ["Submitted"]
    assert summary["objects"]["inspected"] == 1 and summary["notes"] == []
    assert code == (1 if summary["problem"] else 0)

    out = io.StringIO()
    assert main(["jobs", "get", job_id, "--json"], environ=environ, stdout=out, stderr=io.StringIO()) == 0
    assert json.loads(out.getvalue())["JobId"] == job_id
