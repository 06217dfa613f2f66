"""`python -m ops submit --dry-run` on settings that delete flagged images (issue 26 point 5), through ops.cli.main
over the emulator: where versioning is not Enabled it says deletes on this bucket cannot be undone (lib.irreversible's
note) and, without ALLOW_IRREVERSIBLE_DELETE=true, that a run now would be refused (exit 1); nothing is written.
`invoke submit` of such a run is the refusal itself: a safety error, exit 2; `plans confirm` of a plan that would
delete there is refused before it asks, and says deletes cannot be undone when it asks."""
from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from typing import Dict

import pytest

from tests.cli.support import Ran, Tty, bucket_env, cli, in_process
from tests.inventory.support import Bucket, day_after
from tests.support.caps import job_names
from tests.support.emulator import seed_image
from tests.support.entries import submit_entry
from tests.support.events import cos_event, timer_event
from tests.support.images import TS_STREAM, png
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator
CLOCK = datetime(2026, 11, 28, 16, 1, tzinfo=timezone.utc)
DELETING = {"INSPECT_AUTO_PROCESS": "true", "INSPECT_PROCESS_TYPE": "DeleteObject", "INPUT_PREFIX": "uploads/"}
CANNOT = ("warning    deletes on this bucket cannot be undone: INSPECT_PROCESS_TYPE=DeleteObject with AutoProcess, "
          "and bucket versioning is never enabled")
REFUSED = "verdict    REFUSED: a run now would write and send nothing: INSPECT_PROCESS_TYPE=DeleteObject"
WRITES = ("PUT", "POST", "DELETE")


def dry_run(*argv: str, environ: Dict[str, str]) -> Ran:
    return in_process("submit", "--dry-run", *argv, environ={**environ, "HOME": "/nonexistent"}, clock=CLOCK)


def writes(emulator) -> list:
    return [f"{r.method} {r.path}" for r in emulator.request_log.snapshot() if r.method in WRITES]


@pytest.fixture
def deleting(emulator_bucket, monkeypatch):
    """A rule over uploads/ that deletes what it flags, one flagged image in its window."""
    for name, value in DELETING.items():
        monkeypatch.setenv(name, value)
    seed_image(emulator_bucket, "uploads/flagged.png", png() + TS_STREAM, uploaded=CLOCK - timedelta(minutes=30))
    return emulator_bucket


def test_a_timer_dry_run_says_deletes_cannot_be_undone_and_the_run_would_be_refused(deleting, emulator):
    emulator.request_log.clear()
    ran = dry_run(environ=dict(os.environ))
    assert ran.code == 1 and f"{CANNOT} (ALLOW_IRREVERSIBLE_DELETE=false)" in ran.err, ran
    assert REFUSED in ran.err and "set ALLOW_IRREVERSIBLE_DELETE=true" in ran.err
    assert writes(emulator) == []


def test_the_json_dry_run_carries_the_note_and_the_refusal(deleting):
    document = dry_run("--json", environ=dict(os.environ)).json()
    assert document["irreversible"].startswith("deletes on this bucket cannot be undone: ")
    assert "whose versioning is never enabled" in document["refusal"]


def test_with_the_acknowledgement_the_dry_run_still_says_deletes_cannot_be_undone_and_the_job_is_sent(deleting,
                                                                                                     monkeypatch):
    monkeypatch.setenv("ALLOW_IRREVERSIBLE_DELETE", "true")
    ran = dry_run(environ=dict(os.environ))
    assert ran.code == 0 and f"{CANNOT} (ALLOW_IRREVERSIBLE_DELETE=true)" in ran.err, ran
    assert "REFUSED" not in ran.err and "verdict    sent: no cap is set" in ran.err


def test_on_a_versioned_bucket_the_dry_run_says_nothing_about_deletes(deleting):
    deleting.set_versioning(BUCKET, "Enabled")
    ran = dry_run(environ=dict(os.environ))
    assert ran.code == 0 and "cannot be undone" not in ran.err and "REFUSED" not in ran.err, ran


def test_an_upload_event_dry_run_reads_versioning_and_says_the_run_would_be_refused(deleting, tmp_path):
    event = tmp_path / "event.json"
    event.write_text(json.dumps(cos_event(["uploads/flagged.png"])), encoding="utf-8")
    ran = dry_run("--event", str(event), environ=dict(os.environ))
    assert ran.code == 1 and CANNOT in ran.err and REFUSED in ran.err, ran


def test_without_credentials_the_dry_run_says_versioning_was_not_read(emulator, tmp_path):
    ran = cli("submit", "--dry-run", env=bucket_env(emulator, **DELETING), home=tmp_path)
    assert ran.code == 0 and "warning    bucket versioning not read (no credentials" in ran.err, ran
    assert "a run that deletes is refused unless versioning is Enabled or ALLOW_IRREVERSIBLE_DELETE=true" in ran.err


def test_an_inventory_rules_dry_run_says_the_run_would_be_refused(emulator):
    bucket = Bucket(emulator, **DELETING, WINDOW="all")
    bucket.put("uploads/flagged.png", data=png() + TS_STREAM)
    bucket.report(day_after(bucket.now))
    emulator.request_log.clear()
    ran = dry_run(environ=bucket.env)
    assert ran.code == 1 and CANNOT in ran.err and REFUSED in ran.err, ran
    assert writes(emulator) == [] and bucket.jobs() == []


def test_invoking_a_refused_run_is_a_safety_error_with_exit_2_and_nothing_written(deleting, emulator, tmp_path):
    event = tmp_path / "tick.json"
    event.write_text(json.dumps(timer_event(CLOCK - timedelta(minutes=1))), encoding="utf-8")
    emulator.request_log.clear()
    ran = in_process("invoke", "submit", str(event), "--json", environ={**os.environ, "HOME": "/nonexistent"},
                     clock=CLOCK)
    assert ran.code == 2 and ran.json()["error"]["kind"] == "safety", ran
    assert "set ALLOW_IRREVERSIBLE_DELETE=true" in ran.json()["error"]["message"] and writes(emulator) == []


def held_plan(monkeypatch) -> str:
    """A plan a cap held for an upload of two images, while the acknowledgement was in force (withdrawn since)."""
    monkeypatch.setenv("MAX_OBJECTS_PER_JOB", "1")
    monkeypatch.setenv("ALLOW_IRREVERSIBLE_DELETE", "true")
    (held,) = submit_entry()(cos_event(["uploads/flagged.png", "uploads/other.png"]), {"request_id": "h"})["held"]
    monkeypatch.delenv("ALLOW_IRREVERSIBLE_DELETE")
    return held["plan_id"]


def confirm_at_a_terminal(plan_id: str) -> Ran:
    """`plans confirm` with a person at the terminal who answers y, on the clock the plan was held by."""
    return in_process("plans", "confirm", plan_id, environ={**os.environ, "HOME": "/nonexistent"},
                      clock=datetime.now(timezone.utc), stdin=Tty("y\n"))


def test_confirming_a_plan_that_would_delete_for_good_is_refused_before_the_question(deleting, emulator, monkeypatch):
    plan_id = held_plan(monkeypatch)
    ran = confirm_at_a_terminal(plan_id)
    assert ran.code == 2 and "Send job" not in ran.err and "set ALLOW_IRREVERSIBLE_DELETE=true" in ran.err, ran
    assert job_names(emulator) == []


def test_confirming_with_the_acknowledgement_says_deletes_cannot_be_undone_and_sends(deleting, emulator, monkeypatch):
    plan_id = held_plan(monkeypatch)
    monkeypatch.setenv("ALLOW_IRREVERSIBLE_DELETE", "true")
    ran = confirm_at_a_terminal(plan_id)
    assert ran.code == 0 and "  warning    deletes on this bucket cannot be undone" in ran.err, ran
    assert len(job_names(emulator)) == 1
