"""Settings: every invalid value is named with its value and what is allowed, and nothing is sent."""
from __future__ import annotations

from typing import Annotated, Any, Dict, Literal, Optional

import pytest
import responses
from pydantic import BaseModel, SecretStr

from lib.config import (
    NARROWS_ONLY,
    OVERRIDABLE,
    SECRET_FIELDS,
    Setting,
    SettingDeclarationError,
    declared_settings,
    load_settings,
    parse_timer_argument,
)
from lib.errors import ConfigError
from tests.support.settings import ENV


def test_defaults_need_only_bucket_and_region():
    settings = load_settings({"COS_BUCKET": "examplebucket-1250000000", "COS_REGION": "ap-guangzhou"})
    assert settings.job_type == "Job"
    assert settings.inspect_process_type == "BackupObject"
    assert settings.inspect_auto_process is False
    assert settings.window.kind == "incremental"
    assert settings.input_prefix == "/"
    assert settings.job_name_prefix == "autopilot"
    assert settings.state_prefix == "autopilot/"
    assert settings.upload_suffixes == (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif")


@pytest.mark.parametrize(("variable", "value", "expected"), [
    ("COS_BUCKET", "examplebucket", "COS_BUCKET='examplebucket': must be BucketName-APPID"),
    ("COS_BUCKET", "Example-1250000000", "COS_BUCKET='Example-1250000000'"),
    ("COS_REGION", "guangzhou", "COS_REGION='guangzhou': must be a COS region"),
    ("COS_REGION", "ap-guangzou", "COS_REGION='ap-guangzou': must be a COS region such as ap-guangzhou or "
                                  "ap-shanghai; did you mean ap-guangzhou?"),
    ("COS_REGION", "ap-atlantis", "COS_REGION='ap-atlantis': must be a COS region"),
    ("JOB_TYPE", "Batch", "JOB_TYPE='Batch': must be Job"),
    ("WORKFLOW_IDS", "not-an-id", "WORKFLOW_IDS='not-an-id'"),
    ("INSPECT_AUTO_PROCESS", "maybe", "INSPECT_AUTO_PROCESS='maybe': must be true or false"),
    ("INSPECT_PROCESS_TYPE", "Quarantine", "INSPECT_PROCESS_TYPE='Quarantine': must be one of BackupObject"),
    ("INPUT_PREFIX", "/images/", "INPUT_PREFIX='/images/': object keys do not start with '/'"),
    ("WINDOW", "fortnightly", "WINDOW='fortnightly': must be incremental, all, or a duration"),
    ("FIRST_RUN_LOOKBACK", "0h", "FIRST_RUN_LOOKBACK='0h'"),
    ("JOB_NAME_PREFIX", "auto pilot", "JOB_NAME_PREFIX='auto pilot': must be 1-40 letters"),
    ("UPLOAD_SUFFIXES", "jpg,png", "UPLOAD_SUFFIXES='jpg,png'"),
    ("STATE_PREFIX", "autopilot", "STATE_PREFIX='autopilot': must be a folder"),
    ("STATE_PREFIX", "abnormal_images_backup/x/", "must not be under abnormal_images_backup/"),
    ("LEASE_SECONDS", "5", "LEASE_SECONDS='5'"),
    ("API_TIMEOUT", "soon", "API_TIMEOUT='soon'"),
    ("COS_EMULATOR_URL", "https://example.com", "COS_EMULATOR_URL='https://example.com'"),
    ("REPORT_LOOKBACK", "yesterday", "REPORT_LOOKBACK='yesterday'"),
    ("REPORT_STUCK_AFTER", "-1h", "REPORT_STUCK_AFTER='-1h'"),
    ("REPORT_PREFIX", "/reports/", "REPORT_PREFIX='/reports/'"),
    ("REPORT_WEBHOOK_FORMAT", "teams", "REPORT_WEBHOOK_FORMAT='teams': must be one of wecom"),
    ("REPORT_NOTIFY", "sometimes", "REPORT_NOTIFY='sometimes': must be always or on-problem"),
    ("REPORT_FAIL_ABOVE", "1.5", "REPORT_FAIL_ABOVE='1.5': must be a share of jobs between 0 and 1"),
    ("REPORT_ALL_JOBS", "perhaps", "REPORT_ALL_JOBS='perhaps': must be true or false"),
    ("REPORT_CONCURRENCY", "0", "REPORT_CONCURRENCY='0': must be 1-64 per-object reads in flight"),
    ("REPORT_CONCURRENCY", "65", "REPORT_CONCURRENCY='65': must be 1-64"),
    ("ALLOW_DELETE_WHOLE_BUCKET", "yes please", "ALLOW_DELETE_WHOLE_BUCKET='yes please'"),
])
def test_invalid_value_names_variable_value_and_rule(variable, value, expected):
    with responses.RequestsMock() as rsps:  # any HTTP call would fail the test
        with pytest.raises(ConfigError) as caught:
            load_settings({**ENV, variable: value})
        assert len(rsps.calls) == 0
    assert expected in str(caught.value)


@pytest.mark.parametrize("missing", ["COS_BUCKET", "COS_REGION"])
def test_missing_required_variable_is_named(missing):
    env = {k: v for k, v in ENV.items() if k != missing}
    with pytest.raises(ConfigError, match=f"{missing} is required but not set"):
        load_settings(env)


def test_workflow_type_requires_workflow_ids():
    with pytest.raises(ConfigError, match="WORKFLOW_IDS is required when JOB_TYPE=Workflow"):
        load_settings({**ENV, "JOB_TYPE": "Workflow"})


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as caught:
        load_settings({**ENV, "COS_REGION": "x", "WINDOW": "5x", "INSPECT_AUTO_PROCESS": "maybe"})
    assert len(caught.value.problems) == 3


def test_invalid_webhook_url_is_reported_without_its_value():
    with pytest.raises(ConfigError) as caught:
        load_settings({**ENV, "REPORT_WEBHOOK_URL": "ftp://hooks.example/secret-token-123"})
    assert "REPORT_WEBHOOK_URL='<hidden>'" in str(caught.value)
    assert "secret-token-123" not in str(caught.value)


@pytest.mark.parametrize("variable", ["TENCENTCLOUD_SECRETID", "TENCENTCLOUD_SECRETKEY", "TENCENTCLOUD_SESSIONTOKEN"])
@pytest.mark.parametrize("value", [" AKIDsecret123", "AKIDsecret123 ", "AKIDsecret123\n"])
def test_a_credential_with_edge_whitespace_is_named_without_its_value(variable, value):
    with pytest.raises(ConfigError) as caught:
        load_settings({**ENV, variable: value})
    assert f"{variable}='<hidden>': starts or ends with whitespace" in str(caught.value)
    assert "AKIDsecret123" not in str(caught.value)


def test_secrets_never_render():
    settings = load_settings(ENV)
    assert ENV["TENCENTCLOUD_SECRETKEY"] not in repr(settings)
    assert ENV["TENCENTCLOUD_SECRETKEY"] not in settings.model_dump_json()


def test_timer_argument_overrides_settings_for_that_trigger():
    overrides = parse_timer_argument('{"INPUT_PREFIX": "avatars/", "WINDOW": "1h", "INSPECT_AUTO_PROCESS": true}')
    settings = load_settings(ENV, overrides)
    assert (settings.input_prefix, settings.window.lookback.total_seconds(), settings.inspect_auto_process) == \
        ("avatars/", 3600, True)


@pytest.mark.parametrize(("argument", "expected"), [
    ("{not json", "timer argument is not valid JSON"),
    ("[1, 2]", "must be a JSON object of settings, got list"),
    ('{"INPUT_PREFIX": {"nested": 1}}', "must be a string, number or boolean"),
])
def test_invalid_timer_argument_is_a_clear_error(argument, expected):
    with pytest.raises(ConfigError, match=expected):
        parse_timer_argument(argument)


@pytest.mark.parametrize("key", ["TENCENTCLOUD_SECRETKEY", "COS_BUCKET", "COS_EMULATOR_URL", "INPUT_PREFX"])
def test_timer_argument_may_not_set_unknown_or_function_wide_keys(key):
    with pytest.raises(ConfigError, match=f"timer argument key '{key}' is not a setting a trigger may override"):
        load_settings(ENV, {key: "x"})


def test_empty_timer_argument_means_no_overrides():
    assert parse_timer_argument("") == {}
    assert parse_timer_argument("   ") == {}


# Published timer examples pass free text as the argument: SCF's doc sample (cloud.tencent.com/document/product/583/9708,
# read 2026-12-01) "user define msg body", and the multi-scf log in Serverlesstencent/serverless-cloud-framework
# docs/function/multi-scf.md "argument". Free text is a label, not overrides.
@pytest.mark.parametrize("argument", ["user define msg body", "argument", "42", "nightly run: videos/"])
def test_plain_text_timer_argument_means_no_overrides(argument):
    assert parse_timer_argument(argument) == {}


def test_a_timer_argument_may_override_exactly_these_settings():
    assert OVERRIDABLE == {"job_type", "workflow_ids", "inspect_auto_process", "inspect_process_type", "input_prefix",
                           "input_source", "inventory_id", "window", "first_run_lookback", "rule_name", "upload_suffixes", "lease_seconds",
                           "api_timeout", "report_lookback", "report_all_jobs", "report_stuck_after", "report_notify",
                           "report_fail_above", "report_link", "report_link_expires", "report_cancel_duplicates",
                           "report_concurrency"}
    assert NARROWS_ONLY == {"inspect_auto_process", "inspect_process_type", "input_prefix"}


def test_the_secret_settings_are_the_secretstr_fields():
    assert SECRET_FIELDS == {"secret_id", "secret_key", "session_token", "report_webhook_url"}


# A setting is declared once, on its field; the derivation refuses a declaration that would leave a table or the docs
# without it, naming the field, instead of silently dropping it.
def _setting(**changes: Any) -> Setting:
    declared: Dict[str, Any] = {"env": "PROBE_MODE", "timer": "yes", "what": "What it does.", "allowed": "fast or slow"}
    declared.update(changes)
    return Setting(declared.pop("env"), **declared)


def test_a_field_declared_without_a_setting_fails_naming_the_field():
    class Probe(BaseModel):
        declared: Annotated[str, _setting()] = "fast"
        forgotten: int = 3

    with pytest.raises(SettingDeclarationError, match=r"^Probe\.forgotten: has 0 Setting\(\.\.\.\)"):
        declared_settings(Probe)


@pytest.mark.parametrize(("changes", "expected"), [
    ({"env": ""}, "environment name '' is not one"),
    ({"env": "probe_mode"}, "environment name 'probe_mode' is not one"),
    ({"what": ""}, "what='' is empty"),
    ({"allowed": "  "}, "allowed='  ' is empty"),
    ({"timer": "sometimes"}, "timer='sometimes' is not one of yes, narrows only, no"),
    ({"error": "must be fast"}, "error= is only for a Literal field"),
])
def test_a_setting_without_its_name_docs_or_override_rule_fails_naming_the_field(changes, expected):
    class Probe(BaseModel):
        mode: Annotated[str, _setting(**changes)] = "fast"

    with pytest.raises(SettingDeclarationError, match=f"^Probe.mode: {expected}"):
        declared_settings(Probe)


def test_a_choice_the_allowed_words_do_not_name_fails():
    class Probe(BaseModel):
        mode: Annotated[Literal["fast", "slow", "off"], _setting(allowed="fast or slow")] = "fast"

    with pytest.raises(SettingDeclarationError, match="^Probe.mode: allowed='fast or slow' does not name off"):
        declared_settings(Probe)


def test_a_secret_a_timer_argument_could_set_fails():
    class Probe(BaseModel):
        token: Annotated[Optional[SecretStr], _setting(env="PROBE_TOKEN", timer="yes")] = None

    with pytest.raises(SettingDeclarationError, match="^Probe.token: timer='yes' on a secret"):
        declared_settings(Probe)


def test_two_settings_with_one_environment_name_fail():
    class Probe(BaseModel):
        mode: Annotated[str, _setting()] = "fast"
        other: Annotated[str, _setting()] = "slow"

    with pytest.raises(SettingDeclarationError, match="^Probe.other: environment name 'PROBE_MODE' is already mode's"):
        declared_settings(Probe)


def test_a_complete_declaration_is_read_in_field_order():
    class Probe(BaseModel):
        mode: Annotated[Literal["fast", "slow"], _setting(error="must be fast or slow")] = "fast"
        token: Annotated[Optional[SecretStr], _setting(env="PROBE_TOKEN", timer="no")] = None

    assert [(field, setting.env) for field, setting in declared_settings(Probe).items()] == \
        [("mode", "PROBE_MODE"), ("token", "PROBE_TOKEN")]
