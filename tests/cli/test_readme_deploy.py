"""The README's deploy steps 1-4 run as written on a fresh copy of the tree, and `make help` knows every target the
README names (issue 27, point 9)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List, NamedTuple

import pytest

from tests.cli.support import ROOT

README = ROOT / "README.md"
DEPLOY = "## Deploy"
# The local steps: 5 on needs a Tencent Cloud account (docs/deploy.md covers those against the API's doubles).
LOCAL_STEPS = 4


def deploy_steps(readme: str) -> List[str]:
    """The command of each local deploy step: the first code span of its numbered item."""
    section = readme.split(DEPLOY, 1)[1].split("\n## ", 1)[0]
    steps = dict(re.findall(r"^(\d+)\. [^`\n]*`([^`]+)`", section, re.M))
    return [steps[str(number)] for number in range(1, LOCAL_STEPS + 1)]


def readme_make_targets(readme: str) -> List[str]:
    """Every `make X` the README tells a person to run: in a code span or at the start of a shell line."""
    return sorted(set(re.findall(r"(?:`|^)make ([a-z][a-z0-9-]*)", readme, re.M)))


def help_targets() -> List[str]:
    out = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return re.findall(r"^make (\S+)", out, re.M)


def person_env(home: Path) -> Dict[str, str]:
    """A shell's environment without the settings, credentials and test-runner variables of this run."""
    dropped = ("COS_", "TENCENTCLOUD_", "PYTEST", "PYTHON", "MAKE", "MFLAGS")
    return {**{k: v for k, v in os.environ.items() if not k.startswith(dropped)}, "HOME": str(home)}


def fresh_copy(dest: Path) -> Path:
    """What a clone holds (tracked and new files, nothing git ignores), beside the venv `make demo` made.

    The copied files are dated before the venv's stamp, as after a clone and `make demo`: newer, make would reinstall
    the venv, which here is the running one."""
    stamp = ROOT / ".venv" / ".installed"
    if not stamp.exists():
        pytest.skip(".venv/.installed is missing: the deploy steps assume the venv `make demo` makes")
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    dated = stamp.stat().st_mtime - 3600
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
            os.utime(dest / name, (dated, dated))
    (dest / ".venv").symlink_to((ROOT / ".venv").resolve())
    # pip's download cache only saves time (every file is still checked against the lock's hash)
    (ROOT / ".cache" / "pip").mkdir(parents=True, exist_ok=True)  # a first run may come before any build here
    (dest / ".cache").mkdir()
    (dest / ".cache" / "pip").symlink_to(ROOT / ".cache" / "pip", target_is_directory=True)
    return dest


class Step(NamedTuple):
    command: str
    code: int
    out: str
    err: str


def run_steps(tree: Path, commands: List[str], home: Path, timeout: float) -> List[Step]:
    """Run the commands in one shell, in order, as a person pastes them; each one's exit code and output."""
    logs = home / "steps"
    logs.mkdir()
    script = "\n".join(f"{{ {command}\n}} > {logs}/{n}.out 2> {logs}/{n}.err; echo $? > {logs}/{n}.rc"
                       for n, command in enumerate(commands))
    subprocess.run(["bash", "-c", script], cwd=tree, env=person_env(home), timeout=timeout, check=False)

    def read(name: str, missing: str) -> str:  # a step the shell could not even parse leaves no files
        return (logs / name).read_text() if (logs / name).exists() else missing

    return [Step(command, int(read(f"{n}.rc", "-1")), read(f"{n}.out", ""), read(f"{n}.err", "the shell never ran it"))
            for n, command in enumerate(commands)]


# --- fast -------------------------------------------------------------------------------------------------------
def test_the_local_deploy_steps_are_settings_policy_package_and_package_check():
    steps = deploy_steps(README.read_text(encoding="utf-8"))
    assert steps == ["cp deploy/env.example .env", ".venv/bin/python -m deploy.policy --out build/policy.json",
                     "make package", "make package-check"]


def test_make_help_lists_every_make_target_the_readme_names():
    named = readme_make_targets(README.read_text(encoding="utf-8"))
    assert {"demo", "test", "package", "package-check", "soak", "lock"} <= set(named)
    assert sorted(set(named) - set(help_targets())) == []


def test_every_target_make_help_lists_is_a_rule_of_the_makefile():
    rules = set(re.findall(r"^([a-z][a-z0-9-]*):", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M))
    assert sorted(set(help_targets()) - rules) == []


def test_the_settings_and_policy_steps_write_build_policy_json_on_a_tree_without_build(tmp_path):
    tree = fresh_copy(tmp_path / "clone")
    assert not (tree / "build").exists()
    home = tmp_path / "home"
    home.mkdir()
    steps = run_steps(tree, deploy_steps(README.read_text(encoding="utf-8"))[:2], home, timeout=60)
    assert [(s.code, s.err) for s in steps] == [(0, ""), (0, "")], steps
    policy = json.loads((tree / "build" / "policy.json").read_text(encoding="utf-8"))
    # the bucket of step 1's .env (deploy/env.example's example) reaches the policy's resources
    assert "examplebucket-1250000000" in json.dumps(policy["statement"])


# --- slow: builds both packages in the copy and runs the package check there ------------------------------------
@pytest.mark.package
def test_the_readme_deploy_steps_1_to_4_run_as_written_on_a_fresh_copy(tmp_path):
    tree = fresh_copy(tmp_path / "clone")
    home = tmp_path / "home"
    home.mkdir()
    steps = run_steps(tree, deploy_steps(README.read_text(encoding="utf-8")), home, timeout=900)
    for step in steps:
        assert step.code == 0, f"{step.command}: exit {step.code}\n{step.out}\n{step.err}"
        assert "Traceback" not in step.err, step.err
    package, check = steps[2].out, steps[3].out
    assert (tree / "build" / "cos-batch-autopilot-py310.zip").exists()
    # the import check says what it proved and on which Python, and names no temporary folder
    assert re.search(r"handlers ok: scf_submit\.main_handler, scf_report\.main_handler import from the unpacked "
                     r"zip alone on Python 3\.10\.\d+", package) or "SKIPPED import check: no Python 3.10" in package
    assert "__init__.py" not in package and "/tmp" not in package, package
    assert re.search(r"\d+ passed", check) and "failed" not in check and " error" not in check, check
