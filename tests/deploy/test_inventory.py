"""The inventory configuration `python -m deploy` keeps when a rule reads INPUT_SOURCE=inventory (issue 24).

Sources (read 2026-12-07): PUT Bucket inventory, cloud.tencent.com/document/product/436/33707 (per-id configuration,
required nodes, action cos:PutBucketInventory); GET Bucket inventory, 436/33705 (action cos:GetBucketInventory);
the inventory overview 436/30622 (report layout, the COS_QcsRole COS writes reports as); the official SDK's
put_bucket_inventory / get_bucket_inventory (qcloud_cos/cos_client.py) and demo/bucket_inventory.py for the dict form.
Everything runs through the CLI, the real SDK and HTTP (`responses`) against tests/deploy/cos_inventory_double.py;
the fixtures are local to this file.
"""
from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest

responses = pytest.importorskip("responses")
pytest.importorskip("tencentcloud.scf.v20180416", reason="the deploy extra installs tencentcloud-sdk-python-scf")

from deploy.__main__ import main  # noqa: E402
from deploy.scf_api import sdk_transport  # noqa: E402
from lib.config import load_settings  # noqa: E402
from lib.inventory_state import runs_dir  # noqa: E402
from tests.deploy.cos_inventory_double import BUCKET, FakeCosInventory, configuration_xml  # noqa: E402
from tests.deploy.cos_lifecycle_double import rules_of  # noqa: E402
from tests.deploy.scf_double import SECRET_ID, SECRET_KEY  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ENV = {"COS_BUCKET": BUCKET, "COS_REGION": "ap-guangzhou", "AUTOPILOT_ROLE": "autopilot",
       "TENCENTCLOUD_SECRETID": SECRET_ID, "TENCENTCLOUD_SECRETKEY": SECRET_KEY}
OURS = ("Size", "LastModifiedDate", "ETag", "StorageClass")


@pytest.fixture
def app_dir(tmp_path):
    """serverless.yml beside a built package, as `make package` leaves it."""
    (tmp_path / "serverless.yml").write_text((ROOT / "serverless.yml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "build" / "package-py310").mkdir(parents=True)
    with zipfile.ZipFile(tmp_path / "build" / "cos-batch-autopilot-py310.zip", "w") as zf:
        zf.writestr("package-info.json", json.dumps({"python": "3.10"}))
        zf.writestr("scf_submit.py", "x = 1\n")
    return tmp_path


@pytest.fixture
def inventory(rsps, cos):
    """The bucket's inventory configurations (none at first), beside its lifecycle rules and policy."""
    return FakeCosInventory().register(rsps)


def deploy(app_dir, command, capsys, **extra_env):
    code = main([command, "--config", str(app_dir / "serverless.yml")], transport=sdk_transport("ap-guangzhou", ENV),
                environ={**ENV, **extra_env}, sleep=lambda s: None)
    out = capsys.readouterr()
    return code, out.out, out.err


def set_env(app_dir, key, value):
    """Set a variable in the shared environments list (replacing it, uncommenting it, or adding it)."""
    path = app_dir / "serverless.yml"
    text = path.read_text(encoding="utf-8")
    line = f"- {{key: {key}, value: '{value}'}}"
    new, count = re.subn(rf"(# )?- \{{key: {key}, value: '[^']*'\}}", line, text)
    if not count:
        new = text.replace("- {key: STATE_PREFIX, value: 'autopilot/'}",
                           f"- {{key: STATE_PREFIX, value: 'autopilot/'}}\n        {line}")
    assert new != text
    path.write_text(new, encoding="utf-8")


def use_inventory(app_dir, inventory_id="nightly"):
    set_env(app_dir, "INPUT_SOURCE", "inventory")
    set_env(app_dir, "INVENTORY_ID", inventory_id)


def meaning(element):
    dest = element.find("Destination/COSBucketDestination")
    return {"Id": element.findtext("Id"), "IsEnabled": element.findtext("IsEnabled"),
            "Versions": element.findtext("IncludedObjectVersions"), "Frequency": element.findtext("Schedule/Frequency"),
            "Bucket": dest.findtext("Bucket"), "Format": dest.findtext("Format"), "Prefix": dest.findtext("Prefix"),
            "Encryption": dest.find("Encryption") is not None, "Filter": element.find("Filter") is not None,
            "Fields": [f.text for f in element.findall("OptionalFields/Field")]}


WANTED = {"Id": "nightly", "IsEnabled": "true", "Versions": "Current", "Frequency": "Daily",
          "Bucket": f"qcs::cos:ap-guangzhou::{BUCKET}", "Format": "CSV", "Prefix": "autopilot/inventory",
          "Encryption": False, "Filter": False, "Fields": list(OURS)}


# --- what is kept ----------------------------------------------------------------------------------------------------
def test_plan_shows_the_inventory_it_would_create_and_puts_nothing(app_dir, scf, inventory, capsys):
    use_inventory(app_dir)
    code, out, _ = deploy(app_dir, "plan", capsys)
    assert code == 0
    assert (f"~ bucket {BUCKET}: inventory create nightly (daily CSV of current versions to autopilot/inventory, "
            "with Size, LastModifiedDate, ETag, StorageClass)") in out.splitlines()
    assert inventory.puts() == [] and inventory.stored == {}


def test_apply_creates_the_contract_configuration_under_the_state_prefix(app_dir, scf, inventory, capsys):
    use_inventory(app_dir)
    code, out, err = deploy(app_dir, "apply", capsys)
    assert code == 0, err
    assert f"bucket {BUCKET}: inventory applied (nightly)" in out
    assert meaning(inventory.element("nightly")) == WANTED


def test_creating_it_names_the_role_cos_writes_reports_as(app_dir, scf, inventory, capsys):
    use_inventory(app_dir)
    _, _, err = deploy(app_dir, "apply", capsys)
    assert "COS_QcsRole" in err and "cos.cloud.tencent.com" in err


def test_second_apply_makes_no_put(app_dir, scf, inventory, capsys):
    use_inventory(app_dir)
    deploy(app_dir, "apply", capsys)
    _, out, err = deploy(app_dir, "apply", capsys)
    assert len(inventory.puts()) == 1
    assert "inventory unchanged" in out and "0 changing call(s)" in out and "COS_QcsRole" not in err


def test_a_read_back_with_account_id_trailing_slash_and_other_field_order_is_unchanged(app_dir, scf, inventory,
                                                                                      capsys):
    # The GET sample answers an AccountId the PUT did not send; COS says it appends '/' to the prefix (436/33705).
    inventory.stored["nightly"] = configuration_xml("nightly", prefix="autopilot/inventory/", account="1250000000",
                                                    fields=tuple(reversed(OURS)))
    use_inventory(app_dir)
    code, out, _ = deploy(app_dir, "apply", capsys)
    assert code == 0 and inventory.puts() == [] and "inventory unchanged" in out


@pytest.mark.parametrize("edited", [
    configuration_xml("nightly", frequency="Weekly"),
    configuration_xml("nightly", enabled="false"),
    configuration_xml("nightly", fields=("Size", "ETag")),
    configuration_xml("nightly", versions="All"),
    configuration_xml("nightly", prefix="elsewhere"),
    configuration_xml("nightly", extra="<Filter><Prefix>images/</Prefix></Filter>"),
], ids=["weekly", "disabled", "fields", "all-versions", "prefix", "filter"])
def test_our_configuration_edited_by_hand_is_put_back(app_dir, scf, inventory, capsys, edited):
    inventory.stored["nightly"] = edited
    use_inventory(app_dir)
    _, plan_out, _ = deploy(app_dir, "plan", capsys)
    assert f"~ bucket {BUCKET}: inventory update nightly (" in plan_out
    code, out, _ = deploy(app_dir, "apply", capsys)
    assert code == 0 and len(inventory.puts()) == 1
    assert meaning(inventory.element("nightly")) == WANTED


def test_a_configuration_without_optional_fields_is_updated(app_dir, scf, inventory, capsys):
    # The SDK's get_bucket_inventory raises KeyError on it (it indexes data['OptionalFields']).
    inventory.stored["nightly"] = configuration_xml("nightly", fields=())
    use_inventory(app_dir)
    code, out, err = deploy(app_dir, "apply", capsys)
    assert code == 0, err
    assert "inventory applied (nightly)" in out and meaning(inventory.element("nightly")) == WANTED


def test_other_configurations_are_never_read_or_written(app_dir, scf, inventory, capsys):
    theirs = configuration_xml("finance", prefix="reports/finance", fields=("Size",), frequency="Weekly")
    inventory.stored["finance"] = theirs
    use_inventory(app_dir)
    deploy(app_dir, "apply", capsys)
    assert {i for _, i in inventory.ids} == {"nightly"}
    assert inventory.stored["finance"] == theirs and set(inventory.stored) == {"finance", "nightly"}


def test_a_changed_state_prefix_moves_the_destination(app_dir, scf, inventory, capsys):
    use_inventory(app_dir)
    deploy(app_dir, "apply", capsys)
    set_env(app_dir, "STATE_PREFIX", "state/")
    code, out, _ = deploy(app_dir, "apply", capsys)
    assert code == 0 and "inventory update nightly (daily CSV of current versions to state/inventory" in out
    assert meaning(inventory.element("nightly"))["Prefix"] == "state/inventory"


# --- which ids -------------------------------------------------------------------------------------------------------
def test_without_an_inventory_rule_the_bucket_inventory_is_not_touched(app_dir, scf, inventory, capsys):
    for command in ("plan", "apply"):
        code, out, _ = deploy(app_dir, command, capsys)
        assert code == 0 and f"bucket {BUCKET}: inventory" not in out
    assert inventory.calls == []


def test_a_timer_argument_with_inventory_source_keeps_its_id(app_dir, scf, inventory, capsys):
    path = app_dir / "serverless.yml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("name: submit-hourly", "name: inventory-daily").replace(
        "argument: ''", "argument: '{\"INPUT_SOURCE\":\"inventory\",\"INVENTORY_ID\":\"from-timer\"}'", 1),
        encoding="utf-8")
    code, out, err = deploy(app_dir, "apply", capsys)
    assert code == 0, err
    assert "inventory applied (from-timer)" in out and set(inventory.stored) == {"from-timer"}


def test_a_timer_argument_may_take_the_id_from_the_functions_environment(app_dir, scf, inventory, capsys):
    set_env(app_dir, "INVENTORY_ID", "shared")
    path = app_dir / "serverless.yml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "argument: ''", "argument: '{\"INPUT_SOURCE\":\"inventory\"}'", 1), encoding="utf-8")
    code, _, err = deploy(app_dir, "apply", capsys)
    assert code == 0, err
    assert set(inventory.stored) == {"shared"}


@pytest.mark.parametrize("inventory_id, expected", [
    ("", "INPUT_SOURCE=inventory but INVENTORY_ID is not set"),
    ("has space", "INVENTORY_ID='has space': an inventory id is 1-64 of a-z A-Z 0-9 - _ ."),
    ("x" * 65, "an inventory id is 1-64"),
])
def test_an_inventory_rule_without_a_valid_id_is_refused_before_any_api_call(app_dir, scf, inventory, capsys,
                                                                              inventory_id, expected):
    set_env(app_dir, "INPUT_SOURCE", "inventory")
    if inventory_id:
        set_env(app_dir, "INVENTORY_ID", inventory_id)
    code, _, err = deploy(app_dir, "apply", capsys)
    assert code == 2 and expected in err and "Fix:" in err
    assert inventory.calls == [] and scf.calls == []


def test_an_unknown_input_source_is_refused(app_dir, scf, inventory, capsys):
    set_env(app_dir, "INPUT_SOURCE", "listing")
    code, _, err = deploy(app_dir, "plan", capsys)
    assert code == 2 and "INPUT_SOURCE='listing': must be prefix or inventory" in err


# --- the subcommand, errors, the trigger ------------------------------------------------------------------------------
def test_inventory_command_needs_neither_scf_nor_a_package(app_dir, rsps, inventory, capsys):
    # No SCF double is registered: any SCF call would raise. This is the one-off step for the `scf deploy` path.
    (app_dir / "build" / "cos-batch-autopilot-py310.zip").unlink()
    use_inventory(app_dir)
    code, out, err = deploy(app_dir, "inventory", capsys)
    assert code == 0, err
    assert out.splitlines()[0].startswith(f"~ bucket {BUCKET}: inventory create nightly") and "1 changing call(s)" in out
    code, out, _ = deploy(app_dir, "inventory", capsys)
    assert code == 0 and out.splitlines()[0] == f"No changes: bucket {BUCKET} has inventory nightly already."
    assert "0 changing call(s)" in out and len(inventory.puts()) == 1


def test_inventory_command_without_an_inventory_rule_says_so(app_dir, rsps, inventory, capsys):
    code, out, _ = deploy(app_dir, "inventory", capsys)
    assert code == 0 and out.startswith("No inventory: no rule has INPUT_SOURCE=inventory")
    assert inventory.calls == []


@pytest.mark.parametrize("method, action", [("GET", "GetBucketInventory"), ("PUT", "PutBucketInventory")])
def test_access_denied_names_the_bucket_the_missing_permission_and_the_fix(app_dir, scf, inventory, capsys,
                                                                           method, action):
    use_inventory(app_dir)
    inventory.fail[method] = (403, "AccessDenied")
    code, _, err = deploy(app_dir, "apply", capsys)
    assert code == 1 and "Traceback" not in err
    assert f"{action} on bucket {BUCKET} (ap-guangzhou) failed: 403 AccessDenied" in err
    assert f"lack cos:{action}" in err and "cos:GetBucketInventory and cos:PutBucketInventory" in err
    assert "python -m deploy inventory" in err


def test_the_shipped_serverless_yml_watches_the_report_so_no_trigger_warning(app_dir, scf, inventory, capsys):
    use_inventory(app_dir)
    _, _, err = deploy(app_dir, "plan", capsys)
    assert "no COS trigger of submit watches" not in err


def test_an_inventory_rule_without_the_manifest_checksum_trigger_is_warned_about(app_dir, scf, inventory, capsys):
    path = app_dir / "serverless.yml"
    path.write_text(path.read_text(encoding="utf-8").replace("suffix: manifest.checksum", "suffix: .never"),
                    encoding="utf-8")
    use_inventory(app_dir)
    code, _, err = deploy(app_dir, "plan", capsys)
    assert code == 0
    assert ("warning: no COS trigger of submit watches autopilot/inventory/1250000000/examplebucket/nightly/"
            "*manifest.checksum") in err and "processed only by its timer rule" in err
    assert "Fix: add the trigger with filter prefix autopilot/inventory/ and suffix manifest.checksum" in err


# --- INVENTORY_MANAGED=false: the operator keeps the configuration, the deploy only checks it -------------------------
def test_an_operators_own_configuration_is_never_put_over(app_dir, scf, inventory, capsys):
    theirs = configuration_xml("nightly", prefix="autopilot/inventory", fields=OURS, frequency="Weekly")
    inventory.stored["nightly"] = theirs
    use_inventory(app_dir)
    code, out, err = deploy(app_dir, "apply", capsys, INVENTORY_MANAGED="false")
    assert code == 0, err
    assert inventory.puts() == [] and inventory.stored["nightly"] == theirs
    assert f"bucket {BUCKET}: inventory nightly kept by you (INVENTORY_MANAGED=false)" in out
    assert "warning" not in err


def test_an_operators_configuration_the_rules_cannot_read_is_warned_about(app_dir, scf, inventory, capsys):
    inventory.stored["nightly"] = configuration_xml("nightly", prefix="reports/inv", fields=("Size",))
    use_inventory(app_dir)
    code, out, err = deploy(app_dir, "inventory", capsys, INVENTORY_MANAGED="false")
    assert code == 0 and inventory.puts() == []
    assert out.startswith("No changes: INVENTORY_MANAGED=false, so inventory nightly is yours to keep")
    assert "delivers under 'reports/inv', outside STATE_PREFIX=autopilot/" in err
    assert "lacks the optional field(s) LastModifiedDate, ETag, StorageClass" in err
    assert "no COS trigger of submit watches reports/inv/1250000000/examplebucket/nightly/*manifest.checksum" in err
    assert "filter prefix reports/inv/ and suffix manifest.checksum" in err


def test_an_operators_configuration_that_does_not_exist_is_warned_about_not_created(app_dir, scf, inventory,
                                                                                  capsys):
    use_inventory(app_dir)
    code, _, err = deploy(app_dir, "apply", capsys, INVENTORY_MANAGED="false")
    assert code == 0 and inventory.stored == {}
    assert "inventory nightly does not exist on bucket" in err and "report a missing inventory" in err
    assert err.count("warning:") == 1


def test_an_unknown_inventory_managed_value_is_refused(app_dir, scf, inventory, capsys):
    use_inventory(app_dir)
    code, _, err = deploy(app_dir, "plan", capsys, INVENTORY_MANAGED="maybe")
    assert code == 2 and "INVENTORY_MANAGED='maybe': must be true" in err and inventory.calls == []


# --- the reports expire --------------------------------------------------------------------------------------------
def expiring(cos):
    return {r.findtext("ID"): (r.findtext("Filter/Prefix"), r.findtext("Expiration/Days"))
            for r in rules_of(cos.stored or "<LifecycleConfiguration/>")}


def test_the_reports_the_deploy_has_delivered_expire_after_two_weeks(app_dir, scf, inventory, cos, capsys):
    use_inventory(app_dir)
    _, plan_out, _ = deploy(app_dir, "plan", capsys)
    assert "create autopilot-inventory (autopilot/inventory/ after 14 days)" in plan_out
    code, _, err = deploy(app_dir, "apply", capsys)
    assert code == 0, err
    assert expiring(cos) == {"autopilot-leases": ("autopilot/leases/", "2"),
                                   "autopilot-manifests": ("autopilot/manifests/", "30"),
                                   "autopilot-uploads": ("autopilot/uploads/", "30"),
                                   "autopilot-inventory": ("autopilot/inventory/", "14")}


def test_the_report_expiry_never_reaches_the_inventory_runs_ledgers(app_dir, scf, inventory, cos, capsys):
    use_inventory(app_dir)
    deploy(app_dir, "apply", capsys)
    prefix, _ = expiring(cos)["autopilot-inventory"]
    settings = load_settings({"COS_BUCKET": BUCKET, "COS_REGION": "ap-guangzhou"})
    assert not runs_dir(settings, "nightly").startswith(prefix)


def test_an_operator_kept_inventory_gets_no_expiry_rule(app_dir, scf, inventory, cos, capsys):
    inventory.stored["nightly"] = configuration_xml("nightly")
    use_inventory(app_dir)
    deploy(app_dir, "apply", capsys, INVENTORY_MANAGED="false")
    assert "autopilot-inventory" not in expiring(cos)
