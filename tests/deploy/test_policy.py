"""The function role's CAM policy: exactly the calls the code makes, on exactly our bucket and prefixes."""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from deploy.policy import TEMPLATE, main, render
from lib.errors import ConfigError

ENV = {"COS_BUCKET": "examplebucket-1250000000", "COS_REGION": "ap-shanghai"}
LIB = Path(__file__).resolve().parents[2] / "lib"
# Each SDK method the deployed code may call, with the CAM action(s) it needs (CI: authorisation granularity
# 460/41741, ci:DescribeMediaQueues 1045/72939; COS: 436/18023, POST ?delete is cos:DeleteObject per key 436/8289).
# A method not in this table fails test_every_sdk_method_the_code_calls_has_its_cam_action_named.
SDK_ACTIONS = {
    "ci_create_inventory_trigger_jobs": {"name/ci:CreateInventoryTriggerJob"},
    "ci_get_inventory_trigger_jobs": {"name/ci:DescribeInventoryTriggerJob"},
    "ci_list_inventory_trigger_jobs": {"name/ci:DescribeInventoryTriggerJobs"},
    "ci_delete_inventory_trigger_jobs": {"name/ci:CancelInventoryTriggerJob"},
    # GET /jobs and GET /workflowexecution, signed by hand so the body is read keeping hostile keys (lib/client.py
    # list_media_jobs_page, list_workflow_executions_page)
    "send_request": {"name/ci:DescribeMediaJobs", "name/ci:DescribeMediaWorkflowExecutions"},
    "ci_get_media_queue": {"name/ci:DescribeMediaQueues"},
    "ci_list_workflowexecution": {"name/ci:DescribeMediaWorkflowExecutions"},
    "put_object": {"name/cos:PutObject"}, "get_object": {"name/cos:GetObject"},
    "delete_object": {"name/cos:DeleteObject"}, "delete_objects": {"name/cos:DeleteObject"},
    "list_objects": {"name/cos:GetBucket"}, "head_object": {"name/cos:HeadObject"},
    "get_bucket_inventory": {"name/cos:GetBucketInventory"},  # INPUT_SOURCE=inventory: the report's destination
    "get_presigned_url": {"name/cos:GetObject"},  # signed locally; whoever opens it GETs with the role's grant
    # DeleteObject + AutoProcess is refused on a bucket without versioning: every such job reads it (436/19889)
    "get_bucket_versioning": {"name/cos:GetBucketVersioning"},
    # `python -m ops flagged restore` only, with the operator's own credentials: the role never restores
    "copy_object": set(), "put_object_acl": set(), "list_objects_versions": set(),
}


def sdk_methods_called() -> set:
    """Every `<x>.sdk.<method>(...)` in lib/: the calls the functions (and the CLI) make through the SDK."""
    found = set()
    for path in LIB.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "sdk":
                found.add(node.func.attr)
    return found


EXPECTED_ACTIONS = {a for method in sdk_methods_called() for a in SDK_ACTIONS.get(method, ())}


@pytest.fixture
def policy():
    return render(ENV)


def statements_with(policy, action):
    return [s for s in policy["statement"] if action in s["action"]]


def test_template_is_valid_json_with_only_known_placeholders():
    text = TEMPLATE.read_text(encoding="utf-8")
    json.loads(text)
    assert set(re.findall(r"\$\{([A-Z_]+)\}", text)) == {
        "BUCKET", "REGION", "APPID", "STATE_PREFIX", "STATE_PREFIX_URLENCODED", "REPORT_PREFIX",
        "UPLOAD_PREFIX", "INPUT_PREFIX", "INPUT_PREFIX_URLENCODED"}


def test_rendered_policy_has_no_placeholders_left(policy):
    assert "${" not in json.dumps(policy)


def test_every_sdk_method_the_code_calls_has_its_cam_action_named():
    assert sdk_methods_called() - set(SDK_ACTIONS) == set()
    assert {"ci_get_media_queue", "send_request", "list_objects"} <= sdk_methods_called()


def test_grants_exactly_the_actions_the_functions_call(policy):
    granted = {a for s in policy["statement"] for a in s["action"]}
    assert granted == EXPECTED_ACTIONS
    assert all(s["effect"] == "allow" for s in policy["statement"])


def test_no_wildcard_actions_and_no_account_wide_resources(policy):
    for statement in policy["statement"]:
        assert not any("*" in a for a in statement["action"])
        assert all(r.startswith(("qcs::ci:ap-shanghai:uid/1250000000:", "qcs::cos:ap-shanghai:uid/1250000000:"))
                   for r in statement["resource"])


def test_ci_actions_are_limited_to_the_bucket(policy):
    for statement in statements_with(policy, "name/ci:CreateInventoryTriggerJob"):
        assert statement["resource"] == ["qcs::ci:ap-shanghai:uid/1250000000:bucket/examplebucket-1250000000/*"]


def test_object_writes_are_limited_to_state_and_report_prefixes(policy):
    allowed = {"qcs::cos:ap-shanghai:uid/1250000000:examplebucket-1250000000/autopilot/*",
               "qcs::cos:ap-shanghai:uid/1250000000:examplebucket-1250000000/autopilot/reports/*"}
    for action in ("name/cos:PutObject", "name/cos:GetObject"):
        assert {r for s in statements_with(policy, action) for r in s["resource"]} <= allowed


def test_deletes_are_limited_to_the_state_prefix(policy):
    (statement,) = statements_with(policy, "name/cos:DeleteObject")
    assert statement["resource"] == ["qcs::cos:ap-shanghai:uid/1250000000:examplebucket-1250000000/autopilot/*"]


def test_listing_is_conditioned_on_the_state_prefix_and_the_input_prefix_a_window_is_counted_under():
    policy = render(dict(ENV, INPUT_PREFIX="photos/2026/"))
    (statement,) = statements_with(policy, "name/cos:GetBucket")
    assert statement["condition"] == {"string_like": {"cos:prefix": [
        "autopilot%2F*", "autopilot/*", "photos%2F2026%2F*", "photos/2026/*"]}}


def test_a_whole_bucket_rule_may_list_any_prefix_to_count_its_window(policy):
    (statement,) = statements_with(policy, "name/cos:GetBucket")
    assert statement["condition"] == {"string_like": {"cos:prefix": ["autopilot%2F*", "autopilot/*", "*"]}}


def test_custom_prefixes_flow_into_the_resources():
    policy = render(dict(ENV, STATE_PREFIX="ops/state/", REPORT_PREFIX="ops/reports/"))
    resources = {r for s in policy["statement"] for r in s["resource"]}
    assert "qcs::cos:ap-shanghai:uid/1250000000:examplebucket-1250000000/ops/state/*" in resources
    assert "qcs::cos:ap-shanghai:uid/1250000000:examplebucket-1250000000/ops/reports/*" in resources


def test_a_bad_bucket_is_refused_by_the_settings_rules():
    with pytest.raises(ConfigError, match="COS_BUCKET"):
        render({"COS_BUCKET": "ExampleBucket", "COS_REGION": "ap-shanghai"})


def test_cli_prints_the_policy(capsys):
    assert main(["--bucket", "examplebucket-1250000000", "--region", "ap-shanghai"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == "2.0"
