"""`make demo` runs the whole loop and tells a person what happened."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.emulator
def test_demo_runs_the_loop_and_reports_every_flagged_image():
    done = subprocess.run([sys.executable, "-m", "emulator.demo"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.count("flagged and moved:") == 6  # two carriers x three payloads, none of the 30 clean ones
    assert "holiday video.png: flagged (a hidden MPEG-TS video)" in out
    assert "new-avatar.png: clean, left in place" in out
    assert "No second job." in out
    assert "38 images inspected, 7 flagged, 7 acted on" in out  # the report function saw what the jobs did
    assert "report object: cos://demo-1250000000/autopilot/reports/" in out
    assert '"event"' not in out  # plain words, not the function's JSON log lines
