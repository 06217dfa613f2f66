"""Handler tests' fixtures beside the root conftest's."""
from __future__ import annotations

import pytest


@pytest.fixture
def acting_bucket(emulator_bucket, monkeypatch):
    """The emulator's bucket (root `emulator_bucket`), with the function acting on what it flags."""
    monkeypatch.setenv("INSPECT_AUTO_PROCESS", "true")
    return emulator_bucket
