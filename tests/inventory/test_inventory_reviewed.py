"""Issue 26, point 3, for INPUT_SOURCE=inventory, through the submit handler over the emulator: an image flagged and
moved, then restored by an operator (its review recorded by key and ETag, lib.review), is left out of the report's
parts while the report lists it with that ETag (or HEAD answers it, when the report has no ETag column), counted in
the run's dropped, and never moved again; changed since (a new ETag), it is in a part and moved again."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Dict

import pytest

from lib.config import load_settings
from lib.submit.inventory import dry_run
from lib.submit.run import REVIEWED
from tests.inventory.support import Bucket, day_after
from tests.support.caps import confirm
from tests.support.emulator import EMULATOR_NOW, fast_client
from tests.support.flagged import BACKUP, clean_image, flag, hiding_image, keys_under
from tests.support.reviewed import restored, upload

pytestmark = pytest.mark.emulator

KEY = "uploads/false-positive.png"
OTHER = "uploads/other.png"
DAY = day_after(EMULATOR_NOW)  # its cut is after the images were written


@pytest.fixture
def bucket(emulator) -> Bucket:
    return Bucket(emulator, INPUT_PREFIX="uploads/", WINDOW="all", INSPECT_AUTO_PROCESS="true")


@pytest.fixture
def reviewed(bucket) -> Dict[str, Any]:
    """KEY flagged (moved to the backup folder) by a real batch job, then restored: the same bytes, the same ETag;
    OTHER a clean image beside it."""
    backend = bucket.emulator.backend
    data = hiding_image(b"reviewed")
    job_id = flag(backend, bucket.env, {KEY: data})
    assert keys_under(backend, BACKUP) == [f"{BACKUP}{KEY}"]
    restored(backend, bucket.env, KEY, data, job_id=job_id)
    upload(backend, OTHER, clean_image())
    return {"backend": backend, "data": data, "flagging": job_id}


def inventory_jobs(bucket: Bucket):
    return [j for j in bucket.jobs() if "-inv-" in j.name]


def test_a_restored_image_listed_unchanged_is_left_out_of_the_reports_parts_and_not_moved_again(bucket, reviewed):
    bucket.report(DAY)
    result = bucket.tick()
    assert [j.input_kind for j in inventory_jobs(bucket)] == ["UrlFile"]
    assert bucket.covered() == [OTHER]  # (the job that flagged KEY named it in Input.Object)
    assert (result["inventory"]["kept"], result["inventory"]["dropped"][REVIEWED]) == (1, 1)
    bucket.emulator.backend.run_pending()
    assert bucket.object(KEY) == reviewed["data"] and keys_under(reviewed["backend"], BACKUP) == []


def test_a_restored_image_changed_since_is_in_a_part_and_moved_again(bucket, reviewed):
    upload(reviewed["backend"], KEY, hiding_image(b"changed"))
    bucket.report(DAY)
    result = bucket.tick()
    assert sorted(bucket.covered()) == [KEY, OTHER] and REVIEWED not in result["inventory"]["dropped"]
    bucket.emulator.backend.run_pending()
    assert keys_under(reviewed["backend"], BACKUP) == [f"{BACKUP}{KEY}"]


def test_without_an_etag_column_head_tells_the_reviewed_keys_etag(bucket, reviewed):
    bucket.configure(fields=["Size", "LastModifiedDate"])
    bucket.report(DAY)
    bucket.emulator.request_log.clear()
    result = bucket.tick()
    assert bucket.covered() == [OTHER] and result["inventory"]["dropped"][REVIEWED] == 1
    heads = [r for r in bucket.emulator.request_log.snapshot() if r.method == "HEAD" and r.path == f"/{KEY}"]
    assert len(heads) == 1  # only the key with a decision listed is asked


def test_the_dry_run_counts_the_reviewed_image_as_the_run_does(bucket, reviewed):
    bucket.report(DAY)
    settings = load_settings(bucket.env)
    day, plan = dry_run(settings, fast_client(settings), datetime.now(timezone.utc))
    result = bucket.tick()
    assert plan is not None and (day, plan.kept, plan.dropped) == (DAY, 1, result["inventory"]["dropped"])


def test_a_held_part_leaves_the_reviewed_image_out_and_its_confirm_sends_it_so(bucket, reviewed):
    bucket.env["DAILY_OBJECT_CAP"] = "0"
    bucket.report(DAY)
    (held,) = bucket.tick()["held"]
    assert held["estimate"]["count"]["objects"] == 1
    confirm(bucket.env, held["plan_id"], client=bucket.client)
    assert bucket.covered() == [OTHER] and len(inventory_jobs(bucket)) == 1


def test_a_report_whose_rows_the_rules_all_drop_does_not_list_the_review_folder(bucket):
    upload(bucket.emulator.backend, "other/elsewhere.png", clean_image())
    bucket.report(DAY)
    bucket.emulator.request_log.clear()
    result = bucket.tick()
    assert result["inventory"]["kept"] == 0
    assert not [r for r in bucket.emulator.request_log.snapshot()
                if r.query.get("prefix", "").startswith("autopilot/reviewed/")]
