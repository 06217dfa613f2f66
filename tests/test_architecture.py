"""The folders' import rules (docs/architecture.md), checked over every import statement, lazy ones included."""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = ("lib", "handlers", "ops", "deploy", "emulator", "detector", "bench", "tests")
# The shared core: what both use cases and every tool build on. It imports nothing above it.
CORE = ("lib.errors", "lib.config", "lib.regions", "lib.events", "lib.windows", "lib.jobs", "lib.client", "lib.state",
        "lib.logs", "lib.escape", "lib.invocation", "lib.upload_rules", "lib.upload_state",
        "lib.inventory", "lib.inventory_state", "lib.spend", "lib.plans", "lib.review",
        "lib.irreversible")
# (a module under this prefix, may import our modules under these prefixes); the first matching row applies.
RULES: Tuple[Tuple[str, Tuple[str, ...]], ...] = (
    ("lib.submit", CORE + ("lib.submit",)),
    ("lib.report", CORE + ("lib.report",)),
    ("lib.cli", ("ops",)),  # the old command's alias, left out of the SCF package
    ("lib.credentials", CORE),  # the tools' one credentials lookup, left out of the SCF package too
    ("lib", CORE),
    ("handlers.submit", CORE + ("lib.submit", "handlers")),
    ("handlers.report", CORE + ("lib.report", "handlers")),
    ("handlers", ("handlers",)),
    ("scf_", ("handlers",)),
    # The emulator is written from Tencent's published behaviour, never from our client: only its demo, which
    # drives the product, may import it.
    ("emulator.demo", ("emulator", "lib", "handlers")),
    # Tools for people: the CLI drives the use cases and the handlers; deploy needs only the settings' rules.
    ("ops", ("ops", "lib", "handlers")),
    ("deploy", CORE + ("lib.credentials", "deploy")),
    ("emulator", ("emulator", "detector")),  # the emulator runs the ImageInspect detector on object bytes
)


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[Tuple[int, str]]:
    """(line, module) for every import of our own code in the file, at any depth."""
    package = _module(path) if path.name == "__init__.py" else _module(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            # `from lib import upload_state` imports lib.upload_state; `from lib.client import X` is within lib.client.
            names = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] in OURS:
                yield node.lineno, name


def _within(name: str, prefixes: Tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") or (p.endswith("_") and name.startswith(p)) for p in prefixes)


def _checked_files() -> List[Path]:
    files = [p for d in ("lib", "handlers", "ops", "deploy", "emulator") for p in (ROOT / d).rglob("*.py")
             if "__pycache__" not in p.parts]
    return sorted(files + list(ROOT.glob("scf_*.py")))


def _broken(path: Path) -> List[str]:
    module = _module(path)
    allowed = next(allowed for prefix, allowed in RULES if _within(module, (prefix,)))
    return [f"{path.relative_to(ROOT)}:{line} imports {name}" for line, name in _imports(path)
            if not _within(name, allowed) and not _within(name, (module,))]


@pytest.mark.parametrize("path", _checked_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_each_module_imports_only_what_its_layer_may(path):
    assert _broken(path) == []


def test_no_module_of_the_deployed_code_imports_a_tool_for_people_or_a_test():
    deployed = [p for d in ("lib", "handlers") for p in (ROOT / d).rglob("*.py")
                if p.relative_to(ROOT).as_posix() != "lib/cli.py"]
    tools = ("ops", "deploy", "emulator", "detector", "bench", "tests")
    found = [f"{p.relative_to(ROOT)}:{line} imports {name}" for p in deployed for line, name in _imports(p)
             if _within(name, tools)]
    assert found == []


@pytest.mark.parametrize(("module", "source", "allowed"), [
    ("lib/report/build.py", "from lib.submit.coalesce import flush_pass\n", False),
    ("lib/jobs.py", "def f():\n    from lib.report import render\n", False),
    ("lib/submit/timer.py", "from lib import upload_state\n", True),
    ("lib/submit/timer.py", "from lib import report\n", False),
    ("emulator/server.py", "import lib.client\n", False),
    ("handlers/submit.py", "from lib.report.build import build_report\n", False),
    ("handlers/submit.py", "from lib.credentials import credentials_for\n", False),
    ("lib/client.py", "from lib import credentials\n", False),
    ("deploy/scf_api.py", "from lib.credentials import credentials_for\n", True),
])
def test_the_rules_catch_an_import_across_layers(tmp_path, monkeypatch, module, source, allowed):
    """The check itself: a use case reaching into the other, or the core reaching up, is reported (lazy imports too)."""
    path = tmp_path / module
    path.parent.mkdir(parents=True)
    path.write_text(source, encoding="utf-8")
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    assert (_broken(path) == []) is allowed


def _folders_listed(text: str, heading: str) -> set:
    """The folders a page's first code block after `heading` names at the start of its lines."""
    block = text.split(heading, 1)[1].split("```", 2)[1]
    return {line.split()[0] for line in block.splitlines() if line[:1].isalpha() and line.split()[0].endswith("/")}


def test_the_readme_layout_and_the_architecture_page_list_the_same_folders_and_every_code_folder():
    readme = _folders_listed((ROOT / "README.md").read_text(encoding="utf-8"), "## Layout")
    page = _folders_listed((ROOT / "docs" / "architecture.md").read_text(encoding="utf-8"), "## The folders")
    code = {f"{p.parent.relative_to(ROOT).as_posix()}/" for p in ROOT.glob("*/**/__init__.py")
            if p.parent.relative_to(ROOT).parts[0] in OURS and len(p.parent.relative_to(ROOT).parts) <= 2
            and p.parent.relative_to(ROOT).parts[0] != "tests"}
    assert page - {"events/", "docs/"} <= readme
    assert code <= page
    assert all((ROOT / folder).is_dir() for folder in readme | page)


def _sdk_uses(path: Path) -> List[str]:
    """Where a file imports the SDK beyond loading it, or reaches through a client to its SDK (`x.sdk`)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "qcloud_cos":
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} imports from {node.module}")
        elif isinstance(node, ast.Attribute) and node.attr == "sdk":
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} reads .sdk")
    return found


def test_only_the_client_touches_the_sdk():
    """lib.client is the one module that calls the SDK; the handlers only import it whole, to freeze it at load."""
    files = [p for d in ("lib", "handlers", "ops") for p in (ROOT / d).rglob("*.py")
             if p.relative_to(ROOT).as_posix() != "lib/client.py"]
    assert [use for p in files for use in _sdk_uses(p)] == []
