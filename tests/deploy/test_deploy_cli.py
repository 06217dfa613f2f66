"""`python -m deploy plan|apply|rollback`, end to end through the official SCF SDK against a signature-checking double.

Everything goes over HTTP through `responses`; an unregistered URL raises, so nothing reaches the network.
The double (tests/deploy/scf_double.py) cites the API shapes and the TC3-HMAC-SHA256 rules it enforces; the bucket's
lifecycle configuration, which plan and apply also read, is tests/deploy/cos_lifecycle_double.py.
"""
from __future__ import annotations

import hashlib
import json

import pytest

responses = pytest.importorskip("responses")
pytest.importorskip("tencentcloud.scf.v20180416", reason="the deploy extra installs tencentcloud-sdk-python-scf")

from deploy.__main__ import main  # noqa: E402
from deploy.scf_api import ERROR_KINDS  # noqa: E402
from tests.support.deploy import (  # noqa: E402
    DEPLOY_ENV,
    REPORT,
    ROOT,
    SUBMIT,
    WEBHOOK,
    run,
    set_variable,
    write_package,
)


# --- plan ----------------------------------------------------------------------------------------------------------
def test_plan_from_nothing_shows_every_function_code_settings_memory_triggers_and_retry(project, scf, capsys):
    code, out, _ = run(project, "plan", capsys)
    assert code == 0
    sha = hashlib.sha256((project / "build" / "cos-batch-autopilot-py310.zip").read_bytes()).hexdigest()
    for expected in (f"~ submit: create {SUBMIT}", f"~ report: create {REPORT}", f"sha256 {sha[:16]}",
                     "~ submit: handler scf_submit.main_handler on Python3.10", "memory/timeout 256 MB, 300 s",
                     "COS_BUCKET=examplebucket-1250000000", "JOB_TYPE=Job",
                     "retry 2 retries one minute apart, events kept 21600 s",
                     "trigger timer submit-hourly create 0 7 * * * * * (enabled)",
                     "trigger cos examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com create",
                     "trigger timer report-daily create 0 30 9 * * * * (enabled)"):
        assert expected in out, expected
    assert scf.changing_calls() == []


def test_plan_masks_secret_settings(project, scf, capsys):
    _, out, _ = run(project, "plan", capsys)
    assert "REPORT_WEBHOOK_URL=****" in out and "s3cr3t" not in out


def test_plan_after_changing_one_variable_is_one_line(project, scf, capsys):
    run(project, "apply", capsys)
    set_variable(project, "JOB_NAME_PREFIX", "nightly")
    code, out, _ = run(project, "plan", capsys)
    assert code == 0
    assert out.strip().splitlines() == ["~ submit, report: environment JOB_NAME_PREFIX 'autopilot' -> 'nightly'"]


def test_a_changed_secret_is_reported_without_its_value(project, scf, capsys):
    run(project, "apply", capsys)
    _, out, _ = run(project, "plan", capsys, env={**DEPLOY_ENV, "REPORT_WEBHOOK_URL": WEBHOOK + "-rotated"})
    assert out.strip() == "~ submit, report: environment REPORT_WEBHOOK_URL (secret changed)"


# --- apply ---------------------------------------------------------------------------------------------------------
def test_first_apply_creates_waits_configures_retry_publishes_moves_alias_and_creates_triggers(project, scf, capsys):
    code, out, _ = run(project, "apply", capsys)
    assert code == 0, out
    submit_calls = [a for a, p in scf.calls if p.get("FunctionName") == SUBMIT]
    assert [a for a in submit_calls if a in scf.changing_calls() or a == "GetFunction"][:7] == [
        "GetFunction", "CreateFunction", "GetFunction", "GetFunction", "UpdateFunctionEventInvokeConfig",
        "PublishVersion", "GetFunction"]
    func = scf.functions[SUBMIT]
    assert func["config"]["Handler"] == "scf_submit.main_handler" and func["config"]["Role"] == "autopilot"
    variables = {v["Key"]: v["Value"] for v in func["config"]["Environment"]["Variables"]}
    assert variables["COS_BUCKET"] == DEPLOY_ENV["COS_BUCKET"]
    assert func["retry"] == {"MsgTTL": 21600, "RetryConfig": [{"RetryNum": 2}]}
    assert scf.alias(SUBMIT) == "1" and scf.alias(REPORT) == "1"
    assert sorted(t["TriggerName"] for t in func["triggers"]) == [
        "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com"] * 2 + ["submit-hourly"]
    assert all(t["Enable"] == 1 and t["Qualifier"] == "$DEFAULT" for t in func["triggers"])


def test_second_apply_with_nothing_changed_makes_no_changing_call(project, scf, capsys):
    run(project, "apply", capsys)
    before = len(scf.changing_calls())
    code, out, _ = run(project, "apply", capsys)
    assert code == 0
    assert len(scf.changing_calls()) == before
    assert "No changes" in out and "0 changing call(s)" in out


def test_apply_after_one_variable_changes_only_configuration_and_publishes(project, scf, capsys):
    run(project, "apply", capsys)
    before = len(scf.changing_calls())
    set_variable(project, "JOB_NAME_PREFIX", "nightly")
    run(project, "apply", capsys)
    assert scf.changing_calls()[before:] == ["UpdateFunctionConfiguration", "PublishVersion", "UpdateAlias"] * 2
    assert scf.alias(SUBMIT) == "2"


def test_a_configuration_update_leaves_the_unchanged_runtime_out(project, scf, capsys):
    # The toolkit never sends Runtime on update (entities/scf.ts); the SDK documents it. Unchanged, it stays out.
    run(project, "apply", capsys)
    set_variable(project, "JOB_NAME_PREFIX", "nightly")
    run(project, "apply", capsys)
    updates = [p for a, p in scf.calls if a == "UpdateFunctionConfiguration"]
    assert updates and all("Runtime" not in p and "Handler" not in p for p in updates)
    assert {v["Key"]: v["Value"] for v in updates[0]["Environment"]["Variables"]}["JOB_NAME_PREFIX"] == "nightly"


def test_new_code_is_uploaded_once_then_left_alone(project, scf, capsys):
    run(project, "apply", capsys)
    write_package(project, "x = 2\n")
    before = len(scf.changing_calls())
    run(project, "apply", capsys)
    assert scf.changing_calls()[before:] == ["UpdateFunctionCode", "PublishVersion", "UpdateAlias"] * 2
    before = len(scf.changing_calls())
    run(project, "apply", capsys)
    assert len(scf.changing_calls()) == before


def test_a_changed_trigger_is_replaced_by_name_and_an_undeclared_one_deleted(project, scf, capsys):
    run(project, "apply", capsys)
    scf.functions[SUBMIT]["triggers"].append({"Type": "timer", "TriggerName": "old-sweep", "Enable": 1,
                                              "TriggerDesc": '{"cron":"0 0 * * * * *"}', "Qualifier": "$DEFAULT"})
    path = project / "serverless.yml"
    path.write_text(path.read_text().replace("'0 7 * * * * *'", "'0 17 * * * * *'"), encoding="utf-8")
    _, out, _ = run(project, "plan", capsys)
    assert "~ submit: trigger timer old-sweep delete" in out
    assert "~ submit: trigger timer submit-hourly delete" in out
    assert "~ submit: trigger timer submit-hourly create 0 17 * * * * * (enabled)" in out
    run(project, "apply", capsys)
    descs = {t["TriggerName"]: t["TriggerDesc"] for t in scf.functions[SUBMIT]["triggers"]}
    assert "old-sweep" not in descs and json.loads(descs["submit-hourly"]) == {"cron": "0 17 * * * * *"}


def reads_of(scf, function, since=0):
    """The read calls made for one function, GetFunction's status polls left out."""
    return sorted(a for a, p in scf.calls[since:] if p.get("FunctionName") == function
                  and a.startswith(("Get", "List")) and a != "GetFunction")


def test_an_apply_reads_each_resource_of_a_function_once(project, scf, capsys):
    run(project, "apply", capsys)
    assert reads_of(scf, SUBMIT) == []  # a new function: nothing to read but its status
    set_variable(project, "JOB_NAME_PREFIX", "nightly")
    before = len(scf.calls)
    run(project, "apply", capsys)
    assert reads_of(scf, SUBMIT, before) == ["GetAlias", "GetFunctionEventInvokeConfig", "ListTriggers",
                                             "ListVersionByFunction"]


def test_a_rollback_reads_the_alias_and_the_versions_once(project, scf, capsys):
    run(project, "apply", capsys)
    set_variable(project, "JOB_NAME_PREFIX", "nightly")
    run(project, "apply", capsys)
    before = len(scf.calls)
    run(project, "rollback", capsys)
    assert reads_of(scf, SUBMIT, before) == ["GetAlias", "ListVersionByFunction"]


def test_a_function_that_fails_to_update_is_an_error_with_scfs_reason(project, scf, capsys):
    run(project, "apply", capsys)
    set_variable(project, "JOB_NAME_PREFIX", "nightly")
    scf.fail_status = ("UpdateFailed", "Environment variable too long")
    code, _, err = run(project, "apply", capsys)
    assert code == 1 and f"{SUBMIT} ($LATEST) is UpdateFailed: Environment variable too long" in err


def test_a_package_built_for_another_runtime_is_refused(project, scf, capsys):
    write_package(project, "x = 1\n", python="3.9")
    code, _, err = run(project, "apply", capsys)
    assert code == 2 and "built for Python3.9 but serverless.yml's runtime is Python3.10" in err
    assert scf.calls == []


def test_a_missing_package_names_the_make_target(project, scf, capsys):
    (project / "build" / "cos-batch-autopilot-py310.zip").unlink()
    code, _, err = run(project, "plan", capsys)
    assert code == 2 and "make package RUNTIME=3.10" in err


def test_a_package_over_the_zipfile_limit_is_refused_before_any_call(project, scf, capsys, monkeypatch):
    monkeypatch.setattr("deploy.__main__.ZIP_FILE_LIMIT", 100)
    code, _, err = run(project, "apply", capsys)
    assert code == 2 and "at most 20 MB" in err and scf.calls == []


# --- rollback ------------------------------------------------------------------------------------------------------
def test_rollback_moves_the_alias_back_to_the_previous_version(project, scf, capsys):
    run(project, "apply", capsys)
    set_variable(project, "JOB_NAME_PREFIX", "nightly")
    run(project, "apply", capsys)
    assert scf.alias(SUBMIT) == "2"
    code, out, _ = run(project, "rollback", capsys)
    assert code == 0 and "submit: alias $DEFAULT 2 -> 1" in out
    assert scf.alias(SUBMIT) == "1" and scf.alias(REPORT) == "1"


def test_rollback_with_one_version_says_there_is_nothing_older(project, scf, capsys):
    run(project, "apply", capsys)
    code, _, err = run(project, "rollback", capsys, extra=("--function", "submit"))
    assert code == 1 and "version 1 is the oldest published version" in err


# --- errors --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("action", "code", "expected"), [
    ("CreateFunction", "ResourceNotFound.Role", "AUTOPILOT_ROLE"),
    ("CreateFunction", "InvalidParameter.RoleCheck", "carrier scf.qcloud.com"),
    ("GetFunction", "UnauthorizedOperation.CAM", "QcloudSCFFullAccess"),
    ("GetFunction", "UnsupportedRegion", "set COS_REGION"),
    ("CreateFunction", "LimitExceeded.Function", "quota"),
    ("CreateTrigger", "LimitExceeded.Trigger", "quota"),
    ("PublishVersion", "LimitExceeded.FunctionVersions", "old versions"),
    ("CreateTrigger", "ResourceInUse.Cos", "prefix that does not overlap"),
])
def test_api_errors_name_the_resource_and_the_fix(project, scf, capsys, action, code, expected):
    scf.fail[action] = (code, "message from SCF")
    rc, _, err = run(project, "apply", capsys)
    assert rc == 1
    assert f"{action} on {SUBMIT} " in err and f"{code}: message from SCF" in err and expected in err


def test_a_request_signed_with_the_wrong_key_is_refused_by_the_double(project, scf, capsys):
    rc, _, err = run(project, "plan", capsys, env={**DEPLOY_ENV, "TENCENTCLOUD_SECRETKEY": "not-the-key"})
    assert rc == 2 and "AuthFailure.SignatureFailure" in err and "TENCENTCLOUD_SECRETKEY" in err
    assert "not-the-key" not in err


def test_missing_deploy_credentials_are_a_clear_error(project, capsys):
    env = {k: v for k, v in DEPLOY_ENV.items() if not k.startswith("TENCENTCLOUD_")}
    code = main(["plan", "--config", str(project / "serverless.yml")], environ={**env, "HOME": str(project)})
    assert code == 2 and "no credentials found" in capsys.readouterr().err


def test_a_missing_dotenv_value_names_the_variable(project, scf, capsys):
    env = {k: v for k, v in DEPLOY_ENV.items() if k != "AUTOPILOT_ROLE"}
    code, _, err = run(project, "plan", capsys, env=env)
    assert code == 2 and "${env:AUTOPILOT_ROLE} is not set" in err


def test_dotenv_beside_serverless_yml_is_read(project, scf, capsys):
    (project / ".env").write_text("AUTOPILOT_ROLE=from-dotenv\n", encoding="utf-8")
    env = {k: v for k, v in DEPLOY_ENV.items() if k != "AUTOPILOT_ROLE"}
    _, out, _ = run(project, "plan", capsys, env=env)
    assert "role from-dotenv" in out


@pytest.mark.parametrize("code", sorted({c for kind in ERROR_KINDS.values() for c in kind.codes}))
def test_every_translated_error_code_is_published(code):
    # The SDK's errorcodes.py (TencentCloud/tencentcloud-sdk-python tencentcloud/scf/v20180416/errorcodes.py) lists
    # SCF's own codes; the common ones are on the API's error-code page (cloud.tencent.com/document/api/583/30771).
    from tencentcloud.scf.v20180416 import errorcodes
    common = {"UnsupportedRegion", "LimitExceeded", "RequestLimitExceeded", "AuthFailure.SecretIdNotFound",
              "AuthFailure.InvalidSecretId", "AuthFailure.SignatureFailure", "AuthFailure.SignatureExpire",
              "AuthFailure.TokenFailure", "AuthFailure.UnauthorizedOperation", "UnauthorizedOperation"}
    published = {v for k, v in vars(errorcodes).items() if k.isupper()} | common
    assert code in published


def test_the_double_needs_no_network_and_unregistered_urls_fail():
    import requests
    with responses.RequestsMock() as rsps:
        assert not rsps.registered()
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get("https://scf.tencentcloudapi.com/", timeout=1)


def test_deploy_is_runnable_as_a_module_and_shows_its_commands():
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "deploy", "--help"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    assert "{plan,apply,rollback,lifecycle,state-policy,inventory}" in out

