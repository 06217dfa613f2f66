"""Shared fixtures: a clean environment, the fake wire, and sample events."""
from __future__ import annotations

import json
from datetime import datetime, timezone
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


BUCKET = "examplebucket-1250000000"
# The emulator's clock and the seeded objects' Last-Modified in emulator-backed handler tests; the function's own clock
# stays the real one (later), as a deployed function's would be.
EMULATOR_NOW = datetime(2026, 11, 28, 15, 30, tzinfo=timezone.utc)


@pytest.fixture
def emulator_bucket(emulator, env, monkeypatch):
    """The emulator's backend with one fresh bucket, and the function's environment pointed at it."""
    emulator.backend.set_clock(lambda: EMULATOR_NOW)
    emulator.backend.create_bucket(BUCKET)
    monkeypatch.setenv("COS_EMULATOR_URL", emulator.url)
    monkeypatch.setenv("TENCENTCLOUD_SECRETID", emulator.secret_id)
    monkeypatch.setenv("TENCENTCLOUD_SECRETKEY", emulator.secret_key)
    monkeypatch.delenv("TENCENTCLOUD_SESSIONTOKEN", raising=False)
    return emulator.backend
