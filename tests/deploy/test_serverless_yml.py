"""serverless.yml, checked against the settings model: what SCF will deploy must be what lib.config accepts."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML parses serverless.yml in these tests (dev dependency)")

from deploy.config_table import deployable, yaml_comment  # noqa: E402
from deploy.package import paths_for  # noqa: E402
from lib.config import BACKUP_PREFIX, ENV_NAMES, Settings, load_settings, parse_timer_argument  # noqa: E402
from lib.submit import lease_ttl  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
YML = ROOT / "serverless.yml"
# What a user's .env supplies; the tests substitute it where serverless.yml says ${env:NAME}.
DOTENV = {"COS_BUCKET": "examplebucket-1250000000", "COS_REGION": "ap-guangzhou", "AUTOPILOT_ROLE": "autopilot"}
_ENV_REF = re.compile(r"\$\{env:([A-Z_]+)\}")
# Cron fields: second minute hour day-of-month month day-of-week year (SCF timer doc 583/9708).
_CRON_FIELD = re.compile(r"^[0-9A-Z*?/,\-LW#]+$")


def resolve(value: Any) -> Any:
    return _ENV_REF.sub(lambda m: DOTENV[m.group(1)], value) if isinstance(value, str) else value


@pytest.fixture(scope="module")
def config() -> Dict[str, Any]:
    return yaml.safe_load(YML.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def inputs(config: Dict[str, Any]) -> Dict[str, Any]:
    return config["inputs"]


def variables(inputs: Dict[str, Any], function: str) -> Dict[str, str]:
    return inputs["functions"][function]["environment"]["variables"]


def triggers(inputs: Dict[str, Any], kind: str) -> List[Dict[str, Any]]:
    return [t for t in inputs["triggers"] if t["type"] == kind]


def test_it_is_a_multi_scf_app_on_python_3_10(config, inputs):
    assert config["component"] == "multi-scf"
    assert inputs["runtime"] == "Python3.10"
    assert set(inputs["functions"]) == {"submit", "report"}


@pytest.mark.parametrize("function", ["submit", "report"])
def test_each_function_names_its_handler_timeout_memory_and_role(inputs, function):
    spec = inputs["functions"][function]
    assert spec["handler"] == f"handlers/{function}.main_handler"
    assert 1 <= spec["timeout"] <= 900  # event functions; the component default of 3 s would time out
    assert spec["memorySize"] == 64 or (128 <= spec["memorySize"] <= 3072 and spec["memorySize"] % 128 == 0)
    assert spec["role"], "without a role SCF injects no credentials"
    # A claim must outlive the run but lapse before SCF's retry a minute later, or a killed upload is never retried.
    ttl = lease_ttl(load_settings(resolve_all(variables(inputs, function))), spec["timeout"])
    assert spec["timeout"] < ttl.total_seconds() < spec["timeout"] + 60


@pytest.mark.parametrize("function", ["submit", "report"])
def test_handler_module_exists(function):
    path = ROOT / "handlers" / f"{function}.py"
    if function == "report" and not path.exists():
        pytest.skip("handlers/report.py is being written in its own issue")
    assert "def main_handler(event" in path.read_text(encoding="utf-8")


def resolve_all(values: Dict[str, str]) -> Dict[str, str]:
    return {k: resolve(v) for k, v in values.items()}


def test_both_functions_get_the_same_variables(inputs):
    assert variables(inputs, "submit") == variables(inputs, "report")


def test_every_setting_is_declared_and_nothing_else(inputs):
    expected = {env for env in ENV_NAMES.values() if deployable(env)}
    assert set(variables(inputs, "submit")) == expected


def test_no_variable_uses_a_prefix_scf_reserves(inputs):
    assert not [k for k in variables(inputs, "submit") if k.startswith(("SCF_", "QCLOUD_", "TENCENTCLOUD_"))]


def test_every_required_setting_is_set(inputs):
    required = {ENV_NAMES[name] for name, info in Settings.model_fields.items() if info.is_required()}
    assert required and all(variables(inputs, "submit")[env] for env in required)


def test_the_variables_as_deployed_load_into_valid_settings(inputs):
    settings = load_settings(resolve_all(variables(inputs, "submit")))
    assert settings.bucket == DOTENV["COS_BUCKET"] and settings.emulator_url is None


def test_the_emulator_switch_is_off_when_deployed(inputs):
    assert not variables(inputs, "submit").get("COS_EMULATOR_URL")


def test_values_are_strings_so_yaml_does_not_retype_them(inputs):
    # SCF variables are strings; an unquoted `false` or `10.0` would reach the API as a YAML bool/float.
    assert all(isinstance(v, str) for v in variables(inputs, "submit").values())


def test_every_variable_carries_its_generated_comment():
    lines = YML.read_text(encoding="utf-8").splitlines()
    missing = []
    for env in (e for e in ENV_NAMES.values() if deployable(e)):
        index = next(i for i, line in enumerate(lines) if line.strip().startswith(f"{env}:"))
        above = []
        for line in reversed(lines[:index]):
            if not line.strip().startswith("#"):
                break
            above.append(line.strip())
        if yaml_comment(env) not in above:
            missing.append(env)
    assert not missing, "refresh the comments from `python -m deploy.config_table --yaml`: " + ", ".join(missing)


def test_every_trigger_is_enabled(inputs):
    assert inputs["triggers"] and all(t["parameters"]["enable"] is True for t in inputs["triggers"])


def test_triggers_point_at_declared_functions(inputs):
    assert {t["function"] for t in inputs["triggers"]} == {"submit", "report"}


def test_timer_crons_have_seven_fields(inputs):
    for trigger in triggers(inputs, "timer"):
        fields = trigger["parameters"]["cronExpression"].split()
        assert len(fields) == 7 and all(_CRON_FIELD.match(f) for f in fields), trigger["parameters"]["name"]


def test_timer_names_are_unique_and_within_scf_limits(inputs):
    names = [t["parameters"]["name"] for t in triggers(inputs, "timer")]
    assert len(names) == len(set(names))
    assert all(re.match(r"^[A-Za-z][A-Za-z0-9_-]{0,59}$", n) for n in names)


def test_timer_arguments_are_valid_overrides(inputs):
    base = resolve_all(variables(inputs, "submit"))
    for trigger in triggers(inputs, "timer"):
        load_settings(base, parse_timer_argument(trigger["parameters"].get("argument", "")))


def test_commented_argument_examples_are_valid_overrides(inputs):
    examples = re.findall(r"argument: '(\{.*?\})'", YML.read_text(encoding="utf-8"))
    assert len(examples) >= 2
    base = resolve_all(variables(inputs, "submit"))
    for example in examples:
        load_settings(base, parse_timer_argument(example))


def test_submit_has_an_hourly_timer_and_report_a_daily_one(inputs):
    by_function = {t["function"]: t["parameters"]["cronExpression"].split() for t in triggers(inputs, "timer")}
    assert by_function["submit"][1].isdigit() and by_function["submit"][2] == "*"
    assert by_function["report"][2].isdigit() and by_function["report"][3:6] == ["*", "*", "*"]


def test_cos_trigger_names_the_bucket_domain_and_fires_on_creation(inputs):
    (cos,) = triggers(inputs, "cos")
    params = cos["parameters"]
    assert cos["function"] == "submit"
    assert resolve(params["bucket"]) == "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com"
    assert params["events"] == "cos:ObjectCreated:*"


def test_cos_trigger_prefix_never_covers_what_the_functions_write(inputs):
    prefix = triggers(inputs, "cos")[0]["parameters"]["filter"]["prefix"]
    settings = load_settings(resolve_all(variables(inputs, "submit")))
    assert prefix and not prefix.startswith("/")
    for written in (settings.state_prefix, settings.report_prefix, BACKUP_PREFIX):
        # Overlap either way means one of our own writes could fire the trigger (recursion).
        assert not written.startswith(prefix) and not prefix.startswith(written), written


def test_src_is_the_package_make_package_builds(inputs):
    src = inputs["src"]["src"] if isinstance(inputs["src"], dict) else inputs["src"]
    assert (ROOT / src).resolve() == paths_for("3.10").directory.resolve()


def test_package_path_exists_after_make_package(inputs):
    package = paths_for("3.10").directory
    if not package.exists():
        pytest.skip("build/package-py310 is built by `make package`")
    assert (package / "handlers" / "submit.py").exists() and (package / "pydantic_core").is_dir()
