"""`python -m detector FILE...`: one JSON line per file, exit 0/1/2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from detector_carriers import png, ts_stream

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "detector", *args],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )


def test_clean_file_prints_one_json_line_and_exits_0(tmp_path):
    path = tmp_path / "clean.png"
    path.write_bytes(png())
    proc = _run(str(path))
    assert proc.returncode == 0
    (line,) = proc.stdout.splitlines()
    assert json.loads(line)["file"] == str(path)
    assert json.loads(line)["suspicious"] is False


def test_any_suspicious_file_makes_exit_1_and_every_file_is_reported(tmp_path):
    clean, bad = tmp_path / "a.png", tmp_path / "b.png"
    clean.write_bytes(png())
    bad.write_bytes(png() + ts_stream())
    proc = _run(str(clean), str(bad))
    assert proc.returncode == 1
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(r["file"], r["suspicious"]) for r in results] == [(str(clean), False), (str(bad), True)]
    assert results[1]["suspiciousType"] == "MPEG-TS"


def test_no_arguments_is_a_usage_error():
    proc = _run()
    assert proc.returncode == 2
    assert "usage:" in proc.stderr


def test_missing_file_is_a_usage_error_naming_the_file(tmp_path):
    missing = tmp_path / "nope.jpg"
    proc = _run(str(missing))
    assert proc.returncode == 2
    assert str(missing) in proc.stderr


def test_file_over_the_limit_is_refused_with_the_reason(tmp_path):
    big = tmp_path / "big.png"
    with open(big, "wb") as fh:
        fh.truncate(33 * 1024 * 1024)
    proc = _run(str(big))
    assert proc.returncode == 2
    assert "32 MB" in proc.stderr
    assert "32 MB" in json.loads(proc.stdout)["error"]
