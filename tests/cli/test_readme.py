"""The README is executable: its walkthrough runs step by step on a fresh emulator, and its figures are measured."""
from __future__ import annotations

import re
import socket
import subprocess
from typing import List, Tuple

import pytest

from tests.cli.support import ROOT, process_env

README = ROOT / "README.md"
WALKTHROUGH = "## Walkthrough: the local emulator"


def walkthrough_steps(readme: str) -> List[Tuple[str, int]]:
    """Each shell command of the walkthrough's ```sh blocks (continuation lines joined) and its expected exit."""
    section = readme.split(WALKTHROUGH, 1)[1].split("\n## ", 1)[0]
    steps: List[Tuple[str, int]] = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        current = ""
        for line in block.splitlines():
            current += line + "\n"
            if not line.rstrip().endswith("\\"):
                expected = re.search(r"#\s*exits (\d+)", current)
                steps.append((current.strip(), int(expected.group(1)) if expected else 0))
                current = ""
    return steps


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_walkthrough_has_the_steps_a_person_follows():
    commands = [step for step, _ in walkthrough_steps(README.read_text(encoding="utf-8"))]
    assert commands[0].startswith(".venv/bin/python -m emulator --port 9000") and commands[0].endswith("&")
    assert any(c.startswith(".venv/bin/python -m ops upload events/images/") for c in commands)
    assert any("jobs watch" in c for c in commands) and any("ops report" in c for c in commands)


@pytest.mark.emulator
def test_the_readme_walkthrough_runs_step_by_step_on_a_fresh_emulator(tmp_path):
    steps = walkthrough_steps(README.read_text(encoding="utf-8"))
    port = str(free_port())  # the README says 9000; another test run may hold it
    out = tmp_path / "steps"
    out.mkdir()
    lines = ["trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT"]
    for number, (step, _) in enumerate(steps):
        command = step.replace("9000", port)
        # Braces run the step in this shell, so its exports and variables reach the next step.
        lines.append(f"{{ {command}\n}} > {out}/{number}.out 2> {out}/{number}.err; echo $? > {out}/{number}.rc")
    subprocess.run(["bash", "-c", "\n".join(lines)], cwd=ROOT, env=process_env({}, tmp_path), timeout=180,
                   check=False)

    outputs = {}
    for number, (step, expected) in enumerate(steps):
        rc = int((out / f"{number}.rc").read_text())
        stdout, stderr = (out / f"{number}.out").read_text(), (out / f"{number}.err").read_text()
        assert rc == expected, f"step {number}: {step}\nexit {rc}, expected {expected}\n{stdout}\n{stderr}"
        assert "Traceback" not in stderr, stderr
        outputs[step] = stdout

    def output_of(fragment: str) -> str:
        return next(text for step, text in outputs.items() if fragment in step)

    assert "uploaded uploads/hidden.png" in output_of("ops upload")
    assert output_of("ops jobs list").rstrip().endswith("\n1 job")
    watched = output_of("ops jobs watch")
    assert "2 objects: 2 Success; 1 image flagged" in watched
    assert re.search(r"^uploads/hidden\.png\s+Success\s+ZIP\s+bytes 119-", watched, re.M), watched
    report = output_of("ops report")
    assert report.startswith("PROBLEM: 1 job, 0 failed") and "1 image flagged" in report, report


# --- figures in the README are measured, not typed ----------------------------------------------------------

@pytest.mark.package
def test_the_package_size_in_the_readme_is_the_built_zips():
    from deploy import package

    if package.find_interpreter("3.10") is None:
        pytest.skip("no Python 3.10 under pyenv: the package is built for SCF's runtime")
    size_mb = round(package.ensure_built("3.10").zip.stat().st_size / 1e6)
    stated = [int(n) for n in re.findall(r"zip \(about (\d+) MB\)", README.read_text(encoding="utf-8"))]
    assert stated == [size_mb], f"README states {stated} MB; the zip is {size_mb} MB"
