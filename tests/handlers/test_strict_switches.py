"""Issue 27, point 6: a switch that moves or deletes objects takes only true or false. `INSPECT_AUTO_PROCESS=yes`
(or on, or 1) used to be silently true, and a `yes` made a job that moved an image; now it is a configuration
error naming the variable, its value and exactly what is accepted, from the environment or a timer argument, and
nothing is submitted. Timer arguments may carry JSON true/false (lib.config.parse_timer_argument writes them as
`true`/`false`); a JSON 1 arrives as "1" and is refused like the text."""
from __future__ import annotations

import json

import pytest

from lib.errors import ConfigError
from tests.reliability.support import all_jobs
from tests.security.timer_support import TICK, seed_flagged
from tests.support.events import timer_event

pytestmark = pytest.mark.emulator

ACCEPTED = "must be true or false (any letter case; empty means false), nothing else"


def tick(message: str = ""):
    from handlers.submit import main_handler

    return main_handler(timer_event(TICK, message=message), {"request_id": "tick", "time_limit_in_ms": 60000})


@pytest.mark.parametrize("value", ["yes", "on", "1", "Yes", "ON"])
def test_inspect_auto_process_set_to_a_loose_true_word_is_refused_and_nothing_is_submitted(
        emulator, emulator_bucket, monkeypatch, value):
    seed_flagged(emulator_bucket)
    monkeypatch.setenv("INSPECT_AUTO_PROCESS", value)
    with pytest.raises(ConfigError) as caught:
        tick()
    assert f"INSPECT_AUTO_PROCESS={value!r}: {ACCEPTED}" in str(caught.value)
    assert all_jobs(emulator) == []


@pytest.mark.parametrize("value", ["no", "off", "0"])
def test_inspect_auto_process_set_to_a_loose_false_word_is_refused_too(emulator, emulator_bucket, monkeypatch, value):
    monkeypatch.setenv("INSPECT_AUTO_PROCESS", value)
    with pytest.raises(ConfigError, match=f"INSPECT_AUTO_PROCESS={value!r}: must be true or false"):
        tick()
    assert all_jobs(emulator) == []


@pytest.mark.parametrize("argument", [{"INSPECT_AUTO_PROCESS": 1}, {"INSPECT_AUTO_PROCESS": "yes"},
                                      {"INSPECT_AUTO_PROCESS": "on"}], ids=["json-1", "yes", "on"])
def test_a_timer_argument_turning_auto_process_on_with_a_loose_word_is_refused(emulator, emulator_bucket, argument):
    seed_flagged(emulator_bucket)
    with pytest.raises(ConfigError) as caught:
        tick(json.dumps(argument))
    assert ACCEPTED in str(caught.value) and "(timer argument)" in str(caught.value)
    assert all_jobs(emulator) == []


@pytest.mark.parametrize("argument", ['{"INSPECT_AUTO_PROCESS": true}', '{"INSPECT_AUTO_PROCESS": "TRUE"}'],
                         ids=["json-true", "upper-case-text"])
def test_a_timer_argument_may_turn_auto_process_on_with_json_true_or_the_word_true(emulator, emulator_bucket,
                                                                                   argument):
    (job,) = tick(argument)["jobs"]
    assert job["created"] is True
    (held,) = emulator_bucket.jobs.values()
    assert "<AutoProcess>true</AutoProcess>" in held.operation_xml


def test_allow_delete_whole_bucket_yes_is_refused_before_any_whole_bucket_delete(emulator, emulator_bucket,
                                                                                 monkeypatch):
    for name, value in (("INSPECT_AUTO_PROCESS", "true"), ("INSPECT_PROCESS_TYPE", "DeleteObject"),
                        ("ALLOW_DELETE_WHOLE_BUCKET", "yes")):
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        tick()
    assert f"ALLOW_DELETE_WHOLE_BUCKET='yes': {ACCEPTED}" in str(caught.value)
    assert all_jobs(emulator) == []
