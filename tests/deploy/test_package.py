"""The SCF package: what goes in, what stays out, and (slow) that it runs alone on SCF's Python."""
from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple, Set

import pytest

from deploy import package
from deploy.package import ROOT, find_interpreter, paths_for, prune, runtime_dependencies, write_zip
from deploy.spec import handler_strings
from tests.support.events import timer_event
from tests.support.settings import BUCKET


# --- fast: the rules -------------------------------------------------------------------------------------------
def test_dependencies_come_from_pyproject_runtime_list_only():
    deps = runtime_dependencies()
    assert any(d.startswith("cos-python-sdk-v5") for d in deps) and any(d.startswith("pydantic") for d in deps)
    assert not any(d.startswith(("pytest", "ruff", "responses", "hypothesis")) for d in deps)


def test_paths_are_named_after_the_runtime(tmp_path):
    paths = paths_for("3.9", tmp_path)
    assert paths.directory == tmp_path / "package-py39"
    assert paths.zip == tmp_path / "cos-batch-autopilot-py39.zip"


def test_unknown_runtime_is_refused():
    with pytest.raises(SystemExit, match="3.10, 3.9"):
        package.build("3.12")


def test_prune_drops_caches_dependency_tests_and_pip_bookkeeping(tmp_path):
    keep = ["pydantic/main.py", "Crypto/Cipher/AES.py", "six-1.17.0.dist-info/METADATA",
            "six-1.17.0.dist-info/LICENSE"]
    drop = ["pydantic/__pycache__/main.cpython-310.pyc", "Crypto/SelfTest/__init__.py", "bin/normalizer",
            "six-1.17.0.dist-info/RECORD", "six-1.17.0.dist-info/INSTALLER", "lib/stale.pyc"]
    for name in keep + drop:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    prune(tmp_path)
    assert all((tmp_path / name).exists() for name in keep)
    assert not any((tmp_path / name).exists() for name in drop)


def test_code_copy_takes_the_entry_files_handlers_and_lib_only(tmp_path):
    package.copy_code(tmp_path)
    top = {p.name for p in tmp_path.iterdir()}
    assert top == {"handlers", "lib", "scf_submit.py", "scf_report.py"}
    assert not list(tmp_path.rglob("__pycache__"))


def imported_modules(path: Path) -> Set[str]:
    """Every absolute module an import statement in path names, wherever the statement sits (function, with, if)."""
    names: Set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def importers_of_ops(root: Path) -> Set[str]:
    """The .py files under root that import ops or a module of it."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*.py")
            if any(name == "ops" or name.startswith("ops.") for name in imported_modules(p))}


def test_the_import_walk_sees_every_form_of_importing_ops(tmp_path):
    for number, line in enumerate(("import ops", "import ops.cli as cli", "from ops import jobview",
                                   "from ops.credentials import find_credentials",
                                   "def later():\n    from ops.cli import main")):
        (tmp_path / f"m{number}.py").write_text(line + "\n")
    (tmp_path / "fine.py").write_text("import opsis\nfrom lib import ops\nfrom .ops import x\n")
    assert importers_of_ops(tmp_path) == {f"m{n}.py" for n in range(5)}


def test_the_deployed_code_never_imports_ops_and_the_one_alias_that_does_is_left_out():
    importers = {f"{d}/{p}" for d in package.CODE_DIRS for p in importers_of_ops(ROOT / d)}
    assert importers == {"lib/cli.py"} and package.OPERATOR_ONLY == {"lib/cli.py", "lib/credentials.py"}


def test_code_copy_holds_no_operator_cli(tmp_path):
    package.copy_code(tmp_path)
    assert not (tmp_path / "ops").exists() and not (tmp_path / "lib" / "cli.py").exists()
    assert not (tmp_path / "lib" / "credentials.py").exists()
    assert (tmp_path / "lib" / "client.py").exists()
    assert importers_of_ops(tmp_path) == set()


def test_zip_is_reproducible_and_relative(tmp_path):
    (tmp_path / "src" / "handlers").mkdir(parents=True)
    (tmp_path / "src" / "handlers" / "submit.py").write_text("x = 1\n")
    write_zip(tmp_path / "src", tmp_path / "a.zip")
    write_zip(tmp_path / "src", tmp_path / "b.zip")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    assert zipfile.ZipFile(tmp_path / "a.zip").namelist() == ["handlers/submit.py"]


# --- slow: build it, unpack it, run it alone against the emulator -----------------------------------------------
# SCF's Python runtimes resolve handler `file.function` to file.py at the code root (CreateFunction API, Handler:
# "文件名称.方法名称", cloud.tencent.com/document/api/583/18586, read 2026-12-01). The runner does exactly that with
# the handler strings read from serverless.yml, on each runtime the package is built for.
RUNTIMES = [pytest.param(v, id=f"py{v}") for v in ("3.9", "3.10")]
HANDLERS = handler_strings()

# Runs in the target interpreter with -I -S: the unpacked package is the only thing added to sys.path.
RUNNER = r"""
import importlib, json, sys
package, handlers, event = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
sys.path.insert(0, package)
assert not [p for p in sys.path if "site-packages" in p], sys.path
results = {}
for key, handler in handlers.items():
    module, _, function = handler.rpartition(".")
    entry = getattr(importlib.import_module(module), function)
    results[key] = entry(event, {"request_id": "pkg-check-" + key, "time_limit_in_ms": 300000})
results["_files"] = {m: sys.modules[m].__file__ for m in ("pydantic_core", "qcloud_cos", "crcmod", "lib.config")}
print("RESULT " + json.dumps(results, default=str))
"""


class Unpacked(NamedTuple):
    python: str
    interpreter: str
    root: Path


@pytest.fixture(scope="module", params=RUNTIMES)
def unpacked(request, tmp_path_factory):
    python = request.param
    interpreter = find_interpreter(python)
    if interpreter is None:
        pytest.skip(f"no Python {python} under pyenv (pyenv versions --bare): the package check needs SCF's runtime")
    paths = package.ensure_built(python)  # pip downloads are cached under .cache/, so a rebuild takes seconds
    target = tmp_path_factory.mktemp(f"scf-user-code-py{python}")  # an empty folder, like /var/user on SCF
    with zipfile.ZipFile(paths.zip) as zf:
        zf.extractall(target)
    return Unpacked(python, interpreter, target)


@pytest.fixture
def emulator_env(unpacked):
    testing = pytest.importorskip("emulator.testing", reason="the emulator (emulator/) is not importable yet")
    with testing.run_emulator() as emu:
        emu.backend.create_bucket(BUCKET)
        emu.backend.put_object(BUCKET, "photos/cat.jpg", b"\xff\xd8\xff\xe0 not really a jpeg \xff\xd9",
                               content_type="image/jpeg")
        env = {"PATH": os.defpath, "LANG": "C.UTF-8", "COS_BUCKET": BUCKET, "COS_REGION": testing.DEFAULT_REGION,
               "COS_EMULATOR_URL": emu.url, "TENCENTCLOUD_SECRETID": testing.TEST_SECRET_ID,
               "TENCENTCLOUD_SECRETKEY": testing.TEST_SECRET_KEY, "INPUT_PREFIX": "photos/"}
        yield emu, env


def run_packaged(unpacked: Unpacked, env, keys, event):
    # -B as SCF sets PYTHONDONTWRITEBYTECODE (which -I would ignore): the unpacked folder stays as shipped.
    handlers = json.dumps({key: HANDLERS[key] for key in keys})
    proc = subprocess.run([unpacked.interpreter, "-I", "-S", "-B", "-c", RUNNER, str(unpacked.root), handlers,
                           json.dumps(event)], cwd=unpacked.root, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, f"packaged handlers failed on Python {unpacked.python}:\n{proc.stdout}\n{proc.stderr}"
    line = next(line for line in proc.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def timer_now(name):
    """A tick of the real clock: the packaged handlers run against the emulator in real time."""
    return timer_event(datetime.now(timezone.utc).replace(microsecond=0), name)


def test_serverless_yml_handlers_name_root_entry_files_in_scf_form():
    # file.function, each part starting and ending with a letter (CreateFunction API Handler rule, 583/18586).
    assert HANDLERS and all(re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*[A-Za-z]\.[A-Za-z][A-Za-z0-9_-]*[A-Za-z]", h)
                            for h in HANDLERS.values()), HANDLERS
    assert all((ROOT / (h.rpartition(".")[0] + ".py")).exists() for h in HANDLERS.values())


@pytest.mark.package
def test_packaged_submit_resolved_from_its_handler_string_creates_the_job(unpacked, emulator_env):
    emu, env = emulator_env
    result = run_packaged(unpacked, env, ["submit"], timer_now("submit-hourly"))
    assert all(path.startswith(str(unpacked.root)) for path in result["_files"].values()), result["_files"]
    (job,) = result["submit"]["jobs"]
    assert job["created"] is True
    assert emu.backend.get_job(job["job_id"]) is not None
    assert emu.backend.run_pending() >= 1


@pytest.mark.package
def test_packaged_report_resolved_from_its_handler_string_reports_the_job(unpacked, emulator_env):
    emu, env = emulator_env
    submitted = run_packaged(unpacked, env, ["submit"], timer_now("submit-hourly"))
    emu.backend.run_pending()
    result = run_packaged(unpacked, env, ["report"], timer_now("report-daily"))
    assert result["report"], result
    assert submitted["submit"]["jobs"][0]["job_id"] in json.dumps(result["report"])


@pytest.mark.package
def test_package_smoke_resolves_every_handler_string(unpacked):
    out = package.smoke_import(package.paths_for(unpacked.python), unpacked.python, unpacked.interpreter)
    assert "handlers ok: " + ", ".join(HANDLERS.values()) in out


def test_runner_refuses_site_packages_leaks():
    # The isolation the check relies on: -I -S leaves only the standard library on sys.path.
    py310 = find_interpreter("3.10")
    if py310 is None:
        pytest.skip("no Python 3.10 under pyenv")
    out = subprocess.run([py310, "-I", "-S", "-c", "import sys; print(sys.path)"], capture_output=True, text=True,
                         check=True, env={"PATH": os.defpath}).stdout
    assert "site-packages" not in out and str(ROOT) not in out and sys.prefix not in out


def test_built_package_holds_entry_files_our_code_and_no_tests_emulator_events_or_caches(unpacked):
    root, tag = unpacked.root, unpacked.python.replace(".", "")
    top = {p.name for p in root.iterdir()}
    assert {"scf_submit.py", "scf_report.py", "handlers", "lib", "pydantic_core", "qcloud_cos",
            package.INFO_FILE} <= top
    assert not top & {"tests", "emulator", "events", "docs", "bench", "deploy", ".cache", "build"}
    assert {p.name.split(".")[1] for p in root.rglob("*.pyc")} == {f"cpython-{tag}"}  # no stale caches
    info = json.loads((root / package.INFO_FILE).read_text())
    assert info["python"] == unpacked.python and "pytest" not in info["dependencies"]


def test_built_package_holds_no_operator_cli_and_nothing_in_it_imports_ops(unpacked):
    root = unpacked.root
    assert not (root / "ops").exists() and not (root / "lib" / "cli.py").exists()
    assert not list((root / "lib").rglob("cli.*.pyc"))
    assert importers_of_ops(root / "handlers") == importers_of_ops(root / "lib") == set()


def test_built_package_carries_bytecode_for_every_module_because_scf_code_is_read_only(unpacked):
    root, tag = unpacked.root, unpacked.python.replace(".", "")
    sources = [*root.glob("scf_*.py"), *(p for d in ("handlers", "lib") for p in (root / d).glob("*.py"))]
    missing = [str(p.relative_to(root)) for p in sources
               if not (p.parent / "__pycache__" / f"{p.stem}.cpython-{tag}.pyc").exists()]
    assert sources and missing == []
