"""Issue 27, point 6: what a true/false setting accepts is declared on its Setting (strict=True for a switch that
moves or deletes objects), and every message and docs/configuration.md say exactly that, no more and no less."""
from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import BaseModel

from deploy.config_table import render_markdown
from lib.config import (
    LOOSE_WORDS,
    STRICT_BOOLEANS,
    Setting,
    SettingDeclarationError,
    declared_settings,
    load_settings,
)
from lib.errors import ConfigError
from tests.support.settings import ENV


def refusal(variable: str, value: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings({**ENV, variable: value})
    return str(caught.value)


def test_the_switches_that_move_or_delete_objects_are_the_strict_ones():
    assert STRICT_BOOLEANS == {"inspect_auto_process", "allow_delete_whole_bucket", "allow_irreversible_delete",
                               "release_keeps_backup"}


@pytest.mark.parametrize("value, expected", [("true", True), ("TRUE", True), ("False", False), (" false ", False),
                                             ("", False)])
def test_a_strict_switch_takes_true_or_false_in_any_letter_case(value, expected):
    assert load_settings({**ENV, "INSPECT_AUTO_PROCESS": value}).inspect_auto_process is expected


@pytest.mark.parametrize("value", ["yes", "on", "1", "no", "off", "0", "y", "t"])
def test_a_strict_switch_refuses_every_other_word_naming_variable_value_and_the_two_words(value):
    message = refusal("ALLOW_DELETE_WHOLE_BUCKET", value)
    assert (f"ALLOW_DELETE_WHOLE_BUCKET={value!r}: must be true or false (any letter case; empty means false), "
            "nothing else: a switch that moves or deletes objects takes no yes, on or 1") in message


def test_another_switchs_error_lists_exactly_the_words_it_accepts():
    message = refusal("REPORT_ALL_JOBS", "perhaps")
    assert ("REPORT_ALL_JOBS='perhaps': must be true or false, or 1, yes, on for true and 0, no, off for false "
            "(any letter case; empty means false)") in message
    for expected, words in zip((True, False), LOOSE_WORDS):
        for word in words:  # every word the message names is taken, and as the message says
            assert load_settings({**ENV, "REPORT_ALL_JOBS": word.upper()}).report_all_jobs is expected


def test_strict_is_only_for_a_bool_field():
    class Probe(BaseModel):
        mode: Annotated[str, Setting("PROBE_MODE", timer="yes", what="What.", allowed="a or b", strict=True)] = "a"

    with pytest.raises(SettingDeclarationError, match="^Probe.mode: strict=True: only a bool field may be strict"):
        declared_settings(Probe)


def test_the_configuration_page_names_the_strict_switches_and_what_each_kind_takes():
    page = render_markdown()
    assert ("Switches that move or delete objects (`ALLOW_DELETE_WHOLE_BUCKET`, `ALLOW_IRREVERSIBLE_DELETE`, "
            "`INSPECT_AUTO_PROCESS`, `RELEASE_KEEPS_BACKUP`) take true or "
            "false (any letter case; empty means false), nothing else") in page
    assert "The other switches (`REPORT_ALL_JOBS`) take true or false, or 1, yes, on for true" in page
