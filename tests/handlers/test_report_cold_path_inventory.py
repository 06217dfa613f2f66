"""A cold start of the report function loads the inventory reader only when a rule reads an inventory."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_importing_the_report_handler_loads_no_inventory_reader():
    code = ("import json, sys\nimport handlers.report\n"
            "print(json.dumps(sorted(m for m in sys.modules if m in ('lib.inventory', 'lib.inventory_state'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=str(REPO), capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
