"""Issue 26 point 5 through the submit handler over the emulator: DeleteObject with AutoProcess on a bucket whose
versioning is not Enabled deletes a flagged image for good, so every job the function makes (a timer rule's, an
upload event's, a coalesced batch's, an inventory report's, a held plan's confirm) is refused there unless
ALLOW_IRREVERSIBLE_DELETE=true, and nothing is written, counted or sent. On a versioned bucket the job is sent as
before: a deleted image leaves a delete marker over its previous version, which `flagged restore` removes (versioning
overview, cloud.tencent.com/document/product/436/19883). Versioning is read with GET Bucket versioning (API page
436/19888), once per run, and only by a run whose settings delete."""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List

import pytest

from emulator.testing import EmulatorHandle
from lib.errors import ConfigError, SafetyError
from tests.inventory.support import Bucket, day_after
from tests.support.caps import confirm, job_names
from tests.support.emulator import seed_image
from tests.support.entries import submit_entry, submit_in_mode
from tests.support.events import cos_event, timer_event
from tests.support.images import TS_STREAM, png
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator

FLAGGED = png() + TS_STREAM
KEY = "uploads/flagged.png"
DELETING = {"INSPECT_AUTO_PROCESS": "true", "INSPECT_PROCESS_TYPE": "DeleteObject", "INPUT_PREFIX": "uploads/"}
WRITES = ("PUT", "POST", "DELETE")


def versioning_reads(emulator: EmulatorHandle) -> int:
    return len(emulator.request_log.filter(lambda r: r.method == "GET" and "versioning" in r.query))


def writes(emulator: EmulatorHandle) -> List[str]:
    """Every request that wrote, counted or sent something (an object, a record, a ledger entry, a job)."""
    return [f"{r.method} {r.path}" for r in emulator.request_log.snapshot() if r.method in WRITES]


class Path:
    """One way the function makes a job, on a fresh bucket holding the flagged image; `run` is the run under test.

    `environ` is the function's environment for the run (the process's, aimed at the emulator)."""

    name = ""

    def __init__(self, emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> None:
        self.emulator, self.monkeypatch = emulator, monkeypatch
        self.setenv(**DELETING)

    @property
    def environ(self) -> Dict[str, str]:
        return dict(os.environ)

    def setenv(self, **values: str) -> None:
        for name, value in values.items():
            self.monkeypatch.setenv(name, value)

    def delenv(self, name: str) -> None:
        self.monkeypatch.delenv(name, raising=False)

    def start(self, *, versioned: bool = False) -> None:
        """Versioning as asked, then the flagged image (a version of its own on a versioned bucket)."""
        if versioned:
            self.emulator.backend.set_versioning(BUCKET, "Enabled")
        seed_image(self.emulator.backend, KEY, FLAGGED)

    def run(self) -> Any:
        raise NotImplementedError

    def flagged_left(self) -> List[str]:
        """Every job CI holds run, then what is left of the flagged image."""
        while self.emulator.backend.run_pending():
            pass
        return self.emulator.backend.list_keys(BUCKET, prefix=KEY)


class Timer(Path):
    name = "timer rule"

    def run(self) -> Any:
        return submit_entry()(timer_event(), {"request_id": "tick"})


class Upload(Path):
    name = "upload event"

    def run(self) -> Any:
        return submit_entry()(cos_event([KEY]), {"request_id": "upload"})


class Coalesced(Path):
    name = "coalesced batch"

    def __init__(self, emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__(emulator, monkeypatch)
        self.setenv(UPLOAD_BATCH_SECONDS="60")

    def run(self) -> Any:
        return submit_in_mode("coalescing")(cos_event([KEY]), {"request_id": "upload"})


class Inventory(Path):
    """An inventory rule: a tick submits the newest report's objects (tests.inventory.support.Bucket)."""

    name = "inventory report"

    def __init__(self, emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__(emulator, monkeypatch)
        self.bucket = Bucket(emulator, **DELETING, WINDOW="all")

    @property
    def environ(self) -> Dict[str, str]:
        return self.bucket.env

    def setenv(self, **values: str) -> None:
        if hasattr(self, "bucket"):
            self.bucket.env.update(values)

    def delenv(self, name: str) -> None:
        self.bucket.env.pop(name, None)

    def start(self, *, versioned: bool = False) -> None:
        if versioned:
            self.emulator.backend.set_versioning(BUCKET, "Enabled")
        self.bucket.put(KEY, data=FLAGGED)
        self.bucket.report(day_after(self.bucket.now))

    def run(self) -> Any:
        return self.bucket.tick()


class Confirm(Path):
    """A plan a cap held (with the acknowledgement then in force), confirmed by the operator under the settings now."""

    name = "plan confirm"

    def start(self, *, versioned: bool = False) -> None:
        super().start(versioned=versioned)
        seed_image(self.emulator.backend, "uploads/other.png", png())
        acknowledged = os.environ.get("ALLOW_IRREVERSIBLE_DELETE")
        self.setenv(MAX_OBJECTS_PER_JOB="1", ALLOW_IRREVERSIBLE_DELETE="true")
        (held,) = submit_entry()(cos_event([KEY, "uploads/other.png"]), {"request_id": "held"})["held"]
        self.plan_id = held["plan_id"]
        if acknowledged is None:  # the acknowledgement withdrawn since: the confirm meets the catch
            self.delenv("ALLOW_IRREVERSIBLE_DELETE")

    def run(self) -> Any:
        return confirm(self.environ, self.plan_id)


PATHS = [Timer, Upload, Coalesced, Inventory, Confirm]


@pytest.fixture(params=PATHS, ids=[p.name for p in PATHS])
def path(request, emulator_bucket, emulator, monkeypatch) -> Path:
    return request.param(emulator, monkeypatch)


def test_a_deleting_job_on_a_bucket_without_versioning_is_refused_and_nothing_is_written_or_sent(path, emulator):
    path.start()
    emulator.request_log.clear()
    with pytest.raises(SafetyError, match="ALLOW_IRREVERSIBLE_DELETE=true"):
        path.run()
    assert writes(emulator) == [] and versioning_reads(emulator) == 1
    assert path.flagged_left() == [KEY]


def test_the_refusal_names_the_setting_the_versioning_status_and_the_fixes(path):
    path.start()
    with pytest.raises(SafetyError) as info:
        path.run()
    message = str(info.value)
    assert "INSPECT_PROCESS_TYPE=DeleteObject with INSPECT_AUTO_PROCESS=true" in message
    assert f"bucket {BUCKET}, whose versioning is never enabled" in message
    for fix in ("Enable versioning on the bucket (PUT Bucket versioning)", "use BackupObject or SwitchObjectToPrivate",
                "set ALLOW_IRREVERSIBLE_DELETE=true"):
        assert fix in message


def test_with_the_acknowledgement_the_job_is_sent_without_reading_versioning(path, emulator):
    path.setenv(ALLOW_IRREVERSIBLE_DELETE="true")
    path.start()
    emulator.request_log.clear()
    path.run()
    assert len(job_names(emulator)) >= 1 and versioning_reads(emulator) == 0
    assert path.flagged_left() == []


def test_on_a_versioned_bucket_the_job_is_sent_after_one_versioning_read(path, emulator):
    path.start(versioned=True)
    emulator.request_log.clear()
    path.run()
    assert len(job_names(emulator)) >= 1 and versioning_reads(emulator) == 1
    assert path.flagged_left() == []  # gone from the listing; its previous version stays for `flagged restore`
    assert [v.is_delete_marker for v in emulator.backend.list_versions(BUCKET, KEY)] == [True, False]


def test_a_suspended_versioning_is_refused_and_named(emulator_bucket, emulator, monkeypatch):
    path = Timer(emulator, monkeypatch)
    path.start(versioned=True)
    emulator_bucket.set_versioning(BUCKET, "Suspended")  # a delete now removes the null version for good
    with pytest.raises(SafetyError, match="whose versioning is Suspended"):
        path.run()
    assert path.flagged_left() == [KEY] and job_names(emulator) == []


def test_a_run_that_does_not_delete_never_reads_versioning(path, emulator):
    path.setenv(INSPECT_PROCESS_TYPE="BackupObject")
    path.start()
    emulator.request_log.clear()
    path.run()
    assert len(job_names(emulator)) >= 1 and versioning_reads(emulator) == 0


def test_an_upload_event_with_nothing_to_inspect_reads_no_versioning_and_is_not_refused(emulator_bucket, emulator,
                                                                                         monkeypatch):
    for name, value in DELETING.items():
        monkeypatch.setenv(name, value)
    result = submit_entry()(cos_event(["autopilot/reports/index.html"]), {"request_id": "skip"})
    assert result["note"] == "nothing to inspect in this event" and versioning_reads(emulator) == 0


# --- a timer argument (lib.invocation.check_narrower): it may narrow a deleting run, never get it past the catch ---

def tick(argument: Dict[str, Any]) -> Dict[str, Any]:
    return submit_entry()(timer_event(message=json.dumps(argument)), {"request_id": "arg"})


def test_an_argument_cannot_acknowledge_irreversible_deletes(emulator_bucket, emulator, monkeypatch):
    Timer(emulator, monkeypatch).start()
    with pytest.raises(ConfigError, match="'ALLOW_IRREVERSIBLE_DELETE' is not a setting a trigger may override"):
        tick({"ALLOW_IRREVERSIBLE_DELETE": True})
    assert writes(emulator) == [] and job_names(emulator) == []


@pytest.mark.parametrize("environment, argument", [
    ({"INSPECT_AUTO_PROCESS": "false"}, {"INSPECT_AUTO_PROCESS": True}),
    ({"INSPECT_PROCESS_TYPE": "BackupObject"}, {"INSPECT_PROCESS_TYPE": "DeleteObject"}),
], ids=["switches-autoprocess-on", "switches-the-type"])
def test_an_argument_that_switches_deleting_on_is_refused_on_a_versioned_bucket_too(emulator_bucket, emulator,
                                                                                    monkeypatch, environment, argument):
    path = Timer(emulator, monkeypatch)
    path.setenv(**environment)
    path.start(versioned=True)
    with pytest.raises(SafetyError, match="function-wide settings do not"):
        tick(argument)
    assert path.flagged_left() == [KEY] and job_names(emulator) == []


def test_an_argument_narrowing_a_deleting_runs_prefix_is_still_refused_without_versioning(emulator_bucket, emulator,
                                                                                         monkeypatch):
    path = Timer(emulator, monkeypatch)
    path.start()
    with pytest.raises(SafetyError, match="ALLOW_IRREVERSIBLE_DELETE=true"):
        tick({"INPUT_PREFIX": "uploads/flagged"})
    assert path.flagged_left() == [KEY] and job_names(emulator) == []


def test_an_argument_that_turns_a_deleting_run_into_a_backup_is_sent_without_reading_versioning(
        emulator_bucket, emulator, monkeypatch):
    path = Timer(emulator, monkeypatch)
    path.start()
    emulator.request_log.clear()
    (job,) = tick({"INSPECT_PROCESS_TYPE": "BackupObject"})["jobs"]
    assert job["created"] is True and versioning_reads(emulator) == 0
    assert path.flagged_left() == []
    assert emulator_bucket.list_keys(BUCKET, prefix="abnormal_images_backup/") == [f"abnormal_images_backup/{KEY}"]
