"""Security suite: an attacker with ordinary bucket access, an unlucky uploader, a careless timer argument.

Every test drives a real entry point (handler, CLI, deploy module) against the emulator over HTTP. The forger
holds the same key pair as the function here, so each check must hold by what the function itself verifies."""
from __future__ import annotations

import pytest

from tests.support.emulator import EMULATOR_NOW

# The emulator's clock and the bucket's Last-Modified; the function's own clock is the real one (later).
NOW = EMULATOR_NOW


@pytest.fixture
def bucket(emulator_bucket):
    """The emulator's backend, one fresh bucket, and the function's environment pointed at it."""
    return emulator_bucket
