"""Shared fixtures, each named by what it holds: the function's environment, the fake wires, the emulator's bucket,
and clients (`sdk_client` the official SDK's CosS3Client, `ci_client` our lib.client.CiClient)."""
from __future__ import annotations

from typing import Dict, Iterator

import pytest
from hypothesis import HealthCheck, settings
from qcloud_cos import CosS3Client

from emulator.testing import EmulatorHandle
from lib.client import CiClient, make_client
from lib.config import load_settings
from tests.support.emulator import EMULATOR_NOW, aim_process_env
from tests.support.settings import BUCKET, ENV, REGION, function_env
from tests.support.wires import FakeWire, ReportWire, fake_service

_COMMON = dict(deadline=None, print_blob=True,
               suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                      HealthCheck.data_too_large, HealthCheck.filter_too_much])
# Registered once for every folder and applied per test through `tests.reliability.support.examples`, so a folder
# run alone gets the same bounded, repeatable examples. Default: a fixed seed and bounded counts.
settings.register_profile("default", derandomize=True, **_COMMON)
# `make soak` (HYPOTHESIS_PROFILE=soak): random seeds and the larger counts each test asks for.
settings.register_profile("soak", derandomize=False, **_COMMON)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Dict[str, str]:
    """The function's environment: only what a test sets, plus fake credentials."""
    return function_env(monkeypatch)


@pytest.fixture
def ci_wire() -> Iterator[FakeWire]:
    """The submit side's wire: an in-memory bucket and batch-job store (tests.support.wires.FakeWire)."""
    with fake_service(FakeWire) as wire:
        yield wire


@pytest.fixture
def report_wire() -> Iterator[ReportWire]:
    """The report side's wire: paginated job lists, per-object results, executions (tests.support.wires.ReportWire)."""
    with fake_service(ReportWire) as wire:
        yield wire


@pytest.fixture
def ci_client() -> CiClient:
    """Our CiClient over the fake wire's hosts (ENV's bucket and credentials), without back-off sleeps."""
    return make_client(load_settings(ENV), sleep=lambda s: None)


@pytest.fixture
def sdk_client(emulator: EmulatorHandle) -> CosS3Client:
    """The official SDK's client with the project's config (Proxies → emulator, Scheme http, retry=0)."""
    return emulator.client(region=REGION)


@pytest.fixture
def emulator_bucket(emulator, env, monkeypatch):
    """The emulator's backend with one fresh bucket, and the function's environment pointed at it."""
    emulator.backend.set_clock(lambda: EMULATOR_NOW)
    emulator.backend.create_bucket(BUCKET)
    aim_process_env(emulator, monkeypatch)
    return emulator.backend
