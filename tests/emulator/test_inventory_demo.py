"""`make demo` ends with one short COS Inventory step: a configuration through the SDK and a report delivered now."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.emulator
def test_the_demo_shows_an_inventory_report_with_its_manifest_path_and_object_count():
    done = subprocess.run([sys.executable, "-m", "emulator.demo"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert re.search(r"delivered today's report now: [1-9][0-9]* objects listed in 1 gzip CSV file", done.stdout)
    assert re.search(r"manifest: cos://demo-1250000000/autopilot/inventory/1250000000/demo/demo-daily/"
                     r"[0-9]{8}/manifest\.json", done.stdout)
