"""Fixtures for the contract tests: the documented samples on a `responses` wire, and the report handler's env."""
from __future__ import annotations

import pytest

from tests.contract.support import SampleWire
from tests.support.wires import fake_service


@pytest.fixture
def sample_wire(env, monkeypatch):
    """The wire, answering with documented samples; the report sees every job (the samples are named `demo`)."""
    monkeypatch.setenv("REPORT_ALL_JOBS", "true")
    with fake_service(SampleWire) as wire:
        yield wire
