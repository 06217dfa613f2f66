"""Test and demo API: ``run_emulator(...)`` and the pytest fixtures (``-p emulator.testing`` registers them).

Importable without pytest: the fixtures are defined only when pytest is installed."""
from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Callable, Iterator, Optional

from .runtime import DEFAULT_REGION, TEST_SECRET_ID, TEST_SECRET_KEY, EmulatorHandle

__all__ = ["run_emulator", "EmulatorHandle", "DEFAULT_REGION", "TEST_SECRET_ID", "TEST_SECRET_KEY"]


@contextlib.contextmanager
def run_emulator(secret_id: str = TEST_SECRET_ID, secret_key: str = TEST_SECRET_KEY, token: Optional[str] = None,
                 data_dir: Optional[str] = None, autorun: bool = False,
                 clock: Optional[Callable[[], datetime]] = None, host: str = "127.0.0.1",
                 port: int = 0, job_pace: float = 0.0, latency: float = 0.0) -> Iterator[EmulatorHandle]:
    """Start an emulator on a free port in a thread; yield its handle; stop it cleanly on exit.

    ``data_dir`` None keeps state in memory; ``autorun`` runs submitted jobs on a worker thread;
    ``clock`` (returning an aware datetime) drives Last-Modified and job times; ``job_pace`` (with ``autorun``)
    keeps each job Submitted, then Running, for that many seconds; ``latency`` delays every service request by
    that many seconds (``handle.latency`` changes it later)."""
    handle = EmulatorHandle(host=host, port=port, secret_id=secret_id, secret_key=secret_key, token=token,
                            data_dir=data_dir, autorun=autorun, clock=clock, job_pace=job_pace,
                            latency=latency).start()
    try:
        yield handle
    finally:
        handle.stop()


try:
    import pytest
except ImportError:  # pragma: no cover - the demo and bench run without pytest
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture(scope="session")
    def emulator_session() -> Iterator[EmulatorHandle]:
        """One in-memory emulator for the whole session (credentials AKIDtest / test-secret-key, no token)."""
        with run_emulator() as handle:
            yield handle

    @pytest.fixture
    def emulator(emulator_session: EmulatorHandle) -> Iterator[EmulatorHandle]:
        """The session emulator, reset before and after the test (state, clock, faults, request log)."""
        emulator_session.reset()
        try:
            yield emulator_session
        finally:
            emulator_session.reset()
