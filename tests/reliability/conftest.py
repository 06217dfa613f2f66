"""Reliability suite: emulator fixtures (the hypothesis profiles are registered in tests/conftest.py)."""
from __future__ import annotations

import pytest

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
