"""`python -m ops flagged list` (issue 26 point 1) through ops.cli.main over the emulator: images a real batch job
flagged (each ProcessType CI can take), where each is now as one request finds it, a presigned link that fetches
its bytes from there, the command that acts on it, the filters, the review status the records give, the exit code."""
from __future__ import annotations

import os
import shlex
from datetime import timedelta
from typing import Any, Dict, List
from urllib.parse import parse_qs, urlsplit

import pytest

from emulator.testing import run_emulator
from tests.cli.support import Ran, in_process
from tests.support.emulator import EMULATOR_NOW, emulator_env
from tests.support.flagged import BACKUP, clean_image, flag, hiding_image, inspect_uploads, seed
from tests.support.review import decide, open_link
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator
CLOCK = EMULATOR_NOW + timedelta(hours=1)
DECIDED = EMULATOR_NOW + timedelta(minutes=10)  # after the flagging job was created, before the CLI's clock
KEY = "uploads/cat.png"
IMAGE = hiding_image()


def ops(*argv: str, clock=CLOCK) -> Ran:
    return in_process("flagged", "list", *argv, environ=os.environ, clock=clock)


def listed(*argv: str) -> Dict[str, Any]:
    ran = ops("--json", *argv)
    assert ran.code in (0, 1), ran
    return ran.json()


def acting(monkeypatch, action: str) -> None:
    """The function's AutoProcess for the next flagging job: CI takes `action`, or none (AutoProcess off)."""
    if action == "none":
        monkeypatch.setenv("INSPECT_AUTO_PROCESS", "false")
        return
    monkeypatch.setenv("INSPECT_AUTO_PROCESS", "true")
    monkeypatch.setenv("INSPECT_PROCESS_TYPE", action)
    monkeypatch.setenv("ALLOW_IRREVERSIBLE_DELETE", "true")  # the unversioned-delete case is the point of one test


def flagged_by(backend, monkeypatch, action: str, images=None) -> str:
    acting(monkeypatch, action)
    return flag(backend, os.environ, images or {KEY: IMAGE, "uploads/clean.png": clean_image()})


def versioned(backend) -> None:
    backend.set_versioning(BUCKET, "Enabled")


def only(doc: Dict[str, Any]) -> Dict[str, Any]:
    (row,) = doc["flags"]
    return row


# --- where each image is now, and a link that fetches it from there --------------------------------------------

WHERE = [  # action, bucket versioning, where it is now, the object a look fetches, the line a person reads
    ("BackupObject", False, "backup", BACKUP + KEY, f"  now        backup copy {BACKUP}{KEY} ({len(IMAGE)} bytes)"),
    ("SwitchObjectToPrivate", False, "key", KEY,
     f"  now        at its key, private (CI made it private) ({len(IMAGE)} bytes)"),
    ("none", False, "key", KEY, f"  now        at its key ({len(IMAGE)} bytes)"),
    ("DeleteObject", True, "previous_version", KEY, "  now        deleted; its previous version "),
]


@pytest.mark.parametrize("action, versioning, where, key, line", WHERE, ids=[w[0] for w in WHERE])
def test_each_action_shows_where_the_image_is_now(emulator_bucket, monkeypatch, action, versioning, where, key,
                                                  line):
    if versioning:
        versioned(emulator_bucket)
    flagged_by(emulator_bucket, monkeypatch, action)
    row = only(listed())
    assert (row["action"], row["now"]["where"], row["now"]["key"]) == (action, where, key)
    assert line in ops().out


@pytest.mark.parametrize("action, versioning", [(w[0], w[1]) for w in WHERE], ids=[w[0] for w in WHERE])
def test_each_link_fetches_the_flagged_bytes_from_where_the_image_is_now(emulator, emulator_bucket, monkeypatch,
                                                                        action, versioning):
    if versioning:
        versioned(emulator_bucket)
    flagged_by(emulator_bucket, monkeypatch, action)
    response = open_link(emulator, only(listed())["link"])
    assert response.status_code == 200 and response.content == IMAGE


def test_a_deleted_image_links_to_its_previous_version_by_version_id(emulator_bucket, monkeypatch):
    versioned(emulator_bucket)
    flagged_by(emulator_bucket, monkeypatch, "DeleteObject")
    row = only(listed())
    assert parse_qs(urlsplit(row["link"]).query)["versionId"] == [row["now"]["version_id"]]


def test_a_deleted_image_on_an_unversioned_bucket_is_deleted_for_good_with_no_link(emulator_bucket, monkeypatch):
    flagged_by(emulator_bucket, monkeypatch, "DeleteObject")
    row = only(listed())
    assert row["now"]["where"] == "deleted" and row["link"] is None
    assert "  now        deleted for good: the bucket has no versioning" in ops().out


def test_the_list_says_what_hides_inside_from_which_byte_and_the_job(emulator_bucket, monkeypatch):
    job_id = flagged_by(emulator_bucket, monkeypatch, "BackupObject")
    row = only(listed())
    assert (row["hidden_type"], row["begin_byte"], row["size"]) == ("MPEG-TS", len(IMAGE) - row["hidden_size"],
                                                                    len(IMAGE))
    out = ops().out
    assert f"  hidden     MPEG-TS from byte {row['begin_byte']} ({row['hidden_size']} bytes hidden; the image is " \
           f"{len(IMAGE)} bytes)" in out
    assert f"  job        {job_id} {row['job_name']}, created 2026-11-28 15:30:00Z" in out


def test_where_an_image_is_that_cannot_be_read_is_said_with_no_link_and_exit_1(emulator, emulator_bucket,
                                                                             monkeypatch):
    flagged_by(emulator_bucket, monkeypatch, "SwitchObjectToPrivate")
    decide(emulator, KEY, "any", "released", DECIDED)  # nothing awaits review: only the unread HEAD is a problem
    emulator.faults.add(method="HEAD", path_regex=r"^/uploads/cat\.png$", service="cos", status=403)
    ran = ops("--json")
    row = only(ran.json())
    assert ran.code == 1 and ran.json()["pending"] == 0, ran
    assert row["now"]["where"] == "unknown" and row["link"] is None
    assert row["now"]["why"].startswith("not known: HeadObject answered HTTP 403")


# --- the link's life ---------------------------------------------------------------------------------------------

def signed_for(link: str) -> timedelta:
    """How long the link works from when it was signed: the SDK starts q-sign-time 60 s early, for clock skew
    (qcloud_cos/cos_auth.py CosS3Auth.__call__, cos-python-sdk-v5)."""
    start, end = parse_qs(urlsplit(link).query)["q-sign-time"][0].split(";")
    return timedelta(seconds=int(end) - (int(start) + 60))


@pytest.mark.parametrize("expiry, life", [(None, timedelta(minutes=15)), ("2h", timedelta(hours=2)),
                                          ("7d", timedelta(days=7))])
def test_the_link_works_for_the_link_expiry_asked(emulator_bucket, monkeypatch, expiry, life):
    flagged_by(emulator_bucket, monkeypatch, "BackupObject")
    row = only(listed(*(["--link-expiry", expiry] if expiry else [])))
    assert signed_for(row["link"]) == life


@pytest.fixture
def token_emulator():
    """An emulator whose key pair is temporary: every request, a presigned GET too, must carry the session token."""
    with run_emulator(token="session-token", clock=lambda: EMULATOR_NOW) as emu:
        emu.backend.create_bucket(BUCKET)
        yield emu


# The SDK's get_presigned_url leaves x-cos-security-token out, which COS requires of a temporary key's link
# (cloud.tencent.com/document/product/436/35153): lib.client passes it in Params.
def test_a_link_signed_with_temporary_credentials_carries_their_token(token_emulator, monkeypatch):
    environ = {**emulator_env(token_emulator), "TENCENTCLOUD_SESSIONTOKEN": "session-token",
               "INSPECT_AUTO_PROCESS": "true"}
    flag(token_emulator.backend, environ, {KEY: IMAGE})
    ran = in_process("flagged", "list", "--json", environ=environ, clock=CLOCK)
    assert open_link(token_emulator, only(ran.json())["link"]).content == IMAGE


@pytest.mark.parametrize("expiry, said", [("8d", "'8d' is longer than 7d"), ("7d1s", "'7d1s' is longer than 7d"),
                                          ("soon", "'soon' is not a duration"), ("0m", "'0m' is zero")])
def test_a_link_expiry_not_within_7d_is_a_usage_error_naming_it(emulator, emulator_bucket, expiry, said):
    ran = ops("--link-expiry", expiry)
    assert ran.code == 2 and f"--link-expiry {said}" in ran.err, ran
    assert len(emulator.request_log) == 0  # refused before any request


# --- the command that acts on it ---------------------------------------------------------------------------------

def test_a_pending_image_offers_restore_and_release_with_its_key_shell_quoted(emulator_bucket, monkeypatch):
    key = "uploads/my cat's.png"
    flagged_by(emulator_bucket, monkeypatch, "BackupObject", {key: IMAGE})
    quoted = shlex.quote(key)
    assert only(listed())["commands"] == {"restore": f"python -m ops flagged restore {quoted}",
                                          "release": f"python -m ops flagged release {quoted}"}
    out = ops().out
    assert f"  restore    python -m ops flagged restore {quoted}\n" in out
    assert f"  release    python -m ops flagged release {quoted}\n" in out


# --- review status from the records ------------------------------------------------------------------------------

def restore_by_hand(backend, key: str) -> None:
    """What a finished restore of a backed-up image leaves: the image at its key, no backup."""
    backend.put_object(BUCKET, key, IMAGE, content_type="image/png")
    backend.delete_object(BUCKET, BACKUP + key)


def test_a_restored_image_is_shown_restored_at_its_key_with_no_command_and_exit_0(emulator, emulator_bucket,
                                                                                  monkeypatch):
    etag = seed(emulator_bucket, {KEY: IMAGE})[KEY]
    acting(monkeypatch, "BackupObject")
    inspect_uploads(emulator_bucket, os.environ, [KEY])
    restore_by_hand(emulator_bucket, KEY)
    decide(emulator, KEY, etag, "restored", DECIDED, action="BackupObject")
    ran = ops("--json")
    row = only(ran.json())
    assert ran.code == 0 and ran.json()["pending"] == 0, ran
    assert (row["status"], row["now"]["where"], row["now"]["key"], row["commands"]) == ("restored", "key", KEY, {})
    assert f"{KEY}  restored at 2026-11-28 15:40:00Z\n" in ops().out


def test_a_released_image_whose_backup_was_deleted_is_shown_released_and_gone(emulator, emulator_bucket,
                                                                              monkeypatch):
    etag = seed(emulator_bucket, {KEY: IMAGE})[KEY]
    acting(monkeypatch, "BackupObject")
    inspect_uploads(emulator_bucket, os.environ, [KEY])
    emulator_bucket.delete_object(BUCKET, BACKUP + KEY)
    decide(emulator, KEY, etag, "released", DECIDED, action="BackupObject")
    ran = ops()
    assert ran.code == 0, ran
    assert f"{KEY}  released at 2026-11-28 15:40:00Z\n" in ran.out
    assert f"  now        not at its backup copy {BACKUP}{KEY} any more (released: the backup is deleted" in ran.out
    assert "  look " not in ran.out and "flagged release" not in ran.out.split("\n\n")[0]


def test_a_restore_begun_and_not_finished_offers_the_restore_again_and_exits_1(emulator, emulator_bucket,
                                                                              monkeypatch):
    etag = seed(emulator_bucket, {KEY: IMAGE})[KEY]
    acting(monkeypatch, "BackupObject")
    inspect_uploads(emulator_bucket, os.environ, [KEY])
    decide(emulator, KEY, etag, "restoring", DECIDED, action="BackupObject")
    ran = ops("--json")
    assert ran.code == 1 and ran.json()["unfinished"] == 1 and ran.json()["pending"] == 0, ran
    assert only(ran.json())["commands"] == {"restore": f"python -m ops flagged restore {KEY}"}


def test_a_decision_made_before_the_flag_leaves_it_pending(emulator, emulator_bucket, monkeypatch):
    flagged_by(emulator_bucket, monkeypatch, "BackupObject")
    decide(emulator, KEY, "an-earlier-content", "restored", EMULATOR_NOW - timedelta(days=1))
    assert only(listed())["status"] == "pending"


# --- filters -----------------------------------------------------------------------------------------------------

def two_jobs(backend, monkeypatch) -> List[str]:
    """uploads/cat.png backed up by one job, photos/dog.png made private by another."""
    first = flagged_by(backend, monkeypatch, "BackupObject", {KEY: IMAGE})
    second = flagged_by(backend, monkeypatch, "SwitchObjectToPrivate", {"photos/dog.png": hiding_image(b"dog")})
    return [first, second]


def keys(doc: Dict[str, Any]) -> List[str]:
    return [row["key"] for row in doc["flags"]]


def test_without_filters_every_flag_of_the_period_is_listed(emulator_bucket, monkeypatch):
    two_jobs(emulator_bucket, monkeypatch)
    assert keys(listed()) == [KEY, "photos/dog.png"]


def test_job_lists_only_that_jobs_flags(emulator_bucket, monkeypatch):
    _, second = two_jobs(emulator_bucket, monkeypatch)
    assert keys(listed("--job", second)) == ["photos/dog.png"]


def test_a_job_of_none_of_ours_in_the_period_is_exit_1_naming_it(emulator_bucket, monkeypatch):
    two_jobs(emulator_bucket, monkeypatch)
    ran = ops("--job", "b0000000000000000000000000000000a")
    assert ran.code == 1 and "no ImageInspect batch job b0000000000000000000000000000000a of ours" in ran.err, ran


def test_prefix_lists_only_keys_under_it(emulator_bucket, monkeypatch):
    two_jobs(emulator_bucket, monkeypatch)
    assert keys(listed("--prefix", "photos/")) == ["photos/dog.png"]


def test_action_lists_only_images_ci_handled_that_way(emulator_bucket, monkeypatch):
    two_jobs(emulator_bucket, monkeypatch)
    assert keys(listed("--action", "BackupObject")) == [KEY]


def test_status_lists_only_that_status_and_the_exit_code_still_counts_every_pending(emulator, emulator_bucket,
                                                                                    monkeypatch):
    two_jobs(emulator_bucket, monkeypatch)
    decide(emulator, "photos/dog.png", "any", "released", DECIDED)
    ran = ops("--json", "--status", "released")
    assert keys(ran.json()) == ["photos/dog.png"] and ran.json()["pending"] == 1 and ran.code == 1, ran


def test_since_leaves_out_jobs_created_before_the_period(emulator_bucket, monkeypatch):
    flagged_by(emulator_bucket, monkeypatch, "BackupObject")
    assert listed("--since", "30m")["flags"] == []
    assert keys(listed("--since", "2h")) == [KEY]


def test_one_head_is_sent_per_image_shown_and_none_for_those_filtered_out(emulator, emulator_bucket, monkeypatch):
    two_jobs(emulator_bucket, monkeypatch)
    emulator.request_log.clear()
    listed("--prefix", "photos/")
    assert [(r.method, r.path) for r in emulator.request_log if r.method == "HEAD"] == [("HEAD", "/photos/dog.png")]


# --- --json and exit codes ---------------------------------------------------------------------------------------

def test_json_is_one_document_with_the_counts_and_each_flags_fields(emulator_bucket, monkeypatch):
    job_id = flagged_by(emulator_bucket, monkeypatch, "BackupObject")
    doc = listed()
    assert {k: doc[k] for k in ("shown", "pending", "unfinished", "jobs", "unreadable", "refused",
                                "link_expiry_seconds")} == {"shown": 1, "pending": 1, "unfinished": 0, "jobs": 1,
                                                            "unreadable": 0, "refused": [], "link_expiry_seconds": 900}
    row = only(doc)
    assert set(row) >= {"key", "size", "hidden_type", "begin_byte", "hidden_size", "action", "job_id", "job_name",
                        "flagged_at", "status", "now", "link", "link_expires_at", "commands", "backup_key"}
    assert (row["key"], row["job_id"], row["flagged_at"]) == (KEY, job_id, "2026-11-28T15:30:00Z")


def test_a_flag_awaiting_review_is_exit_1(emulator_bucket, monkeypatch):
    flagged_by(emulator_bucket, monkeypatch, "BackupObject")
    ran = ops()
    assert ran.code == 1 and ran.out.rstrip().endswith("1 awaits review: `flagged restore KEY` puts a false positive "
                                                       "back, `flagged release KEY` confirms a true one"), ran


def test_jobs_that_flagged_nothing_are_exit_0(emulator_bucket, monkeypatch):
    flagged_by(emulator_bucket, monkeypatch, "BackupObject", {"uploads/clean.png": clean_image()})
    ran = ops()
    assert ran.code == 0 and "0 flagged images shown, from 1 ImageInspect job of the last 7d; none awaits review" \
        in ran.out, ran
