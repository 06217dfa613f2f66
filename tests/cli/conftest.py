"""The CLI suites' emulators: one that runs submitted jobs by itself (per module), and the session's that does not."""
from __future__ import annotations

import pytest

from emulator.testing import run_emulator
from tests.cli.support import BUCKET


@pytest.fixture(scope="module")
def running():
    """An emulator that runs submitted jobs by itself, as `python -m emulator` does."""
    with run_emulator(autorun=True) as emu:
        yield emu


@pytest.fixture
def live(running):
    """`running`, emptied, with BUCKET."""
    running.reset()
    running.backend.create_bucket(BUCKET, exist_ok=True)
    return running


@pytest.fixture
def held(emulator):
    """An emulator whose jobs stay where they are until the test runs them."""
    emulator.backend.create_bucket(BUCKET, exist_ok=True)
    return emulator
