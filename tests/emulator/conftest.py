"""The emulator's own tests: a bucket (the SDK client is the root conftest's `sdk_client`)."""
from __future__ import annotations

import pytest

from emulator.testing import EmulatorHandle
from tests.support.settings import BUCKET


@pytest.fixture
def bucket(emulator: EmulatorHandle) -> str:
    emulator.backend.create_bucket(BUCKET)
    return BUCKET
