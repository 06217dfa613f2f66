"""Reliability suite: emulator fixtures (the hypothesis profiles are registered in tests/conftest.py)."""
from __future__ import annotations

import pytest

from tests.reliability.kills import Relay
from tests.reliability.support import at
from tests.support.emulator import aim_process_env
from tests.support.settings import BUCKET


@pytest.fixture
def emu_env(emulator, env, monkeypatch):
    """The function's environment aimed at a fresh emulator bucket whose clock reads 2026-11-01 00:00 UTC."""
    emulator.backend.set_clock(lambda: at(1))
    emulator.backend.create_bucket(BUCKET)
    aim_process_env(emulator, monkeypatch)
    return emulator


@pytest.fixture(scope="module")
def relay(emulator_session, request):
    """The kill harness's relay to the session's emulator; prints the module's STATS (kill points covered) at the end."""
    relay = Relay(emulator_session.url)
    yield relay
    relay.stop()
    stats = getattr(request.module, "STATS", None)
    if stats is not None:
        print(f"\n{request.module.__name__.rsplit('.', 1)[-1]}:", dict(sorted(stats.items())))
