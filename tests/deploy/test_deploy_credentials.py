"""Issue 27, point 3: `python -m deploy` finds credentials exactly as `python -m ops` does (one lookup,
lib/credentials.py), and exits by the README's one table: 0 done; 1 a call to SCF or COS failed or got no answer;
2 not done (arguments, serverless.yml/.env, the package, credentials missing or refused), nothing changed.

In-process runs go through main() without a transport of the test's, so the command builds its own SDK client from
what it found; the SCF and COS doubles answer on `responses` (tests/deploy/scf_double.py, cos_bucket_double.py).
A refused key's codes: SCF's common error codes (cloud.tencent.com/document/api/583/30771: AuthFailure.SecretIdNotFound
"密钥不存在", AuthFailure.SignatureFailure) and COS's 403 page (cloud.tencent.com/document/product/436/40105: "If the
signature uses an incorrect SecretId, COS will return InvalidAccessKeyId").
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys

import pytest

responses = pytest.importorskip("responses")
pytest.importorskip("tencentcloud.scf.v20180416", reason="the deploy extra installs tencentcloud-sdk-python-scf")

import requests  # noqa: E402

import deploy.__main__ as deploy_main  # noqa: E402
import ops.cli  # noqa: E402
from deploy.__main__ import main  # noqa: E402
from deploy.scf_api import credentials_for as deploys_lookup  # noqa: E402
from lib.credentials import credentials_for  # noqa: E402
from tests.deploy.scf_double import SECRET_ID, SECRET_KEY, URL  # noqa: E402
from tests.support.credentials import write_sdk_ini, write_tccli  # noqa: E402
from tests.support.deploy import DEPLOY_ENV, ROOT, write_package  # noqa: E402

SETTINGS = {k: v for k, v in DEPLOY_ENV.items() if not k.startswith("TENCENTCLOUD_")}
KEYS = {"TENCENTCLOUD_SECRETID": SECRET_ID, "TENCENTCLOUD_SECRETKEY": SECRET_KEY}


def deploy(project, home, capsys, *argv, env=None, command="plan"):
    """`python -m deploy COMMAND --config project/serverless.yml ARGV` with HOME=home: (exit code, stdout, stderr)."""
    environ = {**(SETTINGS if env is None else env), "HOME": str(home)}
    code = main([command, "--config", str(project / "serverless.yml"), *argv], environ=environ, sleep=lambda s: None)
    out = capsys.readouterr()
    return code, out.out, out.err


def planned(code, out):
    return code == 0 and "~ submit: create" in out


# --- one lookup: every place and spelling the operator CLI reads -------------------------------------------------
def test_the_sdks_environment_names_are_deploy_credentials(project, scf, tmp_path, capsys):
    env = {**SETTINGS, "TENCENTCLOUD_SECRET_ID": SECRET_ID, "TENCENTCLOUD_SECRET_KEY": SECRET_KEY}
    code, out, err = deploy(project, tmp_path, capsys, env=env)
    assert planned(code, out), err


def test_the_default_tccli_profile_file_is_read(project, scf, tmp_path, capsys):
    write_tccli(tmp_path, "default", SECRET_ID, SECRET_KEY)
    code, out, err = deploy(project, tmp_path, capsys)
    assert planned(code, out), err


@pytest.mark.parametrize("how", ["--profile", "TCCLI_PROFILE"])
def test_a_named_profile_is_read_from_its_own_tccli_file(project, scf, tmp_path, capsys, how):
    write_tccli(tmp_path, "default", "AKIDwrongDefaultProfile000000000000", "wrong-key")
    write_tccli(tmp_path, "ops", SECRET_ID, SECRET_KEY)
    argv, env = (("--profile", "ops"), SETTINGS) if how == "--profile" else ((), {**SETTINGS, "TCCLI_PROFILE": "ops"})
    code, out, err = deploy(project, tmp_path, capsys, *argv, env=env)
    assert planned(code, out), err


def test_the_tencentcloud_sdks_ini_file_is_read(project, scf, tmp_path, capsys):
    write_sdk_ini(tmp_path, "default", SECRET_ID, SECRET_KEY)
    code, out, err = deploy(project, tmp_path, capsys)
    assert planned(code, out), err


def test_scf_deploys_names_in_the_dotenv_beside_serverless_yml_are_read(project, scf, tmp_path, capsys):
    # `scf deploy` logs in and writes TENCENT_SECRET_ID/_KEY into .env (docs/deploy.md §2), so path B reads them there.
    (project / ".env").write_text(f"TENCENT_SECRET_ID={SECRET_ID}\nTENCENT_SECRET_KEY={SECRET_KEY}\n")
    code, out, err = deploy(project, tmp_path, capsys)
    assert planned(code, out), err


def test_the_environment_wins_over_the_files(project, scf, tmp_path, capsys):
    write_tccli(tmp_path, "default", "AKIDwrongDefaultProfile000000000000", "wrong-key")
    code, out, err = deploy(project, tmp_path, capsys, env={**SETTINGS, **KEYS})
    assert planned(code, out), err


def test_ops_and_deploy_share_one_lookup():
    assert ops.cli.credentials_for is deploys_lookup is credentials_for


# --- exit 2: not done, nothing sent --------------------------------------------------------------------------------
def test_no_credentials_is_exit_2_naming_every_place_looked_in_order(project, scf, tmp_path, capsys):
    code, out, err = deploy(project, tmp_path, capsys)
    assert code == 2 and out == "" and scf.calls == []
    places = ["TENCENTCLOUD_SECRETID and TENCENTCLOUD_SECRETKEY", "TENCENTCLOUD_SECRET_ID", "TENCENT_SECRET_ID",
              f"{tmp_path}/.tccli/default.credential", f"{tmp_path}/.tencentcloud/credentials [default]",
              "/etc/tencentcloud/credentials"]
    positions = [err.find(p) for p in places]
    assert -1 not in positions and positions == sorted(positions), err


def test_a_key_without_its_id_is_exit_2_naming_the_missing_one_never_the_key(project, scf, tmp_path, capsys):
    code, _, err = deploy(project, tmp_path, capsys, env={**SETTINGS, "TENCENTCLOUD_SECRETKEY": "s3cr3t-value"})
    assert code == 2 and "TENCENTCLOUD_SECRETKEY is set but TENCENTCLOUD_SECRETID is not" in err
    assert "s3cr3t-value" not in err and scf.calls == []


@pytest.mark.parametrize(("change", "expected"), [
    (lambda env, project: env.pop("AUTOPILOT_ROLE"), "${env:AUTOPILOT_ROLE} is not set"),
    (lambda env, project: env.update(UPLOADER_PRINCIPALS="*"), "UPLOADER_PRINCIPALS holds '*'"),
    (lambda env, project: env.update(INVENTORY_MANAGED="maybe"), "INVENTORY_MANAGED='maybe'"),
    (lambda env, project: (project / "build" / "cos-batch-autopilot-py310.zip").unlink(), "make package"),
    (lambda env, project: write_package(project, "x = 1\n", python="3.9"), "built for Python3.9"),
], ids=["unset variable", "uploaders", "inventory switch", "no package", "package runtime"])
def test_a_settings_or_package_error_is_exit_2_before_any_call(project, scf, tmp_path, capsys, change, expected):
    env = {**SETTINGS, **KEYS}
    change(env, project)
    code, _, err = deploy(project, tmp_path, capsys, env=env)
    assert code == 2 and expected in err and scf.calls == [], err


def test_an_unknown_function_is_exit_2(project, scf, tmp_path, capsys):
    code, _, err = deploy(project, tmp_path, capsys, "--function", "sumbit", env={**SETTINGS, **KEYS})
    assert code == 2 and "--function sumbit" in err and scf.calls == []


def test_an_unknown_secret_id_is_exit_2_with_the_secretid_hint(project, scf, tmp_path, capsys):
    env = {**SETTINGS, **KEYS, "TENCENTCLOUD_SECRETID": "AKIDunknownSecretId0000000000000000"}
    code, out, err = deploy(project, tmp_path, capsys, env=env)
    assert code == 2 and "AuthFailure.SecretIdNotFound" in err and "check TENCENTCLOUD_SECRETID" in err, err
    assert "the credentials used: TENCENTCLOUD_SECRETID/TENCENTCLOUD_SECRETKEY from the environment" in err
    assert scf.changing_calls() == []


def test_a_wrong_secret_key_from_a_tccli_profile_is_exit_2_naming_that_file(project, scf, tmp_path, capsys):
    path = write_tccli(tmp_path, "default", SECRET_ID, "not-the-key")
    code, _, err = deploy(project, tmp_path, capsys)
    assert code == 2 and "AuthFailure.SignatureFailure" in err and "check TENCENTCLOUD_SECRETID" in err, err
    assert f"the credentials used: {path}" in err and "not-the-key" not in err


def test_an_unknown_secret_id_at_cos_is_exit_2_with_the_secretid_hint(project, scf, cos, tmp_path, capsys):
    env = {**SETTINGS, **KEYS, "TENCENTCLOUD_SECRETID": "AKIDunknownSecretId0000000000000000"}
    code, _, err = deploy(project, tmp_path, capsys, env=env, command="lifecycle")
    assert code == 2 and "403 InvalidAccessKeyId" in err and "check TENCENTCLOUD_SECRETID" in err, err
    assert cos.puts() == []


def test_a_cloud_failure_stays_exit_1(project, scf, tmp_path, capsys):
    scf.fail["GetFunction"] = ("UnauthorizedOperation.CAM", "you may not")
    code, _, err = deploy(project, tmp_path, capsys, env={**SETTINGS, **KEYS})
    assert code == 1 and "QcloudSCFFullAccess" in err


# --- no answer: the network and the region, not SCF's error-code page ---------------------------------------------
def test_an_unreachable_scf_endpoint_in_plan_points_to_the_network_and_the_region(rsps, cos, tmp_path, capsys,
                                                                                  project):
    rsps.add(responses.POST, URL, body=requests.exceptions.ConnectionError(
        "Failed to resolve 'scf.tencentcloudapi.com' ([Errno -3] Temporary failure in name resolution)"))
    code, _, err = deploy(project, tmp_path, capsys, env={**SETTINGS, **KEYS})
    assert code == 1 and "no answer from scf.tencentcloudapi.com" in err, err
    assert "check the network, DNS, any HTTPS_PROXY and COS_REGION (ap-guangzhou)" in err
    assert "583/30771" not in err


# --- as a person runs it -------------------------------------------------------------------------------------------
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_deploy(project, home, *argv, **env):
    base = {"PATH": os.environ.get("PATH", os.defpath), "LANG": "C.UTF-8", "HOME": str(home), **SETTINGS}
    return subprocess.run([sys.executable, "-m", "deploy", "plan", "--config", str(project / "serverless.yml"), *argv],
                          cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120, check=False)


def test_the_process_reads_a_tccli_profile_and_an_unreachable_endpoint_is_exit_1_naming_the_network(project, tmp_path):
    # A proxy on a closed port: the request fails at once, on this machine (the SDK's requests honours HTTPS_PROXY).
    write_tccli(tmp_path, "ops", SECRET_ID, SECRET_KEY)
    ran = run_deploy(project, tmp_path, "--profile", "ops", HTTPS_PROXY=f"http://127.0.0.1:{closed_port()}")
    assert ran.returncode == 1 and "no answer from scf.tencentcloudapi.com" in ran.stderr, ran.stderr
    assert "COS_REGION (ap-guangzhou)" in ran.stderr and "Traceback" not in ran.stderr


def test_the_process_without_credentials_is_exit_2(project, tmp_path):
    ran = run_deploy(project, tmp_path)
    assert ran.returncode == 2 and "no credentials found" in ran.stderr and "Traceback" not in ran.stderr


def test_the_readme_has_one_exit_code_table_and_it_names_deploy_with_the_same_codes():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.count("**Exit codes**") == 1
    heading, table = text.split("**Exit codes**", 1)[1].split("\n\n", 2)[:2]
    assert "`python -m ops …` and `python -m deploy …` alike" in heading
    rows = dict(re.findall(r"^\| (\d+) \| (.+) \|$", table, re.M))
    assert "credentials missing or refused" in rows[str(deploy_main.EXIT_USAGE)]
    assert "SCF failed or got no answer" in rows[str(deploy_main.EXIT_FAILED)]
    assert (deploy_main.EXIT_OK, deploy_main.EXIT_FAILED, deploy_main.EXIT_USAGE) == \
        (ops.cli.EXIT_OK, ops.cli.EXIT_PROBLEM, ops.cli.EXIT_USAGE)
