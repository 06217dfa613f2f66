"""lib/ over the emulator: the emulator with a fresh BUCKET, and our CiClient aimed at it."""
from __future__ import annotations

import pytest

from emulator.testing import EmulatorHandle
from lib.client import CiClient
from tests.support.emulator import emulator_settings, fast_client, fresh_bucket


@pytest.fixture
def emulator_with_bucket(emulator: EmulatorHandle) -> EmulatorHandle:
    """The emulator, empty but for BUCKET."""
    fresh_bucket(emulator)
    return emulator


@pytest.fixture
def emulated_ci_client(emulator_with_bucket: EmulatorHandle) -> CiClient:
    """Our CiClient over real HTTP to the emulator's BUCKET, without back-off sleeps."""
    return fast_client(emulator_settings(emulator_with_bucket))
