"""Shared fixtures: a clean environment, the fake wire, and sample events."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict

import pytest
import responses

from tests.wire import ENV, FakeWire

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
