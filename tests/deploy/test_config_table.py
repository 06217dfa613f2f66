"""docs/configuration.md is generated from lib/config.py and must never drift from it."""
from __future__ import annotations

from deploy.config_table import DOCS, OUTPUT, default_text, main, render_markdown
from lib.config import ENV_NAMES


def test_every_setting_has_prose_and_no_prose_is_orphaned():
    assert set(DOCS) == set(ENV_NAMES.values())


def test_committed_table_equals_the_generator_output():
    assert OUTPUT.read_text(encoding="utf-8") == render_markdown(), "run: python -m deploy.config_table"


def test_check_mode_passes_on_the_committed_file():
    assert main(["--check"]) == 0


def test_defaults_come_from_the_model():
    assert default_text("bucket") is None
    assert default_text("window") == "incremental"
    assert default_text("report_lookback") == "1d"
    assert default_text("upload_suffixes") == ".jpg,.jpeg,.png,.bmp,.webp,.gif"


def test_every_variable_has_a_row():
    table = render_markdown()
    assert all(f"| `{env}` |" in table for env in ENV_NAMES.values())
