"""Issue 27 point 5: a typo gets the name it most likely meant (difflib, as COS_REGION already does), a subcommand's
mistake gets that subcommand's usage, and a job's name where its id belongs points to `jobs list --name`."""
from __future__ import annotations

import json
import shlex

import pytest

from emulator.testing import run_emulator
from tests.cli.support import BUCKET, bucket_env, cli, credentials
from tests.support.events import timer_event

SETTINGS = {"COS_BUCKET": BUCKET, "COS_REGION": "ap-guangzhou"}  # refused before any call: no endpoint needed
JOB_NAME = "autopilot-hourly-20261128T150000Z-20261128T160000Z"


def event_file(tmp_path, argument: dict):
    path = tmp_path / "tick.json"
    path.write_text(json.dumps(timer_event(message=json.dumps(argument))))
    return str(path)


def test_a_mistyped_command_suggests_the_command(tmp_path):
    ran = cli("reprot", env=SETTINGS, home=tmp_path)
    assert ran.code == 2 and "invalid choice: 'reprot'; did you mean report?" in ran.err, ran


def test_a_mistyped_subcommand_suggests_it_with_its_groups_usage(tmp_path):
    ran = cli("jobs", "lsit", env=SETTINGS, home=tmp_path)
    assert ran.code == 2 and "did you mean list?" in ran.err and "usage: python -m ops jobs " in ran.err, ran


def test_a_mistyped_choice_is_matched_whatever_its_case(tmp_path):
    ran = cli("jobs", "list", "--tz", "cst", env=SETTINGS, home=tmp_path)
    assert ran.code == 2 and "did you mean CST?" in ran.err, ran


def test_an_unknown_option_of_a_subcommand_prints_that_subcommands_usage_and_the_nearest_option(tmp_path):
    ran = cli("jobs", "list", "--stae", "Failed", env=SETTINGS, home=tmp_path)
    assert ran.code == 2 and "unrecognized arguments: --stae Failed; did you mean --state?" in ran.err, ran
    assert "usage: python -m ops jobs list [-h]" in ran.err and "--state STATE" in ran.err, ran


def test_an_unknown_option_given_with_its_value_still_finds_the_nearest(tmp_path):
    ran = cli("jobs", "list", "--limt=5", env=SETTINGS, home=tmp_path)
    assert ran.code == 2 and "did you mean --limit?" in ran.err and "usage: python -m ops jobs list" in ran.err, ran


def test_an_option_like_no_other_gets_no_suggestion(tmp_path):
    ran = cli("report", "--xyzzy", env=SETTINGS, home=tmp_path)
    assert ran.code == 2 and "did you mean" not in ran.err and "usage: python -m ops report" in ran.err, ran


def test_a_mistyped_timer_argument_key_names_the_setting_it_meant_not_all_of_them(tmp_path):
    ran = cli("submit", "--dry-run", "--event", event_file(tmp_path, {"WINDOWS": "1h"}), env=SETTINGS, home=tmp_path)
    assert ran.code == 2 and "timer argument key 'WINDOWS'" in ran.err and "did you mean WINDOW?" in ran.err, ran
    assert "allowed:" not in ran.err, ran


def test_a_timer_argument_key_like_no_setting_still_lists_what_is_allowed(tmp_path):
    ran = cli("submit", "--dry-run", "--event", event_file(tmp_path, {"COLOUR": "blue"}), env=SETTINGS, home=tmp_path)
    assert ran.code == 2 and "allowed: " in ran.err and "INPUT_PREFIX" in ran.err and "did you mean" not in ran.err, ran


@pytest.mark.parametrize("command", ["get", "watch", "cancel"])
def test_a_job_name_given_as_a_job_id_points_to_jobs_list_name(tmp_path, command):
    ran = cli("jobs", command, JOB_NAME, env=SETTINGS, home=tmp_path)
    assert ran.code == 2 and f"job id {JOB_NAME!r} is not a batch-job id" in ran.err, ran
    assert f"python -m ops jobs list --name {JOB_NAME}" in ran.err, ran


@pytest.mark.emulator
def test_the_command_the_hint_names_finds_the_job(tmp_path):
    with run_emulator() as emu:
        emu.backend.create_bucket(BUCKET)
        created = emu.client().ci_create_inventory_trigger_jobs(
            Bucket=BUCKET, ContentType="application/xml", JobBody={
                "Name": JOB_NAME, "Type": "Job", "Input": {"Prefix": "uploads/"},
                "Operation": {"Tag": "ImageInspect", "JobParam": {"ImageInspect": {"AutoProcess": "false"}}}})
        env = {**bucket_env(emu), **credentials()}
        hint = cli("jobs", "get", JOB_NAME, env=env, home=tmp_path).err.split("to find a job by its name: ")[1]
        argv = shlex.split(hint.strip())[3:]  # after `python -m ops`
        found = cli(*argv, "--json", env=env, home=tmp_path)
    assert [job["JobId"] for job in found.json()] == [created["JobsDetail"][0]["JobId"]], found
