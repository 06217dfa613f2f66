"""Issue 26 point 1, hostile input: `flagged list` takes its flags from CI's per-object results, never from the
bucket, shows an attacker-chosen key inert at a terminal, and trusts a review decision only when the record reads
back as one our CLI wrote (lib.review: it must recompute its own name, and its time may not be after the clock)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import timedelta

import pytest

from lib.escape import terminal
from lib.review import ReviewRecord, record_name
from tests.cli.support import Ran, in_process
from tests.support.emulator import EMULATOR_NOW, emulator_settings
from tests.support.flagged import BACKUP, clean_image, flag, hiding_image
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator
CLOCK = EMULATOR_NOW + timedelta(hours=1)
KEY = "uploads/cat.png"
# What a terminal acts on, besides the line feeds that end our own lines (tests/security/test_terminal_control_chars).
ACTIVE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# ESC opens a sequence that clears the screen, LF would forge a line, U+202E reverses the rest, 0x9b is 8-bit CSI.
HOSTILE = "uploads/a\x1b[2J\nFORGED  pending\u202egnp.exe\x9b31m.png"


def ops(*argv: str) -> Ran:
    return in_process("flagged", "list", *argv, environ=os.environ, clock=CLOCK)


@pytest.fixture
def backing_up(emulator_bucket, monkeypatch):
    """The function moves what CI flags to abnormal_images_backup/ (BackupObject)."""
    monkeypatch.setenv("INSPECT_AUTO_PROCESS", "true")
    monkeypatch.setenv("INSPECT_PROCESS_TYPE", "BackupObject")
    return emulator_bucket


def test_an_object_planted_under_the_backup_folder_is_never_listed(backing_up):
    backing_up.put_object(BUCKET, BACKUP + "uploads/planted.png", hiding_image(b"planted"), content_type="image/png")
    flag(backing_up, os.environ, {KEY: hiding_image(), "uploads/clean.png": clean_image()})
    ran = ops("--json")
    assert [row["key"] for row in ran.json()["flags"]] == [KEY], ran


def test_a_hostile_key_is_shown_with_every_control_character_escaped(backing_up):
    flag(backing_up, os.environ, {HOSTILE: hiding_image()})
    ran = ops()
    assert ran.code == 1 and not ACTIVE.search(ran.out), ran
    assert ran.out.startswith(f"{terminal(HOSTILE)}  pending\n"), ran
    assert not any(line.startswith("FORGED") for line in ran.out.split("\n"))


@pytest.mark.skipif(shutil.which("bash") is None, reason="the shown command is a bash $'...' word")
def test_a_hostile_keys_command_is_inert_and_still_names_the_key_exactly(backing_up):
    flag(backing_up, os.environ, {HOSTILE: hiding_image()})
    (line,) = [line for line in ops().out.split("\n") if line.startswith("  restore ")]
    word = line.split("python -m ops flagged restore ", 1)[1]
    pasted = subprocess.run(["bash", "-c", f"printf %s {word}"], capture_output=True, check=True,
                            env={"LANG": "C.UTF-8", "PATH": os.environ.get("PATH", "")}).stdout
    assert pasted == HOSTILE.encode("utf-8")


def test_a_hostile_key_reads_back_exactly_from_the_json(backing_up):
    flag(backing_up, os.environ, {HOSTILE: hiding_image()})
    ran = ops("--json")
    assert not ACTIVE.search(ran.out) and ran.json()["flags"][0]["key"] == HOSTILE, ran


def forged_records(state_prefix: str, etag: str):
    """(name, body) a forger writes to mark KEY as released, each refused on reading back."""
    future = ReviewRecord(key=KEY, etag=etag, decision="released", decided_at=CLOCK + timedelta(days=1))
    now = ReviewRecord(key=KEY, etag=etag, decision="released", decided_at=EMULATOR_NOW + timedelta(minutes=5))
    return {
        "decided after the clock": (record_name(state_prefix, KEY, etag), future.model_dump_json()),
        "under another image's name": (record_name(state_prefix, "uploads/other.png", etag), now.model_dump_json()),
        "not a record at all": (record_name(state_prefix, KEY, etag), '{"key": "uploads/cat.png", "ok": true}'),
    }


@pytest.mark.parametrize("forgery", ["decided after the clock", "under another image's name", "not a record at all"])
def test_a_forged_review_record_does_not_mark_an_image_reviewed_and_is_named(emulator, backing_up, forgery):
    flag(backing_up, os.environ, {KEY: hiding_image()})
    name, body = forged_records(emulator_settings(emulator).state_prefix, "any-etag")[forgery]
    backing_up.put_object(BUCKET, name, body.encode(), content_type="application/json")
    ran = ops("--json")
    doc = ran.json()
    assert ran.code == 1 and doc["flags"][0]["status"] == "pending" and doc["pending"] == 1, ran
    assert len(doc["refused"]) == 1 and name in doc["refused"][0]
