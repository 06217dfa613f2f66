"""Shared fixtures: a clean environment, the fake wire, and sample events."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict

import pytest
import responses
from hypothesis import HealthCheck, settings

from tests.wire import ENV, FakeWire

_COMMON = dict(deadline=None, print_blob=True,
               suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                      HealthCheck.data_too_large, HealthCheck.filter_too_much])
# Registered once for every folder and applied per test through `tests.reliability.support.examples`, so a folder
# run alone gets the same bounded, repeatable examples. Default: a fixed seed and bounded counts.
settings.register_profile("default", derandomize=True, **_COMMON)
# `make soak` (HYPOTHESIS_PROFILE=soak): random seeds and the larger counts each test asks for.
settings.register_profile("soak", derandomize=False, **_COMMON)

EVENTS = Path(__file__).resolve().parent.parent / "events"


def load_event(name: str) -> Dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Dict[str, str]:
    """The function's environment: only what a test sets, plus fake credentials."""
    import os

    for key in list(os.environ):
        if key.startswith(("COS_", "JOB_", "WORKFLOW_", "INSPECT_", "INPUT_", "WINDOW", "REPORT_", "STATE_",
                           "UPLOAD_", "TENCENTCLOUD_", "RULE_", "LEASE_", "ALLOW_", "FIRST_RUN", "API_")):
            monkeypatch.delenv(key, raising=False)
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    return dict(ENV)


@pytest.fixture
def wire():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeWire(rsps)
