"""Fixtures for the contract tests: the documented samples on a `responses` wire, and the report handler's env."""
from __future__ import annotations

import pytest
import responses

from tests.contract.support import SampleWire


@pytest.fixture
def samples(env, monkeypatch):
    """The wire, answering with documented samples; the report sees every job (the samples are named `demo`)."""
    monkeypatch.setenv("REPORT_ALL_JOBS", "true")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield SampleWire(rsps)
