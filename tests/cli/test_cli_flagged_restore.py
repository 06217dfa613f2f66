"""`python -m ops flagged restore|release KEY` (issue 26 points 2 and 4) through ops.cli.main over the emulator: an
image a real batch job flagged with each AutoProcess action is put back as it was, byte for byte and ACL, or released
(only its backup deleted); each decision is recorded by key and ETag; the command asks first at a terminal."""
from __future__ import annotations

import json

import pytest

from lib.submit.run import REVIEWED
from tests.cli.support import Tty
from tests.support.entries import submit_entry
from tests.support.events import EVENT_TIME, cos_event
from tests.support.flagged import clean_image, hiding_image
from tests.support.restore import CLOCK, backup_of, body, decision, etag_of, flagged, ops
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator
KEY = "photos/cat.png"
IMAGE = hiding_image(b"cat")


@pytest.fixture
def backed_up(emulator_bucket, monkeypatch):
    """KEY flagged with BackupObject: CI moved it to abnormal_images_backup/KEY."""
    flagged(emulator_bucket, monkeypatch, "BackupObject", KEY, IMAGE)
    assert body(emulator_bucket, backup_of(KEY)) == IMAGE and body(emulator_bucket, KEY) is None
    return emulator_bucket


@pytest.fixture
def privatised(emulator_bucket, monkeypatch):
    """KEY flagged with SwitchObjectToPrivate: CI left it in place with ACL private."""
    flagged(emulator_bucket, monkeypatch, "SwitchObjectToPrivate", KEY, IMAGE)
    assert emulator_bucket.get_object(BUCKET, KEY).acl == "private"
    return emulator_bucket


# --- restore ------------------------------------------------------------------------------------------------------

def test_restore_copies_a_backed_up_image_back_byte_for_byte_and_deletes_the_backup(backed_up, emulator):
    ran = ops("flagged", "restore", KEY, "--yes")
    assert ran.code == 0, ran
    assert body(backed_up, KEY) == IMAGE and body(backed_up, backup_of(KEY)) is None
    assert "restored: photos/cat.png holds the flagged image again" in ran.out, ran


def test_restore_keeps_the_backups_content_type_and_metadata(emulator_bucket, emulator, monkeypatch):
    flagged(emulator_bucket, monkeypatch, "BackupObject", KEY, IMAGE)
    emulator_bucket.put_object(BUCKET, backup_of(KEY), IMAGE, content_type="image/png", metadata={"owner": "tk"})
    assert ops("flagged", "restore", KEY, "--yes").code == 0
    restored = emulator_bucket.get_object(BUCKET, KEY)
    assert (restored.content_type, restored.metadata) == ("image/png", {"owner": "tk"})


def test_restore_records_the_restored_content_by_key_and_etag(backed_up, emulator):
    ops("flagged", "restore", KEY, "--yes")
    record = decision(emulator, KEY, etag_of(backed_up, KEY))
    assert record is not None and (record.decision, record.action) == ("restored", "BackupObject")


def test_restore_run_again_says_already_restored_and_changes_nothing(backed_up, emulator):
    assert ops("flagged", "restore", KEY, "--yes").code == 0
    ran = ops("flagged", "restore", KEY, "--yes")
    assert ran.code == 0 and "already restored at 2026-11-28 16:00:00Z" in ran.out, ran
    assert body(backed_up, KEY) == IMAGE


def test_restore_returns_a_privatised_image_to_the_buckets_default_acl(privatised, emulator):
    ran = ops("flagged", "restore", KEY, "--yes")
    assert ran.code == 0, ran
    restored = privatised.get_object(BUCKET, KEY)
    assert (restored.acl, restored.data) == ("default", IMAGE)
    record = decision(emulator, KEY, etag_of(privatised, KEY))
    assert record is not None and record.decision == "restored"


def test_restore_of_an_image_ci_left_in_place_records_it_reviewed_clean(emulator_bucket, emulator, monkeypatch):
    flagged(emulator_bucket, monkeypatch, "none", KEY, IMAGE)
    ran = ops("flagged", "restore", KEY, "--yes")
    assert ran.code == 0 and "recorded clean" in ran.out, ran
    assert body(emulator_bucket, KEY) == IMAGE
    record = decision(emulator, KEY, etag_of(emulator_bucket, KEY))
    assert record is not None and (record.decision, record.action) == ("restored", "none")


def test_restore_refuses_a_key_no_job_of_ours_flagged(emulator_bucket, emulator, monkeypatch):
    flagged(emulator_bucket, monkeypatch, "BackupObject", "photos/clean.png", clean_image())
    ran = ops("flagged", "restore", "photos/clean.png", "--yes")
    assert ran.code == 1, ran
    assert "photos/clean.png was not flagged by any ImageInspect job of ours since 2026-10-29 16:00:00Z" in ran.err


def test_restore_looks_for_the_flag_only_as_far_back_as_since(backed_up):
    ran = ops("flagged", "restore", KEY, "--yes", "--since", "10m")
    assert ran.code == 1 and "was not flagged" in ran.err, ran
    assert body(backed_up, backup_of(KEY)) == IMAGE


def test_restore_without_a_terminal_and_without_yes_does_nothing(backed_up, emulator):
    ran = ops("flagged", "restore", KEY)
    assert ran.code == 2 and "stdin is not a terminal" in ran.err, ran
    assert body(backed_up, backup_of(KEY)) == IMAGE and body(backed_up, KEY) is None
    assert decision(emulator, KEY, etag_of(backed_up, backup_of(KEY))) is None


def test_restore_at_a_terminal_says_each_step_before_asking(backed_up):
    ran = ops("flagged", "restore", KEY, stdin=Tty("y\n"))
    assert ran.code == 0, ran
    assert "copy abnormal_images_backup/photos/cat.png back to photos/cat.png (metadata copied)" in ran.err
    assert ran.err.rstrip().endswith("Restore photos/cat.png? [y/N]"), ran


def test_restore_answered_no_at_a_terminal_changes_nothing(backed_up, emulator):
    ran = ops("flagged", "restore", KEY, stdin=Tty("n\n"))
    assert ran.code == 1 and "not restored; nothing was changed" in ran.err, ran
    assert body(backed_up, backup_of(KEY)) == IMAGE and body(backed_up, KEY) is None
    assert decision(emulator, KEY, etag_of(backed_up, backup_of(KEY))) is None


def test_restore_json_is_one_document_with_the_steps_done(backed_up):
    ran = ops("flagged", "restore", KEY, "--yes", "--json")
    assert ran.code == 0, ran
    doc = ran.json()
    assert (doc["key"], doc["action"], doc["already"]) == (KEY, "BackupObject", False)
    assert [s["done"].split(" ")[0] for s in doc["steps"]] == ["recorded", "copied", "deleted", "recorded"]


def test_restore_of_a_released_image_is_refused_with_what_to_do(backed_up, monkeypatch):
    monkeypatch.setenv("RELEASE_KEEPS_BACKUP", "true")
    assert ops("flagged", "release", KEY, "--yes").code == 0
    ran = ops("flagged", "restore", KEY, "--yes")
    assert ran.code == 1 and "it was released at 2026-11-28 16:00:00Z (confirmed a true positive)" in ran.err, ran
    assert body(backed_up, KEY) is None and body(backed_up, backup_of(KEY)) == IMAGE


def test_restore_of_a_backup_that_is_gone_says_where_it_looked_and_changes_nothing(backed_up, emulator):
    backed_up.delete_object(BUCKET, backup_of(KEY))
    ran = ops("flagged", "restore", KEY, "--yes")
    assert ran.code == 1, ran
    assert "there is no abnormal_images_backup/photos/cat.png and photos/cat.png does not exist" in ran.err
    assert body(backed_up, KEY) is None



def test_the_upload_event_of_the_restore_itself_makes_no_job_and_the_image_stays(backed_up, emulator):
    # Restoring writes KEY again, and COS sends the upload event of that write: the review keeps it out.
    assert ops("flagged", "restore", KEY, "--yes").code == 0
    result = submit_entry()(cos_event([KEY], etags=[etag_of(backed_up, KEY)]), {"request_id": "after-restore"})
    assert result["jobs"] == [] and result["skipped"] == [{"key": KEY, "reason": REVIEWED}]
    assert body(backed_up, KEY) == IMAGE and body(backed_up, backup_of(KEY)) is None


def test_a_dry_run_of_the_restores_upload_event_leaves_the_image_out_and_says_why(backed_up, tmp_path):
    assert ops("flagged", "restore", KEY, "--yes").code == 0
    event = tmp_path / "event.json"
    event.write_text(json.dumps(cos_event([KEY], etags=[etag_of(backed_up, KEY)])))
    preview = ops("submit", "--dry-run", "--json", "--event", str(event))
    assert preview.code == 0, preview
    doc = preview.json()
    assert (doc["skipped"], doc["note"], doc.get("xml")) == ([{"key": KEY, "reason": REVIEWED}],
                                                           "nothing to inspect in this event", None)


@pytest.mark.parametrize("command, status", [("restore", "restored"), ("release", "released")])
def test_the_review_list_shows_the_decision_and_nothing_pending(backed_up, command, status):
    assert ops("flagged", command, KEY, "--yes").code == 0
    listed = ops("flagged", "list", "--json")
    assert listed.code == 0, listed
    doc = listed.json()
    assert ([f["status"] for f in doc["flags"]], doc["pending"]) == ([status], 0)

# --- release ------------------------------------------------------------------------------------------------------

def test_release_deletes_only_the_backup(backed_up, emulator):
    backed_up.put_object(BUCKET, KEY, b"uploaded since", content_type="image/png")
    ran = ops("flagged", "release", KEY, "--yes")
    assert ran.code == 0, ran
    assert body(backed_up, backup_of(KEY)) is None and body(backed_up, KEY) == b"uploaded since"


def test_release_records_the_backups_content_released(backed_up, emulator):
    etag = etag_of(backed_up, backup_of(KEY))
    ops("flagged", "release", KEY, "--yes")
    record = decision(emulator, KEY, etag)
    assert record is not None and record.decision == "released"


def test_a_released_image_uploaded_again_unchanged_is_inspected_and_moved_again(backed_up, emulator):
    # Release confirms the image is bad: unlike a restore, it keeps nothing out of later jobs.
    assert ops("flagged", "release", KEY, "--yes").code == 0
    backed_up.put_object(BUCKET, KEY, IMAGE, content_type="image/png")
    again = cos_event([KEY], etags=[etag_of(backed_up, KEY)], event_time=EVENT_TIME + 3600, request_ids=["again"])
    result = submit_entry()(again, {"request_id": "uploaded-again"})
    assert [j["input"] for j in result["jobs"]] == [f"Object={KEY}"] and result["skipped"] == []
    backed_up.run_pending()
    assert body(backed_up, KEY) is None and body(backed_up, backup_of(KEY)) == IMAGE


def test_release_keeps_the_backup_when_release_keeps_backup_is_true(backed_up, monkeypatch):
    monkeypatch.setenv("RELEASE_KEEPS_BACKUP", "true")
    ran = ops("flagged", "release", KEY, "--yes")
    assert ran.code == 0 and "its backup is kept (RELEASE_KEEPS_BACKUP=true)" in ran.out, ran
    assert body(backed_up, backup_of(KEY)) == IMAGE


def test_release_of_a_private_image_leaves_it_private(privatised, emulator):
    ran = ops("flagged", "release", KEY, "--yes")
    assert ran.code == 0, ran
    assert privatised.get_object(BUCKET, KEY).acl == "private"
    record = decision(emulator, KEY, etag_of(privatised, KEY))
    assert record is not None and record.decision == "released"


def test_release_run_again_says_already_released(backed_up):
    assert ops("flagged", "release", KEY, "--yes").code == 0
    ran = ops("flagged", "release", KEY, "--yes")
    assert ran.code == 0 and "already released at 2026-11-28 16:00:00Z" in ran.out, ran


def test_release_of_a_restored_image_is_refused_with_what_to_do(backed_up):
    assert ops("flagged", "restore", KEY, "--yes").code == 0
    ran = ops("flagged", "release", KEY, "--yes")
    assert ran.code == 1 and "it was restored at 2026-11-28 16:00:00Z (a false positive)" in ran.err, ran
    assert "delete it by hand" in ran.err and body(backed_up, KEY) == IMAGE


def test_release_without_a_terminal_and_without_yes_does_nothing(backed_up):
    ran = ops("flagged", "release", KEY)
    assert ran.code == 2, ran
    assert body(backed_up, backup_of(KEY)) == IMAGE


def test_a_since_that_is_not_a_duration_is_a_usage_error(backed_up):
    ran = ops("flagged", "restore", KEY, "--yes", "--since", "lately")
    assert ran.code == 2 and "--since" in ran.err, ran
    assert body(backed_up, backup_of(KEY)) == IMAGE


def test_an_empty_key_is_a_usage_error(backed_up):
    ran = ops("flagged", "release", "", "--yes")
    assert ran.code == 2 and "give the object key as CI flagged it" in ran.err, ran


# --- a deleted image (DeleteObject) ---------------------------------------------------------------------------------

@pytest.fixture
def deleted(emulator_bucket, monkeypatch):
    """KEY flagged with DeleteObject on a bucket with versioning Enabled: CI's delete left a delete marker over it."""
    emulator_bucket.set_versioning(BUCKET, "Enabled")
    flagged(emulator_bucket, monkeypatch, "DeleteObject", KEY, IMAGE)
    assert body(emulator_bucket, KEY) is None
    return emulator_bucket


def test_restore_brings_a_deleted_image_back_from_its_previous_version_byte_for_byte(deleted):
    (version,) = [v for v in deleted.list_versions(BUCKET, KEY) if not v.is_delete_marker]
    ran = ops("flagged", "restore", KEY, "--yes")
    assert ran.code == 0, ran
    restored = deleted.get_object(BUCKET, KEY)
    assert (restored.data, restored.etag, restored.version_id) == (IMAGE, version.etag, version.version_id)
    assert not any(v.is_delete_marker for v in deleted.list_versions(BUCKET, KEY))


def test_restore_of_a_deleted_image_records_the_version_it_brought_back(deleted, emulator):
    ops("flagged", "restore", KEY, "--yes")
    record = decision(emulator, KEY, etag_of(deleted, KEY))
    assert record is not None and (record.decision, record.version_id) == (
        "restored", deleted.get_object(BUCKET, KEY).version_id)


def test_restore_of_a_deleted_image_run_again_says_already_restored(deleted):
    assert ops("flagged", "restore", KEY, "--yes").code == 0
    ran = ops("flagged", "restore", KEY, "--yes")
    assert ran.code == 0 and "already restored" in ran.out, ran
    assert len(deleted.list_versions(BUCKET, KEY)) == 1


def test_restore_refuses_a_deleted_image_uploaded_again_since_without_overwrite(deleted):
    deleted.put_object(BUCKET, KEY, b"newer", last_modified=CLOCK)
    ran = ops("flagged", "restore", KEY, "--yes")
    assert ran.code == 1 and "was uploaded again after CI deleted it" in ran.err and "--overwrite" in ran.err, ran
    assert body(deleted, KEY) == b"newer"


def test_overwrite_copies_the_deleted_version_over_an_image_uploaded_again_since(deleted):
    deleted.put_object(BUCKET, KEY, b"newer", last_modified=CLOCK)
    ran = ops("flagged", "restore", KEY, "--yes", "--overwrite")
    assert ran.code == 0, ran
    assert body(deleted, KEY) == IMAGE and len(deleted.list_versions(BUCKET, KEY)) == 4  # newer kept as a version


def test_restore_of_an_image_deleted_without_versioning_says_the_delete_was_final(emulator_bucket, monkeypatch):
    monkeypatch.setenv("ALLOW_IRREVERSIBLE_DELETE", "true")
    flagged(emulator_bucket, monkeypatch, "DeleteObject", KEY, IMAGE)
    ran = ops("flagged", "restore", KEY, "--yes")
    assert ran.code == 1, ran
    assert "CI's delete was final: bucket versioning was never enabled" in ran.err, ran


def test_release_of_a_deleted_image_leaves_it_deleted_and_records_its_content(deleted, emulator):
    (version,) = [v for v in deleted.list_versions(BUCKET, KEY) if not v.is_delete_marker]
    ran = ops("flagged", "release", KEY, "--yes")
    assert ran.code == 0 and "it stays deleted" in ran.out, ran
    assert body(deleted, KEY) is None
    record = decision(emulator, KEY, version.etag)
    assert record is not None and record.decision == "released"

