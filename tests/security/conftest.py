"""Security suite: an attacker with ordinary bucket access, an unlucky uploader, a careless timer argument.

Every test drives a real entry point (handler, CLI, deploy module) against the emulator over HTTP. The forger
holds the same key pair as the function here, so each check must hold by what the function itself verifies."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests.reliability.support import BUCKET

# The emulator's clock and the bucket's Last-Modified; the function's own clock is the real one (later).
NOW = datetime(2026, 11, 28, 15, 30, tzinfo=timezone.utc)


@pytest.fixture
def bucket(emulator, env, monkeypatch):
    """The emulator's backend, one fresh bucket, and the function's environment pointed at it."""
    emulator.backend.set_clock(lambda: NOW)
    emulator.backend.create_bucket(BUCKET)
    monkeypatch.setenv("COS_EMULATOR_URL", emulator.url)
    monkeypatch.setenv("TENCENTCLOUD_SECRETID", emulator.secret_id)
    monkeypatch.setenv("TENCENTCLOUD_SECRETKEY", emulator.secret_key)
    monkeypatch.delenv("TENCENTCLOUD_SESSIONTOKEN", raising=False)
    return emulator.backend
