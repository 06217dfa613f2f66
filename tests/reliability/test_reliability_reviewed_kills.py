"""Issue 26 under kills: a timer window sent as a UrlFile because it holds a reviewed image (lib.submit.timer), killed
right after any one of its calls to COS or CI and run again once the dead run's claim lapsed, ends as one job, the
UrlFile of the window's other objects, with the checkpoint at the window's end and no claim left; so does an
operator's confirm of such a window held by a cap. In process: the client dies after its k-th call and every later
call dies too (tests.reliability.support.Killed), as in test_reliability_confirm_kills."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Dict, Tuple

import pytest

from lib.config import Settings
from lib.review import ReviewRecord, ReviewStore
from lib.state import StateStore
from lib.submit.confirm import confirm_plan
from lib.submit.run import Deps
from tests.reliability.support import Killed, ScriptedClient, run_timer
from tests.support.caps import job_names, stored_keys
from tests.support.emulator import EMULATOR_NOW, emulator_env, emulator_settings, fast_client, fresh_bucket
from tests.support.flagged import flag, hiding_image
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)  # a first tick: its window is [T0 - 1h, T0)
INSIDE = T0 - timedelta(minutes=30)
RESTORED = "uploads/restored.png"
OTHERS = ["uploads/a.png", "uploads/b.png"]
MAX_CALLS = 40
CLAIM = timedelta(seconds=61)  # a confirm's time_limit 30 s: its claims last 30 s + 30 s
TICK_CLAIM = timedelta(seconds=931)  # run_timer gives no time limit: a tick's claim lasts 900 s + 30 s


def window_with_a_reviewed_image(emulator, **extra: str) -> Settings:
    """The window holds a restored image recorded as reviewed (after a real job flagged it), and two uploads that
    are not."""
    fresh_bucket(emulator, clock=lambda: EMULATOR_NOW)
    env = dict(INPUT_PREFIX="uploads/", FIRST_RUN_LOOKBACK="1h", **extra)
    flagging = flag(emulator.backend, emulator_env(emulator, **env), {RESTORED: hiding_image()})
    settings = emulator_settings(emulator, **env)
    for key in [RESTORED, *OTHERS]:
        emulator.backend.put_object(BUCKET, key, key.encode(), last_modified=INSIDE)
    etag = emulator.backend.get_object(BUCKET, RESTORED).etag
    ReviewStore(fast_client(settings), settings.state_prefix, lambda: INSIDE).record(ReviewRecord(
        key=RESTORED, etag=etag, decision="restored", decided_at=INSIDE, job_id=flagging))
    return settings


def window_jobs(emulator) -> Dict[str, str]:
    """The batch jobs CI holds (id -> name), but the upload job that flagged the restored image."""
    with emulator.backend.lock:
        return {i: job.name for i, job in emulator.backend.jobs.items() if not job.name.startswith("autopilot-upload-")}


def sent_as_the_urlfile_of_the_others(emulator, settings: Settings, job_id: str, later: datetime) -> None:
    job = emulator.backend.get_job(job_id)
    assert job.input_kind == "UrlFile", job.input_value
    manifest = emulator.backend.get_object(BUCKET, job.input_value.split(".myqcloud.com/", 1)[1]).data.decode()
    assert [line.rsplit("/", 1)[1] for line in manifest.splitlines()] == ["a.png", "b.png"]
    checkpoint = StateStore(fast_client(settings), settings.state_prefix, lambda: later).read_checkpoint("hourly")
    assert checkpoint is not None and (checkpoint.end, checkpoint.job_id) == (T0, job_id), checkpoint
    assert stored_keys(emulator, "autopilot/leases/") == [], "a claim was left behind"


def tick_case(emulator, kill: int) -> bool:
    """One kill point of the tick; False when the tick finished before it."""
    settings = window_with_a_reviewed_image(emulator)
    try:
        run_timer(settings, T0, ScriptedClient(fast_client(settings), kill_after=kill), owner="dying")
    except Killed:
        pass
    else:
        return False
    later = T0 + timedelta(seconds=5) + TICK_CLAIM  # a retry once the dead run's claim lapsed
    run_timer(settings, T0, fast_client(settings), clock=later, owner="retry")  # killed after its checkpoint: a skip
    assert len(window_jobs(emulator)) == 1, (kill, job_names(emulator))
    (job_id,) = window_jobs(emulator)
    sent_as_the_urlfile_of_the_others(emulator, settings, job_id, later)
    return True


def test_a_urlfile_window_killed_after_any_of_its_calls_is_sent_exactly_once_by_its_retry(emulator):
    for k in range(1, MAX_CALLS):
        if not tick_case(emulator, k):
            assert k > 8, "the tick made fewer calls than its checks, claim, count, reviews, manifest and job need"
            return
    raise AssertionError(f"the tick made more than {MAX_CALLS} calls")


def held(emulator) -> Tuple[Settings, str]:
    settings = window_with_a_reviewed_image(emulator, MAX_OBJECTS_PER_JOB="1")
    result = run_timer(settings, T0, fast_client(settings), owner="tick")
    return settings, result.held[0].plan_id


def confirm_case(emulator, kill: int) -> bool:
    settings, plan_id = held(emulator)
    now = T0 + timedelta(minutes=5)
    dying = Deps(client=ScriptedClient(fast_client(settings), kill_after=kill), clock=lambda: now,
                 sleep=lambda _s: None, owner="operator", time_limit=30)
    try:
        confirm_plan(settings, dying, plan_id)
    except Killed:
        pass
    else:
        return False
    later = now + CLAIM
    again = Deps(client=fast_client(settings), clock=lambda: later, sleep=lambda _s: None, owner="operator2",
                 time_limit=30)
    ref = confirm_plan(settings, again, plan_id)
    assert Counter(window_jobs(emulator).values()) == Counter({ref.name: 1}), (kill, job_names(emulator))
    sent_as_the_urlfile_of_the_others(emulator, settings, ref.job_id, later)
    return True


def test_a_confirm_of_a_held_urlfile_window_killed_after_any_of_its_calls_sends_it_exactly_once(emulator):
    for k in range(1, MAX_CALLS):
        if not confirm_case(emulator, k):
            assert k > 8, "the confirm made fewer calls than its claims, count, reviews, manifest and job need"
            return
    raise AssertionError(f"the confirm made more than {MAX_CALLS} calls")
