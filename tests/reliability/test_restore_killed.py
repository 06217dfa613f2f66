"""`flagged restore|release` killed right after any one of its calls to COS or CI, then run again: it ends in the
state a run never killed leaves (the bucket's objects, bytes and ACLs, and the review decisions), and says so.
In process: the client dies after its k-th call and every later call dies too, so nothing more reaches the service
(tests.reliability.support.Killed), as when a person's terminal or machine goes away half-way. And in a process of
its own, SIGKILLed right after its k-th request reached the service (the relay, tests.reliability.kills)."""
from __future__ import annotations

import io
import os
from typing import Dict, List, Tuple

import pytest

from lib.review import ReviewStore
from ops.cli import main
from tests.reliability.kills import Runner
from tests.reliability.support import Killed, ScriptedClient
from tests.support.emulator import (
    EMULATOR_NOW,
    aim_process_env,
    emulator_env,
    emulator_settings,
    fast_client,
    fresh_bucket,
)
from tests.support.entries import no_sleep
from tests.support.flagged import hiding_image
from tests.support.restore import CLOCK, flagged, ops
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator
KEY = "photos/cat.png"
IMAGE = hiding_image(b"cat")
MAX_CALLS = 30  # more calls than any restore makes: the sweep stops when a run finishes unkilled
ENTRY = "tests.support.restore:ops_entry"
TIME_LIMIT_MS = 30_000
Snapshot = Tuple[Dict[str, Tuple[bytes, str]], List[Tuple[bool, bytes]], List[Tuple[str, str, str]]]


def snapshot(emulator) -> Snapshot:
    """What a restore changes: every object outside the state folder (bytes, ACL), KEY's versions and delete markers
    (ids aside: a rerun's are new), and the review decisions."""
    backend = emulator.backend
    settings = emulator_settings(emulator)
    objects = {k: (backend.get_object(BUCKET, k).data, backend.get_object(BUCKET, k).acl)
               for k in backend.list_keys(BUCKET) if not k.startswith(settings.state_prefix)}
    versions = [(v.is_delete_marker, v.data) for v in backend.list_versions(BUCKET, KEY)]
    store = ReviewStore(fast_client(settings), settings.state_prefix, lambda: CLOCK)
    return objects, versions, sorted((r.key, r.etag, r.decision) for r in store.records())


def killed_run(emulator, argv: Tuple[str, ...], kill: int) -> bool:
    """The command with a client that dies after its kill-th call; False when it finished first."""
    dying = ScriptedClient(fast_client(emulator_settings(emulator)), kill_after=kill)
    try:
        main([*argv, "--yes"], environ=dict(os.environ), stdin=io.StringIO(), stdout=io.StringIO(),
             stderr=io.StringIO(), clock=lambda: CLOCK, client_factory=lambda _s, pool_size=None: dying,
             sleep=no_sleep)
    except Killed:
        return True
    return False


def sweep(emulator, monkeypatch, action: str, argv: Tuple[str, ...], versioned: bool = False, **env: str) -> int:
    """Kill the command after each of its calls in turn on a fresh flag; each rerun must end as a clean run does.
    Returns how many kill points there were."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    def fresh() -> None:
        fresh_bucket(emulator, clock=lambda: EMULATOR_NOW)
        if versioned:
            emulator.backend.set_versioning(BUCKET, "Enabled")
        flagged(emulator.backend, monkeypatch, action, KEY, IMAGE)

    fresh()
    assert ops(*argv, "--yes").code == 0
    clean = snapshot(emulator)
    for kill in range(1, MAX_CALLS):
        fresh()
        if not killed_run(emulator, argv, kill):
            return kill - 1
        again = ops(*argv, "--yes")
        assert again.code == 0, (kill, again)
        assert snapshot(emulator) == clean, kill
    raise AssertionError(f"the command made more than {MAX_CALLS} calls")


@pytest.fixture
def aimed(emulator, env, monkeypatch):
    aim_process_env(emulator, monkeypatch)
    return emulator


def test_a_restore_of_a_backup_killed_after_any_call_and_run_again_ends_restored(aimed, monkeypatch):
    points = sweep(aimed, monkeypatch, "BackupObject", ("flagged", "restore", KEY))
    assert points >= 4, "fewer calls than the record, copy, delete and record a restore needs"
    assert snapshot(aimed)[0][KEY] == (IMAGE, "default")


def test_a_restore_of_a_private_image_killed_after_any_call_and_run_again_ends_restored(aimed, monkeypatch):
    points = sweep(aimed, monkeypatch, "SwitchObjectToPrivate", ("flagged", "restore", KEY))
    assert points >= 3, "fewer calls than the record, ACL and record a restore needs"
    assert snapshot(aimed)[0][KEY] == (IMAGE, "default")


def test_a_release_killed_after_any_call_and_run_again_ends_released_with_the_key_untouched(aimed, monkeypatch):
    points = sweep(aimed, monkeypatch, "BackupObject", ("flagged", "release", KEY))
    assert points >= 3, "fewer calls than the record, delete and record a release needs"
    objects, _versions, decisions = snapshot(aimed)
    assert KEY not in objects and not any(k.startswith("abnormal_images_backup/") for k in objects)
    assert [d for _k, _e, d in decisions] == ["released"]




def test_a_restore_of_a_deleted_image_killed_after_any_call_and_run_again_ends_restored(aimed, monkeypatch):
    points = sweep(aimed, monkeypatch, "DeleteObject", ("flagged", "restore", KEY), versioned=True)
    assert points >= 4, "fewer calls than the versions, record, marker delete and record a restore needs"
    objects, versions, _decisions = snapshot(aimed)
    assert objects[KEY] == (IMAGE, "default") and versions == [(False, IMAGE)]


def test_a_restore_sigkilled_after_any_of_its_requests_and_run_again_ends_restored(aimed, monkeypatch, relay):
    argv = {"argv": ["flagged", "restore", KEY, "--yes"]}
    fresh_bucket(aimed, clock=lambda: EMULATOR_NOW)
    flagged(aimed.backend, monkeypatch, "BackupObject", KEY, IMAGE)
    assert ops(*argv["argv"]).code == 0
    clean = snapshot(aimed)
    runner = Runner(relay, emulator_env(aimed), TIME_LIMIT_MS)
    try:
        for kill in range(1, MAX_CALLS):
            fresh_bucket(aimed, clock=lambda: EMULATOR_NOW)
            flagged(aimed.backend, monkeypatch, "BackupObject", KEY, IMAGE)
            first = runner.deliver(argv, CLOCK, kill_after=kill, entry=ENTRY)
            if not first.killed:
                assert first.completed and first.result["code"] == 0, first
                assert kill > 9, "fewer requests than the records, the flag's jobs, two HEADs, copy and delete need"
                return
            again = runner.deliver(argv, CLOCK, entry=ENTRY)
            assert again.completed and again.result["code"] == 0, (kill, again)
            assert snapshot(aimed) == clean, kill
    finally:
        runner.close()
    raise AssertionError(f"the restore made more than {MAX_CALLS} requests")
