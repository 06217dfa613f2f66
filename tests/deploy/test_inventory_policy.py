"""The function role's grants for an inventory rule: read the configuration, list and read the reports, nothing more.

Sources (read 2026-12-07): GET Bucket inventory "授权说明: action cos:GetBucketInventory" (cloud.tencent.com/document/
product/436/33705); PUT Bucket inventory's cos:PutBucketInventory (436/33707), which only the deployer calls; CAM's
`*` wildcard in resources and string_like conditions (436/30580). The report keys follow the overview's layout
(436/30622) under the destination the deploy keeps (deploy/inventory.py).
"""
from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from deploy.bucket_policy import uploaders_from
from deploy.inventory import MANIFEST_CHECKSUM, InventoryTarget
from deploy.policy import render
from deploy.spec import SpecError

ENV = {"COS_BUCKET": "examplebucket-1250000000", "COS_REGION": "ap-shanghai"}
BASE = "qcs::cos:ap-shanghai:uid/1250000000:examplebucket-1250000000/"


def glob(pattern: str, text: str) -> bool:
    return re.fullmatch(".*".join(re.escape(p) for p in pattern.split("*")), text) is not None


def granted(policy, action, resource):
    return [s for s in policy["statement"] if action in s["action"] and any(glob(r, resource) for r in s["resource"])]


def report_keys(state_prefix: str):
    folder = InventoryTarget("examplebucket-1250000000", "ap-shanghai", state_prefix, ("nightly",)).report_folder(
        "nightly")
    return folder, [f"{folder}20261207/manifest.json", f"{folder}20261207/{MANIFEST_CHECKSUM}",
                    f"{folder}04d73d9debc73d9f0bf85af461abde6c.csv.gz"]


def test_the_role_may_read_the_inventory_configuration_of_its_bucket_only():
    policy = render(ENV)
    (statement,) = [s for s in policy["statement"] if "name/cos:GetBucketInventory" in s["action"]]
    assert statement["action"] == ["name/cos:GetBucketInventory"] and statement["resource"] == [f"{BASE}*"]


def test_the_role_never_sets_an_inventory():
    # PUT/DELETE/POST Bucket inventory are the deployer's (cos:PutBucketInventory, 436/33707); ci:*InventoryTriggerJob
    # are CI's batch jobs, not COS inventory.
    cos_inventory = {a for s in render(ENV)["statement"] for a in s["action"]
                     if a.startswith("name/cos:") and "Inventory" in a}
    assert cos_inventory == {"name/cos:GetBucketInventory"}


@pytest.mark.parametrize("state_prefix", ["autopilot/", "ops/state/"])
def test_the_role_may_list_and_read_the_reports_the_deploy_has_delivered(state_prefix):
    policy = render(dict(ENV, STATE_PREFIX=state_prefix, REPORT_PREFIX=f"{state_prefix}reports/"))
    folder, keys = report_keys(state_prefix)
    assert all(granted(policy, "name/cos:GetObject", f"{BASE}{key}") for key in keys)
    (listing,) = [s for s in policy["statement"] if "name/cos:GetBucket" in s["action"]]
    patterns = listing["condition"]["string_like"]["cos:prefix"]
    # CAM may compare the raw or the URL-encoded prefix parameter (docs/deploy.md §2): both must match.
    assert any(glob(p, folder) for p in patterns) and any(glob(p, quote(folder, safe="")) for p in patterns)


@pytest.mark.parametrize("principal", ["qcs::cam::uin/100000000001:roleName/COS_QcsRole", "qcs::cam::anyone:anyone"])
def test_the_state_deny_cannot_name_the_role_cos_delivers_reports_as(principal):
    # COS writes the reports under STATE_PREFIX as COS_QcsRole (overview 436/30622); the deny autopilotDenyStateWrites
    # covers that prefix, so it must never reach the role: UPLOADER_PRINCIPALS takes sub-accounts only.
    with pytest.raises(SpecError, match="UPLOADER_PRINCIPALS holds"):
        uploaders_from(principal)
