"""serverless.yml's second COS trigger: the inventory report's manifest.checksum fires submit (issue 24).

Sources (read 2026-12-07): the toolkit's src/modules/triggers/cos.ts (serverless-tencent/tencent-component-toolkit
@4b0b78b: TriggerName = parameters.bucket, TriggerDesc {event, filter {Prefix, Suffix}}, and getKey keys a COS
trigger by bucket, event and filter, so two on one bucket are two triggers); multi-scf's docs/configure.md "COS 触发器"
(serverless-components/tencent-multi-scf @02cf563: bucket, filter {prefix, suffix}, events, enable); the SCF COS
trigger doc 583/9707 ("COS Trigger Use Limits": one bucket may not use overlapping prefixes or prefix/suffix
combinations for the same event type); the inventory overview 436/30622 (reports land at
<prefix>/<appid>/<bucket>/<id>/<YYYYMMDD>/manifest.json, then manifest.checksum).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML parses serverless.yml in these tests (dev dependency)")

from deploy.inventory import MANIFEST_CHECKSUM, InventoryTarget  # noqa: E402
from deploy.spec import load_app  # noqa: E402
from deploy.spec import resolve as resolve_env  # noqa: E402
from lib.config import BACKUP_PREFIX, load_settings, parse_timer_argument  # noqa: E402
from lib.events import UploadedObject  # noqa: E402
from lib.upload_rules import skip_reason  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
YML = ROOT / "serverless.yml"
DEPLOY_MD = ROOT / "docs" / "deploy.md"
DOTENV = {"COS_BUCKET": "examplebucket-1250000000", "COS_REGION": "ap-guangzhou", "AUTOPILOT_ROLE": "autopilot"}


@pytest.fixture(scope="module")
def triggers() -> List[Dict[str, Any]]:
    return resolve_env(yaml.safe_load(YML.read_text(encoding="utf-8"))["inputs"]["triggers"], DOTENV, "triggers")


@pytest.fixture(scope="module")
def settings():
    config = yaml.safe_load(YML.read_text(encoding="utf-8"))
    env = {i["key"]: i["value"] for i in config["inputs"]["functions"]["submit"]["environments"]}
    return load_settings(resolve_env(env, DOTENV, "environments"))


def inventory_trigger(triggers):
    (trigger,) = [t for t in triggers if t["type"] == "cos" and t["parameters"]["filter"]["suffix"] == MANIFEST_CHECKSUM]
    return trigger


def test_one_cos_trigger_fires_submit_on_the_creation_of_a_manifest_checksum_in_the_bucket(triggers):
    trigger = inventory_trigger(triggers)
    params = trigger["parameters"]
    assert trigger["function"] == "submit" and params["events"] == "cos:ObjectCreated:*" and params["enable"] is True
    assert params["bucket"] == "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com"


def test_its_prefix_is_the_destination_the_deploy_keeps(triggers, settings):
    target = InventoryTarget(settings.bucket, settings.region, settings.state_prefix, ("nightly",))
    prefix = inventory_trigger(triggers)["parameters"]["filter"]["prefix"]
    assert prefix == f"{target.destination_prefix}/"
    key = f"{target.report_folder('nightly')}20261207/{MANIFEST_CHECKSUM}"
    assert key == "autopilot/inventory/1250000000/examplebucket/nightly/20261207/manifest.checksum"
    assert key.startswith(prefix) and key.endswith(MANIFEST_CHECKSUM)


def test_its_prefix_overlaps_no_other_cos_trigger_of_the_bucket(triggers):
    # 583/9707: overlapping prefixes for the same event type on one bucket are refused.
    prefix = inventory_trigger(triggers)["parameters"]["filter"]["prefix"]
    others = [t["parameters"]["filter"]["prefix"] for t in triggers
              if t["type"] == "cos" and t["parameters"]["filter"]["suffix"] != MANIFEST_CHECKSUM]
    assert others and not [o for o in others if o.startswith(prefix) or prefix.startswith(o)]


def test_it_watches_nothing_the_functions_write_as_reports_or_ci_as_backups(triggers, settings):
    prefix = inventory_trigger(triggers)["parameters"]["filter"]["prefix"]
    for written in (settings.report_prefix, BACKUP_PREFIX):
        assert not written.startswith(prefix) and not prefix.startswith(written), written


def test_the_upload_rules_skip_the_report_if_it_ever_reached_them(triggers, settings):
    prefix = inventory_trigger(triggers)["parameters"]["filter"]["prefix"]
    key = f"{prefix}1250000000/examplebucket/nightly/20261207/{MANIFEST_CHECKSUM}"
    obj = UploadedObject(bucket=settings.bucket, key=key, size=32, etag='"e"', request_id="r", version_id="",
                         event_name="cos:ObjectCreated:Put")
    assert skip_reason(settings, obj)


def test_the_python_deploy_path_carries_the_suffix_into_create_trigger():
    app = load_app(YML, DOTENV)
    descs = [json.loads(t.desc) for t in app.triggers if t.type == "cos" and t.function == "submit"]
    assert {"event": "cos:ObjectCreated:*", "filter": {"Prefix": "autopilot/inventory/",
                                                       "Suffix": MANIFEST_CHECKSUM}} in descs


def test_the_timer_fallback_is_documented_with_an_inventory_argument():
    text = DEPLOY_MD.read_text(encoding="utf-8")
    examples = [line.split("argument: '", 1)[1].rsplit("'", 1)[0] for line in text.splitlines()
                if "argument: '{" in line and "INPUT_SOURCE" in line]
    assert examples
    for example in examples:
        overrides = parse_timer_argument(example)
        assert overrides["INPUT_SOURCE"] == "inventory" and overrides.get("INVENTORY_ID")
