"""What a cold start of the submit function loads: nothing optional, and no pydantic plugin discovery."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Everything only the report, the operator CLI (ops; its old entry point imports ops) or the tests use.
# A name covers its submodules: lib.report is the whole report package.
OPTIONAL = ("lib.report", "ops", "lib.submit.coalesce", "lib.upload_state", "lib.submit.inventory", "lib.inventory",
            "lib.inventory_state", "lib.escape", "emulator", "bench", "responses")


def _fresh(code: str, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    out = subprocess.run([sys.executable, "-c", code], cwd=str(REPO), env={**clean, "PYTHONPATH": str(REPO), **env},
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_importing_the_submit_handler_loads_no_optional_module():
    loaded = _fresh("import json, sys\nimport handlers.submit\n"
                    f"print(json.dumps(sorted(m for m in sys.modules if any(m == o or m.startswith(o + '.') "
                    f"for o in {OPTIONAL!r}))))")
    assert loaded == []


@pytest.mark.parametrize(("preset", "expected"), [(None, "__all__"), ("logfire", "logfire")])
def test_pydantic_plugin_discovery_is_off_unless_the_deployment_sets_it(preset, expected):
    env = {} if preset is None else {"PYDANTIC_DISABLE_PLUGINS": preset}
    seen = _fresh("import json, os\nimport handlers.submit\n"
                  "print(json.dumps(os.environ.get('PYDANTIC_DISABLE_PLUGINS')))", **env)
    assert seen == expected


def test_importing_the_submit_handler_builds_no_upload_or_report_model():
    built = _fresh("import json\nimport handlers.submit\n"
                   "from lib import client, events\nfrom lib.submit import uploads\n"
                   "models = [events.CosEvent, events.CosRecord, events.CosEntity, events.CosObjectInfo,\n"
                   "          events.CosBucketInfo, events.CosEventMeta, events.UploadedObject, uploads.UploadPlan,\n"
                   "          client.InspectObjectResult, client.WorkflowExecutionItem]\n"
                   "print(json.dumps([m.__name__ for m in models if m.__pydantic_complete__]))")
    assert built == []


@pytest.mark.parametrize("handler", ["handlers.submit", "handlers.report"])
def test_a_handler_import_freezes_what_it_imported_and_leaves_the_collector_on(handler):
    state = _fresh(f"import gc, json, sys\nimport {handler}\n"
                   "print(json.dumps({'enabled': gc.isenabled(), 'frozen': gc.get_freeze_count(),\n"
                   "                  'sdk': 'qcloud_cos' in sys.modules}))")
    assert state["enabled"] is True
    assert state["frozen"] > 10_000  # the SDK, pydantic and our modules, not a handful of objects
    assert state["sdk"] is True


def test_a_collector_the_runtime_turned_off_stays_off():
    state = _fresh("import gc, json\ngc.disable()\nimport handlers.submit\nprint(json.dumps(gc.isenabled()))")
    assert state is False
