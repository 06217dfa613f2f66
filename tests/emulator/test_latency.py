"""A fixed per-request delay (``latency``): the order of a real region's call (tens of ms, inferred: no page states
an in-region figure), so benchmarks can measure a report the way it runs in the cloud. The delay is slept on each
request's own thread without a lock, so concurrent requests overlap as they do on a network."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import emulator.app as app
from emulator.__main__ import main, parse_args
from emulator.testing import run_emulator
from tests.support.settings import BUCKET, REGION

pytestmark = pytest.mark.emulator


def _head_bucket(handle) -> float:
    sdk_client = handle.client(region=REGION)
    started = time.perf_counter()
    sdk_client.head_bucket(Bucket=BUCKET)
    return time.perf_counter() - started


def test_every_service_request_waits_at_least_the_latency():
    with run_emulator(latency=0.05) as handle:
        handle.backend.create_bucket(BUCKET)
        assert handle.latency == 0.05
        assert _head_bucket(handle) >= 0.05


def test_the_latency_can_be_changed_at_runtime_and_reset_restores_the_start_value(emulator, bucket):
    emulator.latency = 0.05
    assert _head_bucket(emulator) >= 0.05
    emulator.reset()
    assert emulator.latency == 0.0


def test_concurrent_requests_wait_out_their_latency_together(monkeypatch, emulator, bucket):
    # Every request's delay must be running at the same moment: a barrier in place of the sleep only opens if
    # all of them reached it, which a lock around the delay (or a serial server) would prevent.
    parties = 6
    barrier = threading.Barrier(parties, timeout=5)

    class _Clock:
        @staticmethod
        def sleep(_seconds: float) -> None:
            barrier.wait()

    monkeypatch.setattr(app, "time", _Clock)
    emulator.latency = 0.01
    with ThreadPoolExecutor(parties) as pool:
        list(pool.map(lambda _i: _head_bucket(emulator), range(parties)))
    assert not barrier.broken


@pytest.mark.parametrize("bad", [-0.01, float("nan"), 3600.0])
def test_a_latency_out_of_range_is_refused_naming_the_value(emulator, bad):
    with pytest.raises(ValueError, match="latency must be between 0 and 3600 seconds"):
        emulator.latency = bad


def test_the_command_line_takes_latency_from_the_flag_or_the_environment(monkeypatch):
    assert parse_args(["--latency", "0.02"]).latency == 0.02
    monkeypatch.setenv("EMULATOR_LATENCY", "0.03")
    assert parse_args([]).latency == 0.03


def test_the_command_line_refuses_a_negative_latency(capsys):
    assert main(["--latency", "-1", "--port", "0"]) == 2
    assert "--latency must be between 0 and 3600 seconds, got -1" in capsys.readouterr().err
