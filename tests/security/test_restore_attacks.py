"""`flagged restore|release` against an attacker who can write to the bucket (issue 26): a restore acts only on what
CI flagged, never on what sits under abnormal_images_backup/; a backup that is not the flagged image is refused; an
object written at the key after the flag is never overwritten without --overwrite; a hostile key is shown escaped."""
from __future__ import annotations

import re

import pytest

from tests.support.flagged import clean_image, hiding_image
from tests.support.restore import backup_of, body, decision, etag_of, flagged, ops
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator
KEY = "photos/cat.png"
IMAGE = hiding_image(b"cat")
PAYLOAD = b"<script>attacker's content</script>"
# Keys CI's XML can carry that a terminal acts on: CSI (0x9b), NEL (0x85), a right-to-left override.
HOSTILE_KEY = "photos/a\x9b2J\x85b\u202egnp.exe.png"
ACTIVE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


@pytest.fixture
def backed_up(emulator_bucket, monkeypatch):
    flagged(emulator_bucket, monkeypatch, "BackupObject", KEY, IMAGE)
    return emulator_bucket


def test_a_backup_planted_for_a_key_ci_never_flagged_is_not_restored(emulator_bucket, emulator, monkeypatch):
    flagged(emulator_bucket, monkeypatch, "BackupObject", "photos/dog.png", clean_image())  # inspected, not flagged
    emulator_bucket.put_object(BUCKET, backup_of("photos/dog.png"), PAYLOAD)
    ran = ops("flagged", "restore", "photos/dog.png", "--yes")
    assert ran.code == 1 and "was not flagged by any ImageInspect job of ours" in ran.err, ran
    assert body(emulator_bucket, "photos/dog.png") == clean_image()
    assert body(emulator_bucket, backup_of("photos/dog.png")) == PAYLOAD


def test_a_backup_replaced_by_other_content_is_not_restored(backed_up, emulator):
    backed_up.put_object(BUCKET, backup_of(KEY), PAYLOAD)
    ran = ops("flagged", "restore", KEY, "--yes")
    assert ran.code == 1, ran
    assert f"is not the image CI flagged: it has {len(PAYLOAD)} bytes, and the image CI flagged had " \
           f"{len(IMAGE):,}" in ran.err
    assert body(backed_up, KEY) is None and body(backed_up, backup_of(KEY)) == PAYLOAD
    assert decision(emulator, KEY, etag_of(backed_up, backup_of(KEY))) is None


def test_a_backup_replaced_by_other_content_is_not_released(backed_up):
    backed_up.put_object(BUCKET, backup_of(KEY), PAYLOAD)
    ran = ops("flagged", "release", KEY, "--yes")
    assert ran.code == 1 and "is not the image CI flagged" in ran.err, ran
    assert body(backed_up, backup_of(KEY)) == PAYLOAD


def test_an_object_uploaded_at_the_key_after_the_flag_is_not_overwritten(backed_up, emulator):
    backed_up.put_object(BUCKET, KEY, b"newer")
    ran = ops("flagged", "restore", KEY, "--yes")
    assert ran.code == 1, ran
    assert f"ETag {etag_of(backed_up, KEY)}, 5 bytes, Last-Modified" in ran.err and "--overwrite" in ran.err
    assert body(backed_up, KEY) == b"newer" and body(backed_up, backup_of(KEY)) == IMAGE


def test_overwrite_puts_the_flagged_image_over_an_object_uploaded_after_the_flag(backed_up):
    backed_up.put_object(BUCKET, KEY, b"newer")
    ran = ops("flagged", "restore", KEY, "--yes", "--overwrite")
    assert ran.code == 0, ran
    assert body(backed_up, KEY) == IMAGE and body(backed_up, backup_of(KEY)) is None


def test_a_key_with_control_characters_is_shown_escaped(emulator_bucket, monkeypatch):
    flagged(emulator_bucket, monkeypatch, "BackupObject", HOSTILE_KEY, IMAGE)
    ran = ops("flagged", "restore", HOSTILE_KEY, "--yes")
    assert ran.code == 0, ran
    assert not ACTIVE.search(ran.out + ran.err), ran
    assert "photos/a\\x9b2J\\x85b\\u202egnp.exe.png holds the flagged image again" in ran.out
    assert body(emulator_bucket, HOSTILE_KEY) == IMAGE


def test_a_key_with_control_characters_is_shown_escaped_when_refused(emulator_bucket):
    ran = ops("flagged", "restore", HOSTILE_KEY, "--yes", "--json")
    assert ran.code == 1 and not ACTIVE.search(ran.out + ran.err), ran
    assert "photos/a\\x9b2J\\x85b\\u202egnp.exe.png was not flagged" in ran.err
    assert ran.json()["error"]["key"] == HOSTILE_KEY  # the JSON value is the key itself, its characters \\u-escaped
