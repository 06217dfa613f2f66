"""serverless.yml, checked rule by rule against the published source of the tools that read it, and against lib.config.

Sources (read 2026-12-01; each rule below names the file it comes from):
  MSCF = github.com/serverless-components/tencent-multi-scf @02cf5633 (component 0.3.14)
  KIT  = github.com/serverless-tencent/tencent-component-toolkit @4b0b78ba
  CLI  = github.com/Serverlesstencent/serverless-cloud-framework @a7c19d42
  API  = SCF API 3.0, CreateFunction (cloud.tencent.com/document/api/583/18586) and the SDK's field docs in
         TencentCloud/tencentcloud-sdk-python tencentcloud/scf/v20180416/models.py
  TIMER = SCF timer trigger doc (cloud.tencent.com/document/product/583/9708)
"""
from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Callable, Dict, List, NamedTuple

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML parses serverless.yml in these tests (dev dependency)")

from deploy.config_table import deployable, yaml_comment, yaml_entry  # noqa: E402
from deploy.package import paths_for  # noqa: E402
from deploy.spec import DEFAULT_MSG_TTL, DEFAULT_RETRY_NUM, function_name, load_app  # noqa: E402
from deploy.spec import resolve as resolve_env  # noqa: E402
from lib.config import BACKUP_PREFIX, ENV_NAMES, Settings, load_settings, parse_timer_argument  # noqa: E402
from lib.submit.run import lease_ttl  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
YML = ROOT / "serverless.yml"
DEPLOY_MD = ROOT / "docs" / "deploy.md"
# What a user's .env supplies; the tests substitute it where serverless.yml says ${env:NAME}.
DOTENV = {"COS_BUCKET": "examplebucket-1250000000", "COS_REGION": "ap-guangzhou", "AUTOPILOT_ROLE": "autopilot"}

# MSCF serverless.component.yml, actions.deploy.inputs (the CLI validates inputs against these lists).
COMPONENT_REGIONS = {"ap-beijing", "ap-chengdu", "ap-chongqing", "ap-guangzhou", "ap-hongkong", "ap-mumbai",
                     "ap-seoul", "ap-shanghai", "ap-shanghai-fsi", "ap-shenzhen-fsi", "ap-singapore", "ap-tokyo",
                     "eu-frankfurt", "na-siliconvalley", "na-toronto"}
COMPONENT_RUNTIMES = {"Python2.7", "Python3.6", "Python3.7", "Nodejs6.10", "Nodejs8.9", "Nodejs10.15", "Nodejs12.16",
                      "Nodejs14.18", "Nodejs16.13", "Php5", "Php7", "Php7.4", "Php8.0", "Go1", "Java8", "Java11",
                      "CustomRuntime"}
COMPONENT_MEMORY = {64} | set(range(128, 3072 + 1, 128))
# SCF's own Python runtimes we build for (deploy/package.py RUNTIMES); SCF lists them, the component does not.
SCF_PYTHON_RUNTIMES = {"Python3.9", "Python3.10"}
# API CreateFunction FunctionName: letters, digits, '-', '_'; starts with a letter; ends with neither; 2-60.
FUNCTION_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,58}[A-Za-z0-9]$")
# API CreateFunction Handler: "file.method", each starting and ending with a letter, 2-60 characters.
_PART = r"[A-Za-z][A-Za-z0-9_-]{0,58}[A-Za-z]"
HANDLER = re.compile(rf"^{_PART}\.{_PART}$")
# API CreateFunction Description: up to 1000 letters, digits, spaces, commas, newlines, full stops; Chinese allowed.
DESCRIPTION = re.compile(r"^[A-Za-z0-9 ,\n.\u4e00-\u9fff]{0,1000}$")
# TIMER: trigger name up to 60 of [a-zA-Z0-9_-], starting with a letter; cron has 7 fields.
TIMER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,59}$")
CRON_FIELD = re.compile(r"^[0-9A-Z*?/,\-LW#]+$")
# KIT src/modules/triggers/cos.ts: TriggerName = parameters.bucket, the bucket's domain.
BUCKET_DOMAIN = re.compile(r"^[a-z0-9-]+-\d+\.cos\.[a-z0-9-]+\.myqcloud\.com$")


def resolve(value: Any) -> Any:
    """value with ${env:NAME} substituted from DOTENV, as `python -m deploy` substitutes it."""
    return resolve_env(value, DOTENV, "serverless.yml")


def load_yml() -> Dict[str, Any]:
    return yaml.safe_load(YML.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def config() -> Dict[str, Any]:
    return load_yml()


def functions(config: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    return config["inputs"]["functions"]


def upload_triggers(config: Dict[str, Any]) -> List[Dict[str, Any]]:
    # The inventory's manifest.checksum trigger (tests/deploy/test_inventory_trigger.py) is told apart by its suffix.
    return [t for t in config["inputs"]["triggers"]
            if t["type"] == "cos" and t["parameters"]["filter"].get("suffix") != "manifest.checksum"]


def merged(config: Dict[str, Any], key: str) -> Dict[str, Any]:
    # MSCF src/formatter.ts formatInputs: each function is Object.assign({}, commonInputs, func).
    common = {k: v for k, v in config["inputs"].items() if k not in ("functions", "triggers", "src")}
    return {**common, **functions(config)[key]}


def variables(config: Dict[str, Any], key: str = "submit") -> Dict[str, str]:
    # MSCF src/formatter.ts formatFaasInputs: environments [{key, value}] -> environment.variables.
    return {item["key"]: item["value"] for item in merged(config, key).get("environments") or []}


# --- the rules: each returns what serverless.yml breaks (empty = fine) -----------------------------------------
def rule_environments_list_not_environment(config) -> List[str]:
    # MSCF src/formatter.ts formatFaasInputs: `environments = []` by default, then `inputs.environment` is always
    # overwritten with its entries, so `environment.variables` alone deploys a function with no settings.
    out = []
    for key, func in functions(config).items():
        if "environment" in func:
            out.append(f"{key}: `environment` is overwritten by formatFaasInputs; use environments: [{{key, value}}]")
        items = func.get("environments")
        if not isinstance(items, list) or not items:
            out.append(f"{key}: no environments list")
        elif not all(isinstance(i, dict) and set(i) == {"key", "value"} for i in items):
            out.append(f"{key}: every environments item must be exactly {{key, value}}")
    return out


def rule_environment_values_are_non_empty_strings(config) -> List[str]:
    # KIT src/modules/scf/utils.ts formatInputs sends Value: String(val): an unquoted YAML false/10.0 would be
    # retyped, and an empty value means the default anyway (and SCF may refuse it), so empty entries stay out.
    return [f"{fn}: {k}={v!r}" for fn in functions(config) for k, v in variables(config, fn).items()
            if not isinstance(v, str) or not v]


def rule_function_names_are_valid(config) -> List[str]:
    # MSCF src/formatter.ts formatScfName: `${name}-${stage}-${app}-${key}`; API CreateFunction FunctionName rule.
    names = [function_name(config, key, func) for key, func in functions(config).items()]
    return [n for n in names if not FUNCTION_NAME.match(n)]


def rule_runtime_is_allowed_or_guide_says_no_validation(config) -> List[str]:
    # MSCF serverless.component.yml runtime allow-list; CLI docs/commands/deploy.md: `--noValidation` skips it.
    runtimes = {merged(config, key)["runtime"] for key in functions(config)}
    refused = runtimes - COMPONENT_RUNTIMES
    if refused - SCF_PYTHON_RUNTIMES:
        return [f"runtime {sorted(refused - SCF_PYTHON_RUNTIMES)} is neither in the component's list nor ours"]
    if refused and "scf deploy --noValidation" not in DEPLOY_MD.read_text(encoding="utf-8"):
        return [f"runtime {sorted(refused)} is refused by the component; docs/deploy.md must say --noValidation"]
    return []


def rule_region_memory_timeout_in_component_ranges(config) -> List[str]:
    # MSCF serverless.component.yml: region allow-list, memorySize allow-list, timeout in [1, 900].
    out = [] if resolve(config["inputs"]["region"]) in COMPONENT_REGIONS else ["region"]
    for key in functions(config):
        func = merged(config, key)
        if func["memorySize"] not in COMPONENT_MEMORY:
            out.append(f"{key}.memorySize={func['memorySize']}")
        if not 1 <= func["timeout"] <= 900:
            out.append(f"{key}.timeout={func['timeout']}")
    return out


def rule_handlers_are_scf_file_dot_function(config) -> List[str]:
    # API CreateFunction Handler "文件名称.方法名称": no '/', so the entry file sits at the package root.
    return [f"{key}.handler={f['handler']!r}" for key, f in functions(config).items()
            if not HANDLER.match(f["handler"]) or not (ROOT / (f["handler"].rpartition(".")[0] + ".py")).exists()]


def rule_descriptions_use_allowed_characters(config) -> List[str]:
    # API CreateFunction Description (models.py CreateFunctionRequest.Description).
    return [key for key in functions(config) if not DESCRIPTION.match(str(merged(config, key).get("description", "")))]


def rule_triggers_name_declared_functions(config) -> List[str]:
    # MSCF src/formatter.ts formatTriggerInputs: "Function ${functionKey} not in deploy list".
    return [str(t.get("function")) for t in config["inputs"]["triggers"] if t.get("function") not in functions(config)]


def rule_triggers_are_enabled(config) -> List[str]:
    # KIT src/modules/triggers/timer.ts and cos.ts: `Enable: parameters?.enable ? 'OPEN' : 'CLOSE'`.
    return [t["parameters"].get("name", t["type"]) for t in config["inputs"]["triggers"]
            if t["parameters"].get("enable") is not True]


def rule_timer_triggers_are_well_formed(config) -> List[str]:
    # KIT timer.ts: TriggerName = parameters.name, TriggerDesc = cronExpression, CustomArgument = argument;
    # TIMER: name rule and 7-field cron.
    out = []
    timers = [t["parameters"] for t in config["inputs"]["triggers"] if t["type"] == "timer"]
    names = [p.get("name", "") for p in timers]
    out += [f"duplicate timer name {n}" for n in set(names) if names.count(n) > 1]
    out += [f"timer name {n!r}" for n in names if not TIMER_NAME.match(n)]
    for p in timers:
        fields = str(p.get("cronExpression", "")).split()
        if len(fields) != 7 or not all(CRON_FIELD.match(f) for f in fields):
            out.append(f"{p.get('name')}: cron {p.get('cronExpression')!r}")
    return out


def rule_cos_trigger_is_named_by_its_bucket_domain(config) -> List[str]:
    # KIT src/modules/triggers/cos.ts: TriggerName = parameters.bucket; TriggerDesc {event, filter {Prefix, Suffix}}.
    out = []
    for t in (t for t in config["inputs"]["triggers"] if t["type"] == "cos"):
        p = t["parameters"]
        if not BUCKET_DOMAIN.match(resolve(p.get("bucket", ""))):
            out.append(f"bucket {p.get('bucket')!r} is not <BucketName-APPID>.cos.<Region>.myqcloud.com")
        if not isinstance(p.get("events"), str) or not isinstance(p.get("filter", {}).get("prefix"), str):
            out.append("events must be a string and filter.prefix set")
    return out


def rule_retry_is_explicit_and_matches_what_scf_deploy_leaves(config) -> List[str]:
    # KIT src/modules/scf/index.ts deploy: updateAsyncRetry runs only `if (inputs.asyncRunEnable)`, and
    # entities/scf.ts updateConfigure deletes AsyncRunEnable (create-only). We leave asyncRunEnable off, so through
    # `scf deploy` SCF's defaults hold; retryNum/msgTTL must equal them (updateAsyncRetry's `?? 2`, `|| 21600`) so
    # both deploy paths give the lease design the same retry timing.
    out = []
    for key, func in functions(config).items():
        if "asyncRunEnable" in merged(config, key):
            out.append(f"{key}: asyncRunEnable changes the execution mode and cannot be updated later")
        if (func.get("retryNum"), func.get("msgTTL")) != (DEFAULT_RETRY_NUM, DEFAULT_MSG_TTL):
            out.append(f"{key}: retryNum/msgTTL={func.get('retryNum')}/{func.get('msgTTL')}")
    return out


class Rule(NamedTuple):
    source: str
    check: Callable[[Dict[str, Any]], List[str]]


RULES = [
    Rule("MSCF src/formatter.ts formatFaasInputs", rule_environments_list_not_environment),
    Rule("KIT src/modules/scf/utils.ts formatInputs", rule_environment_values_are_non_empty_strings),
    Rule("MSCF src/formatter.ts formatScfName + API CreateFunction", rule_function_names_are_valid),
    Rule("MSCF serverless.component.yml runtime + CLI docs/commands/deploy.md",
         rule_runtime_is_allowed_or_guide_says_no_validation),
    Rule("MSCF serverless.component.yml region/memorySize/timeout", rule_region_memory_timeout_in_component_ranges),
    Rule("API CreateFunction Handler", rule_handlers_are_scf_file_dot_function),
    Rule("API CreateFunction Description", rule_descriptions_use_allowed_characters),
    Rule("MSCF src/formatter.ts formatTriggerInputs", rule_triggers_name_declared_functions),
    Rule("KIT src/modules/triggers/timer.ts, cos.ts Enable", rule_triggers_are_enabled),
    Rule("KIT src/modules/triggers/timer.ts + TIMER", rule_timer_triggers_are_well_formed),
    Rule("KIT src/modules/triggers/cos.ts", rule_cos_trigger_is_named_by_its_bucket_domain),
    Rule("KIT src/modules/scf/index.ts deploy + entities/scf.ts", rule_retry_is_explicit_and_matches_what_scf_deploy_leaves),
]


@pytest.mark.parametrize("rule", RULES, ids=[r.check.__name__[5:] for r in RULES])
def test_serverless_yml_keeps_the_rule(config, rule):
    assert rule.check(config) == [], f"{rule.source}: {rule.check(config)}"


def _break_environment(c):
    c["inputs"]["functions"]["submit"]["environment"] = {"variables": {"COS_BUCKET": "b-1250000000"}}


def _break_handler(c):
    c["inputs"]["functions"]["submit"]["handler"] = "handlers/submit.main_handler"


def _break_description(c):
    c["inputs"]["functions"]["report"]["description"] = "cos-batch-autopilot (report)"


def _break_trigger_enable(c):
    del c["inputs"]["triggers"][0]["parameters"]["enable"]


def _break_retry(c):
    c["inputs"]["functions"]["submit"]["asyncRunEnable"] = True


def _break_runtime(c):
    c["inputs"]["runtime"] = "Python3.12"


@pytest.mark.parametrize(("rule", "breakage"), [
    (rule_environments_list_not_environment, _break_environment),
    (rule_handlers_are_scf_file_dot_function, _break_handler),
    (rule_descriptions_use_allowed_characters, _break_description),
    (rule_triggers_are_enabled, _break_trigger_enable),
    (rule_retry_is_explicit_and_matches_what_scf_deploy_leaves, _break_retry),
    (rule_runtime_is_allowed_or_guide_says_no_validation, _break_runtime),
])
def test_a_broken_rule_is_reported(rule, breakage):
    broken = copy.deepcopy(load_yml())
    breakage(broken)
    assert rule(broken), f"{rule.__name__} did not notice the breakage"


def test_the_old_environment_shape_deploys_no_settings_through_the_python_path_too(tmp_path):
    # deploy/spec.py mirrors formatFaasInputs; it refuses `environment` rather than deploy a function without settings.
    broken = load_yml()
    _break_environment(broken)
    del broken["inputs"]["functions"]["submit"]["environments"]
    path = tmp_path / "serverless.yml"
    path.write_text(yaml.safe_dump(broken), encoding="utf-8")
    with pytest.raises(ValueError, match="multi-scf ignores it"):
        load_app(path, DOTENV)


# --- the same file, read as the settings model reads it -----------------------------------------------------------
def test_it_is_a_multi_scf_app_with_a_submit_and_a_report_function(config):
    assert config["component"] == "multi-scf"
    assert set(functions(config)) == {"submit", "report"}


@pytest.mark.parametrize("function", ["submit", "report"])
def test_each_function_has_a_role_and_a_lease_that_lapses_before_scf_retries(config, function):
    spec = merged(config, function)
    assert spec["role"], "without a role SCF injects no credentials"
    # SCF retries a failed run one minute later (583/41138): a claim must outlive the run but lapse before that.
    ttl = lease_ttl(load_settings(resolve(variables(config, function))), spec["timeout"])
    assert spec["timeout"] < ttl.total_seconds() < spec["timeout"] + 60


def test_both_functions_get_the_same_variables(config):
    assert variables(config, "submit") == variables(config, "report")


def test_every_setting_with_a_value_is_deployed_and_every_unset_one_is_listed_commented_out(config):
    text = YML.read_text(encoding="utf-8")
    expected = {env for env in ENV_NAMES.values() if deployable(env)}
    commented = {env for env in expected if f"# {yaml_entry(env).lstrip('# ')}" in text}
    assert set(variables(config)) | commented == expected
    assert not set(variables(config)) & commented


def test_no_variable_uses_a_prefix_scf_reserves(config):
    assert not [k for k in variables(config) if k.startswith(("SCF_", "QCLOUD_", "TENCENTCLOUD_"))]


def test_every_required_setting_is_set(config):
    required = {ENV_NAMES[name] for name, info in Settings.model_fields.items() if info.is_required()}
    assert required and all(variables(config)[env] for env in required)


def test_the_variables_as_deployed_load_into_valid_settings(config):
    settings = load_settings(resolve(variables(config)))
    assert settings.bucket == DOTENV["COS_BUCKET"] and settings.emulator_url is None


# Settings serverless.yml deploys with a value other than the model's default (each has its own test below).
DEPLOYED = {"UPLOAD_PREFIXES": "uploads/"}


def test_every_variable_carries_its_generated_comment():
    lines = YML.read_text(encoding="utf-8").splitlines()
    missing = []
    for env in (e for e in ENV_NAMES.values() if deployable(e)):
        entry = yaml_entry(env) if env not in DEPLOYED else f"- {{key: {env}, value: '{DEPLOYED[env]}'}}"
        index = next(i for i, line in enumerate(lines) if line.strip() == entry)
        if lines[index - 1].strip() != yaml_comment(env):
            missing.append(env)
    assert not missing, "refresh the list from `python -m deploy.config_table --yaml`: " + ", ".join(missing)


def test_timer_arguments_are_valid_overrides(config):
    base = resolve(variables(config))
    for trigger in (t for t in config["inputs"]["triggers"] if t["type"] == "timer"):
        load_settings(base, parse_timer_argument(trigger["parameters"].get("argument", "")))


def test_commented_argument_examples_are_valid_overrides(config):
    examples = re.findall(r"argument: '(\{.*?\})'", YML.read_text(encoding="utf-8"))
    assert len(examples) >= 2
    base = resolve(variables(config))
    for example in examples:
        load_settings(base, parse_timer_argument(example))


def test_submit_has_an_hourly_timer_and_report_a_daily_one(config):
    crons = {t["function"]: t["parameters"]["cronExpression"].split()
             for t in config["inputs"]["triggers"] if t["type"] == "timer"}
    assert crons["submit"][1].isdigit() and crons["submit"][2] == "*"
    assert crons["report"][2].isdigit() and crons["report"][3:6] == ["*", "*", "*"]


def test_cos_trigger_fires_submit_on_creation_for_the_bucket_domain(config):
    (cos,) = upload_triggers(config)
    assert cos["function"] == "submit" and cos["parameters"]["events"] == "cos:ObjectCreated:*"
    assert resolve(cos["parameters"]["bucket"]) == "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com"


def test_cos_trigger_prefix_never_covers_what_the_functions_write(config):
    (cos,) = upload_triggers(config)
    prefix = cos["parameters"]["filter"]["prefix"]
    settings = load_settings(resolve(variables(config)))
    assert prefix and not prefix.startswith("/")
    for written in (settings.state_prefix, settings.report_prefix, BACKUP_PREFIX):
        # Overlap either way means one of our own writes could fire the trigger (recursion).
        assert not written.startswith(prefix) and not prefix.startswith(written), written


def test_src_is_the_package_make_package_builds(config):
    src = config["inputs"]["src"]
    src = src["src"] if isinstance(src, dict) else src
    assert (ROOT / src).resolve() == paths_for("3.10").directory.resolve()


def test_upload_prefixes_equals_the_set_of_cos_trigger_prefixes(config):
    # The function skips an upload or a stored record outside UPLOAD_PREFIXES (issue 22): a trigger whose prefix
    # is missing there would have every upload skipped, and an extra prefix would let forged records through.
    prefixes = {t["parameters"]["filter"]["prefix"] for t in upload_triggers(config)}
    deployed = load_settings(resolve(variables(config))).upload_prefixes
    assert prefixes and set(deployed) == prefixes and DEPLOYED["UPLOAD_PREFIXES"] == ",".join(sorted(prefixes))
