"""The bucket and region every test names, and the function's environment with fake credentials."""
from __future__ import annotations

import os
from typing import Dict

import pytest

from lib.config import ENV_NAMES

BUCKET = "examplebucket-1250000000"
REGION = "ap-guangzhou"

ENV = {
    "COS_BUCKET": BUCKET,
    "COS_REGION": REGION,
    "TENCENTCLOUD_SECRETID": "AKIDfakeSecretIdForTests0001",
    "TENCENTCLOUD_SECRETKEY": "fakeSecretKeyForTests0001",
    "TENCENTCLOUD_SESSIONTOKEN": "fakeSessionTokenForTests0001",
}

# Every variable the function reads starts with one of these: a test sees only what it sets, never the machine's.
# Every declared setting's name (so a new one cannot leak from the machine into a test), plus the credentials'.
FUNCTION_ENV_PREFIXES = tuple(sorted(set(ENV_NAMES.values()))) + (
    "COS_", "JOB_", "WORKFLOW_", "INSPECT_", "INPUT_", "WINDOW", "REPORT_", "STATE_", "UPLOAD_", "TENCENTCLOUD_",
    "RULE_", "LEASE_", "ALLOW_", "FIRST_RUN", "API_")


def function_env(monkeypatch: pytest.MonkeyPatch) -> Dict[str, str]:
    """Set the process environment to ENV alone (as far as the function reads it); returns a copy of ENV."""
    for key in list(os.environ):
        if key.startswith(FUNCTION_ENV_PREFIXES):
            monkeypatch.delenv(key, raising=False)
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    return dict(ENV)
