"""Issue 15, point by point: the CLI as a subprocess (exit code, stdout, stderr) against the local emulator."""
from __future__ import annotations

import io
import json
import os
import pty
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from functools import partial

import pytest

from ops.cli import main
from tests.cli.support import BUCKET, ROOT, bucket_env, cli, credentials, no_traceback, process_env
from tests.support.events import timer_event

pytestmark = pytest.mark.emulator
IMAGES = ROOT / "events" / "images"


def timer_event_file(tmp_path, name="tick.json"):
    """A timer event of the real clock, in a file as `invoke` and `submit --event` read it."""
    path = tmp_path / name
    path.write_text(json.dumps(timer_event(datetime.now(timezone.utc).replace(microsecond=0), "walk")))
    return path


def submitted_job(emu, tmp_path) -> str:
    """A batch job over uploads/ (both sample images), created through the submit handler."""
    for image in ("clean.png", "hidden.png"):
        emu.backend.put_object(BUCKET, f"uploads/{image}", (IMAGES / image).read_bytes(), content_type="image/png")
    out = io.StringIO()
    env = {**bucket_env(emu, INPUT_PREFIX="uploads/", WINDOW="all"), **credentials(), "HOME": str(tmp_path)}
    assert main(["invoke", "submit", str(timer_event_file(tmp_path))], environ=env, stdout=out, stderr=io.StringIO()) == 0
    return json.loads(out.getvalue())["jobs"][0]["job_id"]


def requests_seen(emu) -> int:
    return len(list(emu.request_log))


# --- 1. global options go before or after the subcommand -----------------------------------------------------

@pytest.mark.parametrize("argv", [
    ("--env-file", "{file}", "jobs", "list", "--json"),
    ("jobs", "list", "--env-file", "{file}", "--json"),
    ("--json", "jobs", "--env-file", "{file}", "list"),
], ids=["before", "after", "between"])
def test_global_options_work_before_or_after_the_subcommand(live, tmp_path, argv):
    env_file = tmp_path / "prod.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in {**bucket_env(live), **credentials()}.items()))
    ran = cli(*(a.format(file=env_file) for a in argv), env={}, home=tmp_path)
    assert (ran.code, ran.json()) == (0, []), ran


# --- 2. an operator's own credentials, found where Tencent's tools keep them ----------------------------------
# Where the files live and what they hold (read 2026-12-02):
# - tccli: tencentyun/qcloud-documents product/监控与管理/命令行工具/操作指南/配置TCCLI/TCCLI配置方法.md
#   (cloud.tencent.com/document/product/440/34012): `tccli configure [--profile NAME]` writes JSON
#   ~/.tccli/<NAME>.credential with secretId / secretKey; the same page names TENCENTCLOUD_SECRET_ID / _KEY.
#   The TCCLI_PROFILE variable is not on that page: inferred from tccli's own code (not mirrored here).
# - tencentcloud-sdk-python tencentcloud/common/credential.py: EnvironmentVariableCredential reads
#   TENCENTCLOUD_SECRET_ID / _KEY; ProfileCredential the INI ~/.tencentcloud/credentials, else
#   /etc/tencentcloud/credentials, section [default], secret_id / secret_key.
# The order (environment, then files) is the SDK's DefaultCredentialProvider; tccli's page ranks its files above the
# environment for tccli itself, which this CLI does not follow.

def write_tccli(home, profile, secret_id, secret_key):
    (home / ".tccli").mkdir(exist_ok=True)
    (home / ".tccli" / f"{profile}.credential").write_text(json.dumps({"secretId": secret_id, "secretKey": secret_key}))


def test_credentials_come_from_tcclis_default_profile(live, tmp_path):
    write_tccli(tmp_path, "default", *credentials().values())
    ran = cli("jobs", "list", env=bucket_env(live), home=tmp_path)
    assert ran.code == 0 and ran.out.rstrip().endswith("0 jobs"), ran


@pytest.mark.parametrize("how", ["flag", "TCCLI_PROFILE"])
def test_a_named_profile_is_read_from_its_own_tccli_file(live, tmp_path, how):
    write_tccli(tmp_path, "default", "AKIDwrong", "wrong-key")
    write_tccli(tmp_path, "ops", *credentials().values())
    extra = {"TCCLI_PROFILE": "ops"} if how == "TCCLI_PROFILE" else {}
    argv = ("--profile", "ops", "jobs", "list") if how == "flag" else ("jobs", "list")
    ran = cli(*argv, env={**bucket_env(live), **extra}, home=tmp_path)
    assert ran.code == 0, ran


def test_credentials_come_from_the_tencentcloud_sdks_ini_file(live, tmp_path):
    (tmp_path / ".tencentcloud").mkdir()
    secret_id, secret_key = credentials().values()
    (tmp_path / ".tencentcloud" / "credentials").write_text(
        f"[default]\nsecret_id = {secret_id}\nsecret_key = {secret_key}\n")
    assert cli("jobs", "list", env=bucket_env(live), home=tmp_path).code == 0


def test_tcclis_environment_names_are_accepted(live, tmp_path):
    secret_id, secret_key = credentials().values()
    env = {**bucket_env(live), "TENCENTCLOUD_SECRET_ID": secret_id, "TENCENTCLOUD_SECRET_KEY": secret_key}
    assert cli("jobs", "list", env=env, home=tmp_path).code == 0


def test_the_environment_wins_over_the_files(live, tmp_path):
    write_tccli(tmp_path, "default", "AKIDwrong", "wrong-key")
    assert cli("jobs", "list", env={**bucket_env(live), **credentials()}, home=tmp_path).code == 0


def test_no_credentials_names_every_place_looked_in_order_and_sends_nothing(live, tmp_path):
    ran = cli("jobs", "list", env=bucket_env(live), home=tmp_path)
    assert ran.code == 2 and ran.out == "" and requests_seen(live) == 0
    places = ["TENCENTCLOUD_SECRETID and TENCENTCLOUD_SECRETKEY", "TENCENTCLOUD_SECRET_ID",
              f"{tmp_path}/.tccli/default.credential", f"{tmp_path}/.tencentcloud/credentials [default]",
              "/etc/tencentcloud/credentials"]
    positions = [ran.err.find(p) for p in places]
    assert -1 not in positions and positions == sorted(positions), ran
    assert "serverless.yml" not in ran.err  # advice for a function, not for a person at a terminal


def test_a_key_without_its_id_says_which_one_is_missing_and_never_shows_it(live, tmp_path):
    ran = cli("jobs", "list", env={**bucket_env(live), "TENCENTCLOUD_SECRETKEY": "s3cr3t-value"}, home=tmp_path)
    assert ran.code == 2 and "TENCENTCLOUD_SECRETKEY is set but TENCENTCLOUD_SECRETID is not" in ran.err, ran
    assert "s3cr3t-value" not in ran.err + ran.out


def test_the_function_names_the_one_credential_scf_did_not_inject(live, monkeypatch):
    from handlers.submit import main_handler
    from lib.errors import ConfigError

    for name, value in {**bucket_env(live), "TENCENTCLOUD_SECRETID": "AKIDonly"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("TENCENTCLOUD_SECRETKEY", raising=False)
    event = {"Type": "Timer", "TriggerName": "hourly", "Time": "2026-11-28T16:00:00Z"}
    with pytest.raises(ConfigError, match=r"TENCENTCLOUD_SECRETKEY is not set: give the function a role") as caught:
        main_handler(event, {"request_id": "r1"})
    assert "TENCENTCLOUD_SECRETID" not in str(caught.value)


# --- 3. an endpoint that does not answer -------------------------------------------------------------------

def test_an_unreachable_emulator_url_says_so_and_names_the_setting(tmp_path):
    env = {"COS_BUCKET": BUCKET, "COS_REGION": "ap-guangzhou", "COS_EMULATOR_URL": "http://127.0.0.1:9",
           **credentials()}
    ran = cli("jobs", "list", env=env, home=tmp_path)
    assert ran.code == 1 and no_traceback(ran), ran
    assert "could not be reached" in ran.err and "COS_EMULATOR_URL=http://127.0.0.1:9" in ran.err
    assert "proxy" not in ran.err.lower() and "HTTPConnectionPool" not in ran.err


def test_an_endpoint_that_never_answers_is_a_timeout_naming_api_timeout(tmp_path):
    with socket.socket() as silent:  # accepts connections (the kernel does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        env = {"COS_BUCKET": BUCKET, "COS_REGION": "ap-guangzhou", "API_TIMEOUT": "0.3",
               "COS_EMULATOR_URL": f"http://127.0.0.1:{silent.getsockname()[1]}", **credentials()}
        # upload: one attempt (writes are never retried), so the test waits one API_TIMEOUT, not three
        ran = cli("upload", str(IMAGES / "clean.png"), env=env, home=tmp_path)
    assert ran.code == 1 and "timed out" in ran.err and "API_TIMEOUT" in ran.err, ran


def run_against_real_endpoints(tmp_path, **extra):
    """In-process through the real SDK, requests and urllib3 stack; our retries do not sleep."""
    from lib.client import make_client

    env = {"COS_BUCKET": BUCKET, "COS_REGION": "ap-guangzhou", "HOME": str(tmp_path), **credentials(), **extra}
    err = io.StringIO()
    code = main(["jobs", "list"], environ=env, stdout=io.StringIO(), stderr=err,
                client_factory=partial(make_client, sleep=lambda _: None))
    return code, err.getvalue()


def test_a_name_that_does_not_resolve_says_dns_and_names_the_endpoints_settings(tmp_path, monkeypatch):
    def no_such_name(*_args, **_kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    code, err = run_against_real_endpoints(tmp_path)
    assert code == 1 and "did not resolve (DNS)" in err, err
    assert "COS_BUCKET and COS_REGION point at examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com" in err
    assert "NameResolutionError" not in err and "HTTPSConnectionPool" not in err


def test_a_real_endpoint_that_never_answers_is_a_timeout(tmp_path, monkeypatch):
    real_getaddrinfo = socket.getaddrinfo
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        monkeypatch.setattr(socket, "getaddrinfo", lambda _host, _port, *a, **k: real_getaddrinfo("127.0.0.1", port,
                                                                                                 *a, **k))
        code, err = run_against_real_endpoints(tmp_path, API_TIMEOUT="0.3")
    assert code == 1 and "timed out" in err and "API_TIMEOUT (0.3 s)" in err, err


# --- 4. --json: logs on stderr, one JSON document on stdout --------------------------------------------------

def test_invoke_json_prints_one_document_and_logs_to_stderr(live, tmp_path):
    ran = cli("invoke", "submit", str(timer_event_file(tmp_path)), "--json",
              env={**bucket_env(live, WINDOW="all"), **credentials()}, home=tmp_path)
    assert ran.code == 0 and ran.json()["jobs"][0]["created"] is True, ran
    assert '"event": "run_done"' in ran.err


# --- 5. no tracebacks ------------------------------------------------------------------------------------------

def test_the_emulator_on_a_busy_port_says_so_and_exits_2(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        proc = subprocess.run([sys.executable, "-m", "emulator", "--port", str(busy.getsockname()[1])], cwd=ROOT,
                              env=process_env({}, tmp_path), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "another process listens there; pick another --port" in proc.stderr


def test_ctrl_c_at_the_cancel_prompt_exits_130_and_cancels_nothing(held, tmp_path):
    job_id = submitted_job(held, tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "ops", "jobs", "cancel", job_id], cwd=ROOT,
                            env=process_env({**bucket_env(held), **credentials()}, tmp_path),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    prompt = b""
    while not prompt.endswith(b"[y/N] "):
        prompt += proc.stderr.read1(1024) or b""
        assert proc.poll() is None, prompt
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and b"Traceback" not in err and b"interrupted" in err, err
    assert held.backend.get_job(job_id).state == "Submitted"


def test_a_bug_still_ends_in_a_sentence_and_exit_1_not_a_traceback(tmp_path):
    def broken_client(_settings, pool_size=None):
        raise KeyError("JobsDetail")

    err = io.StringIO()
    env = {"COS_BUCKET": BUCKET, "COS_REGION": "ap-guangzhou", "HOME": str(tmp_path), **credentials()}
    code = main(["jobs", "list"], environ=env, stdout=io.StringIO(), stderr=err, client_factory=broken_client)
    assert code == 1 and err.getvalue().startswith("error: unexpected KeyError: 'JobsDetail' (a bug")


# --- 6. one exit-code rule, per command ------------------------------------------------------------------------

@pytest.mark.parametrize(("argv", "code"), [
    (("jobs", "list", "--state", "Done"), 2),
    (("jobs", "get", "b0000000000"), 1),
    (("jobs", "watch", "b0000000000", "--interval", "0.1"), 1),
    (("jobs", "watch", "b0000000000", "--interval", "0"), 2),
    (("jobs", "cancel", "b0000000000", "--yes"), 1),
    (("jobs", "duplicates"), 0),
    (("jobs", "duplicates", "--since", "yesterday"), 2),
    (("upload", "/nonexistent.png"), 2),
    (("submit",), 2),
    (("submit", "--dry-run", "--event", "tests/cli/events/malformed.json"), 2),
    (("invoke", "submit", "tests/cli/events/malformed.json"), 2),
    (("report", "--since", "1h"), 0),
], ids=lambda v: " ".join(v) if isinstance(v, tuple) else str(v))
def test_every_command_follows_the_exit_code_rule(live, tmp_path, argv, code):
    ran = cli(*argv, env={**bucket_env(live), **credentials()}, home=tmp_path)
    assert ran.code == code and no_traceback(ran), ran
    assert (ran.err.startswith("error: ") or "no batch job" in ran.err) if code else True


@pytest.mark.parametrize("argv", [("invoke", "submit", "{tick}"), ("submit", "--dry-run")])
def test_the_whole_bucket_delete_refusal_is_a_configuration_error(live, tmp_path, argv):
    # The versioning catch acknowledged, so the whole-bucket one is alone (and reads nothing).
    env = {**bucket_env(live, INSPECT_AUTO_PROCESS="true", INSPECT_PROCESS_TYPE="DeleteObject",
                        ALLOW_IRREVERSIBLE_DELETE="true"), **credentials()}
    ran = cli(*(a.format(tick=timer_event_file(tmp_path)) for a in argv), env=env, home=tmp_path)
    assert ran.code == 2 and "ALLOW_DELETE_WHOLE_BUCKET" in ran.err, ran
    assert requests_seen(live) == 0


def test_upload_never_replaces_an_object_unless_asked(live, tmp_path):
    env = {**bucket_env(live), **credentials()}
    image = str(IMAGES / "hidden.png")
    live.backend.put_object(BUCKET, "uploads/hidden.png", b"the real one")
    ran = cli("upload", image, "--prefix", "uploads/", env=env, home=tmp_path)
    assert ran.code == 1 and "uploads/hidden.png already exists" in ran.err, ran
    assert live.backend.get_object(BUCKET, "uploads/hidden.png").data == b"the real one"
    assert cli("upload", image, "--prefix", "uploads/", "--overwrite", env=env, home=tmp_path).code == 0


# --- 7. input checked before anything is sent ------------------------------------------------------------------

@pytest.mark.parametrize("job_id", ["", "not-a-job/../x", "b 1", "b1?cancel"])
def test_a_malformed_job_id_is_refused_before_any_call(live, tmp_path, job_id):
    ran = cli("jobs", "get", job_id, env={**bucket_env(live), **credentials()}, home=tmp_path)
    assert ran.code == 2 and f"job id {job_id!r} is not a batch-job id" in ran.err, ran
    assert requests_seen(live) == 0


def test_a_misspelt_region_is_refused_with_the_nearest_name(live, tmp_path):
    ran = cli("jobs", "list", env={**bucket_env(live), "COS_REGION": "ap-guangzou", **credentials()}, home=tmp_path)
    assert ran.code == 2 and "COS_REGION='ap-guangzou'" in ran.err and "did you mean ap-guangzhou?" in ran.err, ran
    assert requests_seen(live) == 0


# --- 8. reasons, plurals, state words and flag names in plain output -------------------------------------------

def test_a_dry_run_of_another_buckets_event_says_why_each_key_is_skipped(tmp_path):
    ran = cli("submit", "--dry-run", "--event", "events/cos-upload-one.json",
              env={"COS_BUCKET": "otherbucket-1250000000", "COS_REGION": "ap-guangzhou"}, home=tmp_path)
    assert ran.code == 0 and ran.out.startswith("nothing to inspect in this event: 1 key skipped"), ran
    assert "  uploads/cat.png: bucket examplebucket-1250000000 is not COS_BUCKET" in ran.out


def test_one_job_is_counted_in_the_singular(live, tmp_path):
    submitted_job(live, tmp_path)
    ran = cli("jobs", "list", env={**bucket_env(live), **credentials()}, home=tmp_path)
    assert ran.out.rstrip().endswith("\n1 job"), ran


def test_cancelling_a_cancelled_job_says_cancelled(held, tmp_path):
    job_id = submitted_job(held, tmp_path)
    env = {**bucket_env(held), **credentials()}
    assert cli("jobs", "cancel", job_id, "--yes", env=env, home=tmp_path).code == 0
    ran = cli("jobs", "cancel", job_id, "--yes", env=env, home=tmp_path)
    assert ran.code == 1 and f"job {job_id} is already cancelled; nothing to cancel" in ran.err, ran


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--since", "yesterday", "--since 'yesterday' is not a duration"),
    ("--start", "yesterday", "--start 'yesterday' is not a time"),
    ("--limit", "0", "--limit 0: must be at least 1"),
    ("--workflow-id", "w/../x", "--workflow-id 'w/../x': not a workflow id"),
    ("--job-id", "", "job id '' is not a batch-job id"),
])
def test_an_error_names_the_flag(tmp_path, flag, value, message):
    ran = cli("jobs", "list", flag, value, env={"COS_BUCKET": BUCKET, "COS_REGION": "ap-guangzhou"}, home=tmp_path)
    assert ran.code == 2 and message in ran.err, ran


# --- 9. one time zone per output -----------------------------------------------------------------------------

def test_human_output_is_utc_with_z_and_tz_cst_shows_beijing_time(live, tmp_path):
    submitted_job(live, tmp_path)
    env = {**bucket_env(live), **credentials()}
    utc = cli("jobs", "list", env=env, home=tmp_path).out.splitlines()[2]
    cst = cli("jobs", "list", "--tz", "CST", env=env, home=tmp_path).out.splitlines()[2]
    assert utc.split()[5].endswith("Z") and "+0800" not in utc, utc
    assert cst.split()[5].endswith("+08:00"), cst


def test_the_report_refuses_a_second_zone_rather_than_mix_two(tmp_path):
    ran = cli("report", "--tz", "CST", env={"COS_BUCKET": BUCKET, "COS_REGION": "ap-guangzhou"}, home=tmp_path)
    assert ran.code == 2 and "--tz CST: the report prints UTC only" in ran.err, ran


def test_an_error_echoes_a_z_time_in_the_same_zone(tmp_path):
    ran = cli("jobs", "list", "--start", "2026-11-28T12:00:00Z", "--end", "2026-11-28T00:00:00Z",
              env={"COS_BUCKET": BUCKET, "COS_REGION": "ap-guangzhou"}, home=tmp_path)
    assert ran.code == 2 and "--start 2026-11-28 12:00:00Z is after --end 2026-11-28 00:00:00Z" in ran.err, ran


# --- 10. jobs get shows what the job did to each object ----------------------------------------------------------

def test_jobs_get_shows_the_flagged_object_and_exits_1(live, tmp_path):
    job_id = submitted_job(live, tmp_path)
    live.backend.run_pending()
    ran = cli("jobs", "get", job_id, env={**bucket_env(live), **credentials()}, home=tmp_path)
    assert ran.code == 1, ran
    assert "2 objects: 2 Success; 1 image flagged" in ran.out
    (row,) = [line for line in ran.out.splitlines() if line.startswith("uploads/hidden.png")]
    assert row.split()[1:3] == ["Success", "ZIP"] and row.endswith("flagged, left in place (CI took no action)")  # AutoProcess off
    assert "uploads/clean.png" not in ran.out


def test_jobs_get_json_carries_the_per_object_results(live, tmp_path):
    job_id = submitted_job(live, tmp_path)
    live.backend.run_pending()
    doc = cli("jobs", "get", job_id, "--json", env={**bucket_env(live), **credentials()}, home=tmp_path).json()
    assert doc["JobId"] == job_id and doc["objects"]["flagged"] == 1
    assert [o["key"] for o in doc["objects"]["objects"]] == ["uploads/hidden.png"]


# --- 11. watching a job ------------------------------------------------------------------------------------------

def read_all(fd: int) -> bytes:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def test_jobs_watch_draws_a_live_line_in_a_terminal_and_ends_with_the_summary(held, tmp_path):
    job_id = submitted_job(held, tmp_path)
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "ops", "jobs", "watch", job_id, "--interval", "0.2"],
                            cwd=ROOT, env=process_env({**bucket_env(held), **credentials()}, tmp_path),
                            stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    reader = threading.Thread(target=lambda: terminal.append(read_all(master)))
    terminal: list = []
    reader.start()
    time.sleep(1.5)  # a few polls while the job waits
    held.backend.run_pending()
    out, _ = proc.communicate(timeout=60)
    reader.join(timeout=10)
    os.close(master)
    screen = terminal[0].decode()
    assert proc.returncode == 1  # the hidden image is a problem
    assert f"\r\x1b[Kjob {job_id}: submitted, not started yet" in screen
    assert f"job {job_id} finished after" in screen
    assert "state    finished (Success)" in out.decode() and "uploads/hidden.png" in out.decode()


def test_jobs_get_wait_without_a_terminal_prints_one_line_per_state(live, tmp_path):
    job_id = submitted_job(live, tmp_path)
    ran = cli("jobs", "get", job_id, "--wait", "--interval", "0.2", env={**bucket_env(live), **credentials()},
              home=tmp_path)
    assert ran.code == 1 and "\r" not in ran.err, ran
    assert ran.err.rstrip().splitlines()[-1].startswith(f"job {job_id} finished after")
    assert "objects  2 objects: 2 Success; 1 image flagged, 0 acted on" in ran.out


def test_jobs_list_keeps_its_progress_on_stderr_in_a_terminal(live, tmp_path):
    submitted_job(live, tmp_path)
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "ops", "jobs", "list", "--json"], cwd=ROOT,
                            env=process_env({**bucket_env(live), **credentials()}, tmp_path),
                            stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    out, _ = proc.communicate(timeout=60)
    screen = read_all(master).decode()
    os.close(master)
    assert proc.returncode == 0 and len(json.loads(out)) == 1
    assert "listing Job jobs: page 1" in screen
