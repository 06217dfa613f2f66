"""Reliability suite: hypothesis profiles (bounded by default, `soak` for `make soak`) and emulator fixtures.

The profiles are registered here and applied per test through `tests.reliability.support.examples`, so loading
this directory never changes hypothesis settings for the rest of the suite."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from tests.reliability.support import BUCKET, at

_COMMON = dict(deadline=None, print_blob=True,
               suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                      HealthCheck.data_too_large, HealthCheck.filter_too_much])
# Default: a fixed seed and bounded counts (each test scales them) so `make test` stays fast and repeatable.
settings.register_profile("default", derandomize=True, **_COMMON)
# `make soak` (HYPOTHESIS_PROFILE=soak): random seeds and the larger counts each test asks for.
settings.register_profile("soak", derandomize=False, **_COMMON)


@pytest.fixture
def emu_env(emulator, env, monkeypatch):
    """The function's environment aimed at a fresh emulator bucket whose clock reads 2026-11-01 00:00 UTC."""
    emulator.backend.set_clock(lambda: at(1))
    emulator.backend.create_bucket(BUCKET)
    monkeypatch.setenv("COS_EMULATOR_URL", emulator.url)
    monkeypatch.setenv("TENCENTCLOUD_SECRETID", emulator.secret_id)
    monkeypatch.setenv("TENCENTCLOUD_SECRETKEY", emulator.secret_key)
    monkeypatch.delenv("TENCENTCLOUD_SESSIONTOKEN", raising=False)
    return emulator
