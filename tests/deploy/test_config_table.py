"""docs/configuration.md is generated from lib/config.py and must never drift from it."""
from __future__ import annotations

from deploy.config_table import OUTPUT, default_text, main, render_markdown, yaml_comment
from lib.config import DECLARED, ENV_NAMES


def test_each_row_shows_the_prose_and_timer_override_declared_with_the_setting():
    table = render_markdown()
    for setting in DECLARED.values():
        assert f"| `{setting.env}` | {setting.what} | " in table
        assert f" | {setting.allowed} | {setting.timer} |" in table


def test_the_serverless_yml_comment_is_the_declared_prose():
    setting = DECLARED["report_notify"]
    assert yaml_comment("REPORT_NOTIFY") == f"# {setting.what} Default: on-problem. Allowed: {setting.allowed}."


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
