"""`make demo` runs the whole loop and tells a person what happened."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_demo() -> str:
    done = subprocess.run([sys.executable, "-m", "emulator.demo"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.emulator
def test_demo_runs_the_loop_and_reports_every_flagged_image():
    out = run_demo()
    assert out.count("flagged and moved:") == 6  # two carriers x three payloads, none of the 30 clean ones
    assert "holiday video.png: flagged (a hidden MPEG-TS video)" in out
    assert "new-avatar.png: clean, left in place" in out
    assert "No second job." in out
    assert "38 images inspected, 7 flagged, 7 acted on" in out  # the report function saw what the jobs did
    assert "report object: cos://demo-1250000000/autopilot/reports/" in out
    assert '"event"' not in out  # plain words, not the function's JSON log lines


def html_path(out: str) -> Path:
    line = next(x for x in out.splitlines() if x.startswith("8. Open today's report in a browser: "))
    return Path(line.split(": ", 1)[1])


@pytest.mark.emulator
def test_the_demo_leaves_its_html_report_in_the_ignored_demo_folder():
    page = html_path(run_demo())
    assert page.is_file() and page.is_relative_to(ROOT / ".demo")
    html = page.read_text(encoding="utf-8")
    assert "38 inspected, 7 flagged, 7 acted on" in html and "uploads/holiday video.png" in html
    assert "Against yesterday" in html  # the demo's report of the day before gives it a trend
    ignored = subprocess.run(["git", "check-ignore", "-q", str(page)], cwd=ROOT)
    assert ignored.returncode == 0, ".demo/ must be in .gitignore"


@pytest.mark.emulator
def test_a_second_demo_starts_clean():
    run_demo()
    leftover = ROOT / ".demo" / "leftover.txt"
    leftover.write_text("from the last run", encoding="utf-8")
    out = run_demo()
    assert not leftover.exists()
    assert out.count("report object: cos://") == 3  # today's JSON, Markdown and HTML, nothing carried over
    assert "No second job." in out


@pytest.mark.emulator
def test_the_demo_counts_its_job_before_sending_it_and_shows_a_held_upload_confirmed_once():
    out = run_demo()
    assert "Counted before it was sent: 36 objects (listing photos/ in the window" in out
    assert "three more uploads were counted and HELD as plan" in out
    assert "3 objects is over MAX_OBJECTS_PER_JOB=2); nothing was sent." in out
    assert "sent exactly that job, once:" in out


@pytest.mark.emulator
def test_the_demo_restores_its_false_positive_byte_for_byte():
    out = run_demo()
    assert "`python -m ops flagged restore uploads/camera-trailer.png --yes` (exit 0):" in out
    assert "uploads/camera-trailer.png is back, byte for byte: True" in out
    assert ("The upload event of that write made 0 job(s): uploads/camera-trailer.png skipped, restored by an "
            "operator (flagged restore) with this ETag.") in out
