"""docs/security.md names the test behind each line of its threat table: every name it cites must be a test."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def defined_tests() -> set:
    names = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names.update(n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name.startswith("test_"))
    return names


def test_every_test_the_security_doc_cites_exists():
    cited = set(re.findall(r"::(test_[a-z0-9_]+)", (ROOT / "docs" / "security.md").read_text(encoding="utf-8")))
    assert len(cited) >= 20
    assert sorted(cited - defined_tests()) == []
