"""Security suite: an attacker with ordinary bucket access, an unlucky uploader, a careless timer argument.

Every test drives a real entry point (handler, CLI, deploy module) against the emulator over HTTP. The forger
holds the same key pair as the function here, so each check must hold by what the function itself verifies."""
from __future__ import annotations

import pytest

from tests.security.timer_support import seed_flagged
from tests.support.entries import submit_in_mode


@pytest.fixture
def timer_bucket(emulator_bucket, monkeypatch):
    """The emulator's bucket holding one flagged image from the real window, the function acting on what it flags
    (BackupObject: an inspected flagged image is moved aside)."""
    monkeypatch.setenv("INSPECT_AUTO_PROCESS", "true")
    seed_flagged(emulator_bucket)
    return emulator_bucket


@pytest.fixture(params=["per-event", "coalescing"])
def upload_mode(request):
    """Each upload test runs in both modes: a job per event, and coalesced uploads."""
    return request.param


@pytest.fixture
def submit(upload_mode):
    return submit_in_mode(upload_mode)
