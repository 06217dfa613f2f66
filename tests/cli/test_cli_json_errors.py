"""Issue 27 point 4: under --json every error is one JSON document on stdout, `{"error": {"kind", "message", "fix",
"exit_code", ...}}`, with the exit code the same command has without --json; the person's line stays on stderr."""
from __future__ import annotations

import pytest

from tests.cli.support import BUCKET, ROOT, bucket_env, cli, credentials, no_traceback

pytestmark = pytest.mark.emulator
IMAGE = str(ROOT / "events" / "images" / "clean.png")
DOWN = {"COS_BUCKET": BUCKET, "COS_REGION": "ap-guangzhou", "COS_EMULATOR_URL": "http://127.0.0.1:9",
        "API_TIMEOUT": "2", **credentials()}  # port 9 (discard) has no listener: refused at once


@pytest.fixture
def env(running):
    running.reset()
    running.backend.create_bucket(BUCKET)
    running.backend.put_object(BUCKET, "uploads/clean.png", b"already here")
    return {**bucket_env(running), **credentials()}


def error_of(ran) -> dict:
    """The one document on stdout (Ran.json parses the whole of it), which must be an error."""
    document = ran.json()
    assert list(document) == ["error"], ran
    return document["error"]


CASES = {
    "a job that does not exist": (("jobs", "get", "b" + "0" * 32), None, "not_found", 1),
    "the endpoint down": (("jobs", "list"), DOWN, "unreachable", 1),
    "an upload of an existing key": (("upload", IMAGE, "--prefix", "uploads/"), None, "exists", 1),
    "a bad setting": (("jobs", "list"), {"COS_REGION": "ap-guangzou"}, "settings", 2),
    "a bad argument": (("jobs", "list", "--limit", "0"), None, "usage", 2),
    "an argument argparse refuses": (("jobs", "list", "--stae", "Failed"), None, "usage", 2),
    "a mistyped command": (("reprot",), None, "usage", 2),
}


@pytest.mark.parametrize(("argv", "change", "kind", "code"), list(CASES.values()), ids=list(CASES))
def test_an_error_under_json_is_one_json_document_on_stdout(env, tmp_path, argv, change, kind, code):
    ran = cli("--json", *argv, env={**env, **(change or {})}, home=tmp_path)
    error = error_of(ran)
    assert (ran.code, error["kind"], error["exit_code"]) == (code, kind, code), ran
    assert error["message"] and isinstance(error["fix"], str) and no_traceback(ran), ran


@pytest.mark.parametrize(("argv", "change", "kind", "code"), list(CASES.values()), ids=list(CASES))
def test_json_changes_what_an_error_prints_not_its_exit_code(env, tmp_path, argv, change, kind, code):
    plain = cli(*argv, env={**env, **(change or {})}, home=tmp_path)
    as_json = cli(*argv, "--json", env={**env, **(change or {})}, home=tmp_path)
    assert plain.code == as_json.code == code and plain.out == "", (plain, as_json)
    assert error_of(as_json)["kind"] == kind


def test_a_missing_job_under_json_names_the_id_and_how_to_find_ids(env, tmp_path):
    error = error_of(cli("jobs", "get", "b" + "0" * 32, "--json", env=env, home=tmp_path))
    assert error["job_id"] == "b" + "0" * 32 and f"in bucket {BUCKET}" in error["message"]
    assert "jobs list" in error["fix"]


def test_an_upload_stopped_by_an_existing_key_says_which_key_and_what_was_uploaded(env, tmp_path):
    first = tmp_path / "a.png"
    first.write_bytes(b"new")
    ran = cli("upload", str(first), IMAGE, "--prefix", "uploads/", "--json", env=env, home=tmp_path)
    error = error_of(ran)
    assert ran.code == 1 and error["key"] == "uploads/clean.png" and error["fix"] == "--overwrite replaces it"
    assert [u["key"] for u in error["uploaded"]] == ["uploads/a.png"]


def test_an_unreachable_endpoint_under_json_gives_the_hint_as_the_fix(tmp_path):
    error = error_of(cli("jobs", "list", "--json", env=DOWN, home=tmp_path))
    assert "could not be reached" in error["message"] and "is the emulator running" in error["fix"]


def test_a_bad_setting_under_json_lists_each_problem(env, tmp_path):
    error = error_of(cli("jobs", "list", "--json", env={**env, "COS_REGION": "ap-guangzou"}, home=tmp_path))
    (problem,) = error["problems"]
    assert "COS_REGION='ap-guangzou'" in problem and "did you mean ap-guangzhou?" in problem


def test_a_usage_error_under_json_gives_the_subcommands_usage_as_the_fix(env, tmp_path):
    error = error_of(cli("--json", "jobs", "list", "--stae", "Failed", env=env, home=tmp_path))
    assert error["message"].startswith("unrecognized arguments: --stae")
    assert error["fix"].startswith("usage: python -m ops jobs list")


def test_a_service_error_under_json_carries_its_status_code_and_request_id(env, tmp_path):
    ran = cli("jobs", "list", "--json", env={**env, "COS_BUCKET": "missingbucket-1250000000"}, home=tmp_path)
    error = error_of(ran)
    assert ran.code == 1 and (error["kind"], error["status"], error["code"]) == ("no_such_bucket", 404, "NoSuchBucket")
    assert error["request_id"] and "COS_BUCKET=missingbucket-1250000000" in error["message"]


def test_a_declined_cancel_under_json_is_an_error_document_and_the_job_is_left(emulator, tmp_path):
    # the session emulator runs no job by itself: the job is still Submitted when the cancel is declined
    emulator.backend.create_bucket(BUCKET)
    created = emulator.client().ci_create_inventory_trigger_jobs(
        Bucket=BUCKET, ContentType="application/xml", JobBody={
            "Name": "autopilot-x", "Type": "Job", "Input": {"Prefix": "uploads/"},
            "Operation": {"Tag": "ImageInspect", "JobParam": {"ImageInspect": {"AutoProcess": "false"}}}})
    job_id = created["JobsDetail"][0]["JobId"]
    ran = cli("jobs", "cancel", job_id, "--json", stdin="n\n", env={**bucket_env(emulator), **credentials()},
              home=tmp_path)
    error = error_of(ran)
    assert ran.code == 1 and (error["kind"], error["job_id"]) == ("declined", job_id), ran
    assert emulator.backend.get_job(job_id).state == "Submitted"
