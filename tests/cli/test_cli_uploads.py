"""`python -m ops uploads` as a person runs it (a real process) against the emulator: which batch job each
coalesced upload went into, or that it still waits."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from lib import upload_state
from lib.events import parse_event
from lib.submit.timer import submit_timer
from lib.submit.uploads import submit_upload
from tests.cli.support import bucket_env, cli, credentials, no_traceback
from tests.reliability.coalesce_support import Clock, Upload, coalesce_settings, instance, upload_event
from tests.support.emulator import fresh_bucket
from tests.support.events import timer_event

pytestmark = pytest.mark.emulator
# The CLI reads the real clock: the uploads happen an hour ago, on minute boundaries.
START = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(hours=1)


@pytest.fixture
def batched(emulator, tmp_path):
    """Two flushed slots (3 uploads, one key twice) and one upload still pending."""
    fresh_bucket(emulator)
    settings = coalesce_settings(emulator)
    clock = Clock(START)
    deps = instance(settings, clock)
    for upload in (Upload("photos/a.png", START), Upload("photos/a.png", START + timedelta(seconds=5), 1),
                   Upload("photos/b.png", START + timedelta(minutes=1))):
        clock.now = upload.at + timedelta(seconds=1)
        submit_upload(settings, parse_event(upload_event([upload])), deps)
    clock.now = upload_state.due_at(START + timedelta(minutes=1), 60)
    submit_timer(settings, parse_event(timer_event(clock.now)), deps)
    clock.now = START + timedelta(minutes=2, seconds=1)
    submit_upload(settings, parse_event(upload_event([Upload("photos/c.png", START + timedelta(minutes=2))])), deps)
    return bucket_env(emulator, UPLOAD_BATCH_SECONDS="60", **credentials()), tmp_path


def test_uploads_lists_each_batch_with_its_job_and_upload_count(batched):
    env, home = batched
    ran = cli("uploads", "--since", "2h", env=env, home=home)
    assert ran.code == 0, ran
    lines = ran.out.splitlines()
    assert lines[0].split() == ["slot", "batch", "uploads", "keys", "job", "id", "state", "job", "name"]
    assert [line.split()[3:5] for line in lines[2:4]] == [["2", "1"], ["1", "1"]]  # uploads, keys
    assert lines[-1] == "2 batches, 3 uploads; 1 key pending"


def test_uploads_json_is_the_batches_and_the_pending_count(batched):
    env, home = batched
    data = cli("uploads", "--since", "2h", "--json", env=env, home=home).json()
    assert [(b["n"], b["keys"], b["state"]) for b in data["batches"]] == [
        (0, ["photos/a.png"], "submitted"), (0, ["photos/b.png"], "submitted")]
    assert all(b["job_id"].startswith("b") for b in data["batches"]) and data["pending"] == 1


@pytest.mark.parametrize(("key", "code", "says"), [
    ("photos/a.png", 0, "photos/a.png: job b"),
    ("photos/c.png", 0, "photos/c.png: pending in slot "),
    ("photos/never.png", 1, "photos/never.png: in no batch of this range and not pending"),
])
def test_uploads_key_says_which_job_the_key_went_into_or_that_it_waits(batched, key, code, says):
    env, home = batched
    ran = cli("uploads", "--since", "2h", "--key", key, env=env, home=home)
    assert ran.code == code and ran.out.startswith(says) and no_traceback(ran), ran


def test_uploads_with_a_bad_since_is_a_usage_error_naming_it(batched):
    env, home = batched
    ran = cli("uploads", "--since", "yesterday", env=env, home=home)
    assert ran.code == 2 and "--since" in ran.err and no_traceback(ran), ran
