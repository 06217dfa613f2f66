"""The report handler over the emulator with images a real batch job flagged (tests/support/flagged.py) and the review
records `python -m ops flagged restore|release` writes (lib.review): how many await review, each HTML row's commands,
what the review costs in calls, tampered records, and the warning on deletes that cannot be undone."""
from __future__ import annotations

import hashlib
import os
import shlex
from datetime import datetime, timedelta
from typing import Any, Dict, List

import pytest

from emulator.backend import Backend
from lib.config import load_settings
from lib.report.render import review_command
from lib.review import ReviewRecord, ReviewStore, record_name
from tests.support.emulator import EMULATOR_NOW, fast_client
from tests.support.entries import report_entry
from tests.support.events import REPORT_TIMER, TICK, timer_event
from tests.support.flagged import clean_image, flag, hiding_image
from tests.support.pages import PageParts
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator
REPORTS = "autopilot/reports/2026/11/28/report-160000Z"
REVIEWED = "autopilot/reviewed/"
AFTER_THE_FLAG = EMULATOR_NOW + timedelta(minutes=10)  # the batch job is created at the emulator's clock
HOSTILE = "uploads/it's <script>alert(1)</script>\nnext.png"
DELETES = {"INSPECT_AUTO_PROCESS": "true", "INSPECT_PROCESS_TYPE": "DeleteObject", "ALLOW_IRREVERSIBLE_DELETE": "true"}


def decide(key: str, decision: str = "restored", decided_at: datetime = AFTER_THE_FLAG) -> None:
    """What `flagged restore|release` records once it is done (lib.review), for the image at key."""
    etag = hashlib.md5(hiding_image(key.encode())).hexdigest()
    ReviewStore(fast_client(load_settings(os.environ)), "autopilot/", lambda: decided_at).record(ReviewRecord(
        key=key, etag=etag, decision=decision, decided_at=decided_at, action="none"))


def flag_images(backend: Backend, *keys: str, clean: int = 0) -> str:
    """Each key a hiding image (its key makes its content unique), `clean` more clean ones, all in one batch job."""
    images = {k: hiding_image(k.encode()) for k in keys}
    images.update({f"uploads/clean-{n}.png": clean_image() for n in range(clean)})
    return flag(backend, os.environ, images)


def run_report(emulator: Any) -> Dict[str, Any]:
    """The report function on its daily tick; its summary. The emulator's request log holds only its calls."""
    emulator.request_log.clear()
    return report_entry()(timer_event(TICK, name=REPORT_TIMER), {"request_id": "report"})["summary"]


def written(backend: Backend, suffix: str) -> str:
    return backend.get_object(BUCKET, REPORTS + suffix).data.decode("utf-8")


def review_cells(backend: Backend) -> Dict[str, str]:
    """The HTML page's Review cell of each flagged row, by the row's Object cell."""
    rows: List[str] = []
    by_key: Dict[str, str] = {}
    for attrs, text in PageParts(written(backend, ".html")).cells:
        if attrs.get("data-label") == "Object":
            rows.append(text)
        elif attrs.get("data-label") == "Review" and text:
            by_key[rows[-1]] = text
    return by_key


def review_calls(emulator: Any) -> Dict[str, int]:
    """The report's requests for review records: listings of the folder and GETs of records in it."""
    served = emulator.request_log.snapshot()
    return {"list": sum(1 for r in served if r.method == "GET" and r.path == "/"
                        and dict(r.query).get("prefix") == REVIEWED),
            "get": sum(1 for r in served if r.method == "GET" and r.path.startswith("/" + REVIEWED))}


def test_an_image_restored_after_its_flag_no_longer_awaits_review(emulator, emulator_bucket):
    flag_images(emulator_bucket, "uploads/a.png", "uploads/b.png", "uploads/c.png")
    decide("uploads/b.png")
    summary = run_report(emulator)
    assert summary["review"] == {"pending": 2, "restored": 1, "released": 0, "unlisted": 0}
    assert "2 flagged images await review (1 restored): `python -m ops flagged list`" in written(emulator_bucket, ".md")


def test_a_released_image_is_counted_released(emulator, emulator_bucket):
    flag_images(emulator_bucket, "uploads/a.png", "uploads/b.png")
    decide("uploads/a.png", "released")
    assert run_report(emulator)["review"] == {"pending": 1, "restored": 0, "released": 1, "unlisted": 0}


def test_a_decision_made_before_the_image_was_flagged_again_leaves_it_pending(emulator, emulator_bucket):
    flag_images(emulator_bucket, "uploads/a.png")
    decide("uploads/a.png", decided_at=EMULATOR_NOW - timedelta(hours=1))
    assert run_report(emulator)["review"]["pending"] == 1


def test_each_flagged_row_of_the_page_carries_its_status_and_escaped_commands(emulator, emulator_bucket):
    flag_images(emulator_bucket, HOSTILE, "uploads/plain.png", clean=1)
    decide("uploads/plain.png")
    run_report(emulator)
    page = written(emulator_bucket, ".html")
    assert "<script>" not in page and "&lt;script&gt;" in page
    cells = review_cells(emulator_bucket)
    assert cells == {key: f"{status}{review_command('restore', key)}{review_command('release', key)}"
                     for key, status in ((HOSTILE, "pending"), ("uploads/plain.png", "restored"))}
    assert shlex.split(review_command("restore", HOSTILE))[-1] == HOSTILE


def test_a_window_with_nothing_flagged_reads_no_review_record(emulator, emulator_bucket):
    flag_images(emulator_bucket, clean=2)
    summary = run_report(emulator)
    assert summary["review"] is None and review_calls(emulator) == {"list": 0, "get": 0}


def test_flags_nobody_has_reviewed_cost_one_listing_and_no_read(emulator, emulator_bucket):
    flag_images(emulator_bucket, "uploads/a.png", "uploads/b.png")
    decide("uploads/elsewhere.png")  # a decision on another key: listed, never read
    run_report(emulator)
    assert review_calls(emulator) == {"list": 1, "get": 0}


def test_a_flag_with_a_decision_costs_one_listing_and_one_read_per_record_of_a_flagged_key(emulator,
                                                                                         emulator_bucket):
    flag_images(emulator_bucket, "uploads/a.png", "uploads/b.png")
    for key in ("uploads/a.png", "uploads/elsewhere.png", "uploads/other.png"):
        decide(key)
    summary = run_report(emulator)
    assert review_calls(emulator) == {"list": 1, "get": 1}  # decisions on keys this window did not flag stay unread
    assert summary["review"]["restored"] == 1


def test_a_tampered_review_record_decides_nothing_and_is_a_problem(emulator, emulator_bucket):
    flag_images(emulator_bucket, "uploads/a.png")
    # A state writer copies a real decision's body under the name of the flagged image it wants to hide.
    real = ReviewRecord(key="uploads/other.png", etag="e", decision="released", decided_at=AFTER_THE_FLAG)
    emulator_bucket.put_object(BUCKET, record_name("autopilot/", "uploads/a.png", "x"),
                               real.model_dump_json().encode(), content_type="application/json")
    summary = run_report(emulator)
    assert summary["review"]["pending"] == 1 and summary["problem"]
    assert any(n.startswith("tampered or foreign state ignored: review record") for n in summary["notes"])


def test_settings_that_delete_nothing_never_ask_for_versioning(emulator, emulator_bucket):
    flag_images(emulator_bucket, "uploads/a.png")
    summary = run_report(emulator)
    assert summary["irreversible"] == ""
    assert not [r for r in emulator.request_log.snapshot() if "versioning" in dict(r.query)]


def test_deletes_on_a_bucket_without_versioning_are_named_in_the_report(emulator, emulator_bucket, monkeypatch):
    for name, value in DELETES.items():
        monkeypatch.setenv(name, value)
    summary = run_report(emulator)
    assert summary["irreversible"].startswith("deletes on this bucket cannot be undone")
    assert "deletes on this bucket cannot be undone" in written(emulator_bucket, ".md")
    assert "deletes on this bucket cannot be undone" in written(emulator_bucket, ".html")
    assert sum(1 for r in emulator.request_log.snapshot() if "versioning" in dict(r.query)) == 1


def test_deletes_on_a_versioned_bucket_are_not_called_irreversible(emulator, emulator_bucket, monkeypatch, sdk_client):
    sdk_client.put_bucket_versioning(Bucket=BUCKET, Status="Enabled")
    for name, value in DELETES.items():
        monkeypatch.setenv(name, value)
    summary = run_report(emulator)
    assert summary["irreversible"] == "" and "cannot be undone" not in written(emulator_bucket, ".html")
