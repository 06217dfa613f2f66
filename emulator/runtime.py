"""Wiring: backend + routes + server + optional job worker, started and stopped as one handle."""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from typing import Callable, Dict, Optional, Tuple

from . import executor
from .app import EmulatorServer
from .auth import SignatureVerifier
from .backend import Backend
from .ci import CiActions
from .control import ControlActions
from .cos import CosActions
from .dispatch import Dispatcher
from .faults import Faults
from .inventory import ROWS_PER_FILE, InventoryReport
from .requestlog import RequestLog

logger = logging.getLogger(__name__)
DEFAULT_REGION = "ap-guangzhou"
TEST_SECRET_ID = "AKIDtest"  # noqa: S105 - the emulator's well-known test key id
TEST_SECRET_KEY = "test-secret-key"  # noqa: S105 - the emulator's well-known test key, not a secret


def check_latency(seconds: float) -> float:
    """A per-request delay in seconds: finite and >= 0."""
    value = float(seconds)
    if not 0 <= value < 3600:
        raise ValueError(f"latency must be between 0 and 3600 seconds, got {seconds!r}")
    return value


class JobWorker(threading.Thread):
    """Runs submitted jobs on a thread (the demo's and the standalone server's mode; tests step jobs themselves).

    With ``pace`` 0 a job runs as soon as it is created. With ``pace`` > 0 a job stays Submitted for ``pace``
    seconds, then Running for at least ``pace`` seconds before its objects are processed, so a user's create →
    get → list → cancel sees it unfinished, as on the real service (whose jobs queue before they run)."""

    def __init__(self, backend: Backend, poll: float = 0.2, pace: float = 0.0,
                 monotonic: Callable[[], float] = time.monotonic):
        super().__init__(name="emulator-job-worker", daemon=True)
        self.backend = backend
        self.poll = poll
        self.pace = pace
        self.monotonic = monotonic
        self._since: Dict[Tuple[str, str], float] = {}  # (job id, state) → when this worker first saw it
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                if self.backend.wait_for_work(self.poll) and not self._stop_event.is_set():
                    if self.pace > 0:
                        self.advance_due()
                        self._stop_event.wait(self.poll)  # unfinished jobs stay unfinished: do not spin
                    else:
                        self.backend.run_pending()
            except Exception:  # keep the worker alive: one broken job must not stop the demo
                logger.exception("job worker iteration failed")

    def advance_due(self) -> int:
        """Move every job that has spent ``pace`` seconds in its state; return how many moved."""
        now = self.monotonic()
        moved = 0
        unfinished = set()
        for job_id in self.backend.unfinished_job_ids():
            with self.backend.lock:
                state = self.backend.jobs[job_id].state
            unfinished.add(job_id)
            since = self._since.setdefault((job_id, state), now)
            if now - since >= self.pace and executor.advance_job(self.backend, job_id):
                moved += 1
                with self.backend.lock:
                    self._since.setdefault((job_id, self.backend.jobs[job_id].state), now)
        self._since = {k: v for k, v in self._since.items() if k[0] in unfinished}
        return moved

    def stop(self) -> None:
        self._stop_event.set()
        with self.backend.work:
            self.backend.work.notify_all()
        self.join(timeout=5)


class EmulatorHandle:
    """A running emulator: ``url``, ``backend``, ``faults``, ``request_log``, ``stop()``; plus SDK helpers."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, secret_id: str = TEST_SECRET_ID,
                 secret_key: str = TEST_SECRET_KEY, token: Optional[str] = None,
                 data_dir: Optional[str] = None, autorun: bool = False,
                 clock: Optional[Callable[[], datetime]] = None, job_pace: float = 0.0, latency: float = 0.0):
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.token = token
        self.backend = Backend(data_dir=data_dir, runner=executor)
        if clock is not None:
            self.backend.set_clock(clock)
        self.faults = Faults()
        self.request_log = RequestLog()
        verifier = SignatureVerifier(secret_id, secret_key, token)
        control = ControlActions(self.backend, self.faults, self.request_log)
        dispatcher = Dispatcher(CosActions(self.backend).routes() + CiActions(self.backend).routes(), verifier,
                                control_routes=control.routes())
        self._start_latency = check_latency(latency)
        self.server = EmulatorServer((host, port), dispatcher, self.faults, self.request_log,
                                     latency=self._start_latency)
        bound_host, bound_port = self.server.server_address[:2]
        self.url = f"http://{bound_host}:{bound_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="emulator-http",
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._worker: Optional[JobWorker] = JobWorker(self.backend, pace=job_pace) if autorun else None
        self._stopped = False

    @property
    def latency(self) -> float:
        """Seconds every service request waits before it is served (0 = loopback speed)."""
        return self.server.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        self.server.latency = check_latency(seconds)

    def start(self) -> EmulatorHandle:
        self._thread.start()
        if self._worker is not None:
            self._worker.start()
        return self

    def stop(self) -> None:
        """Stop the worker and the server and close the listening socket (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        if self._worker is not None:
            self._worker.stop()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    def reset(self) -> None:
        """Forget all state, faults and logged requests; the latency goes back to the one the handle started with."""
        self.latency = self._start_latency
        self.backend.reset()
        self.faults.clear()
        self.request_log.clear()

    def run_inventory(self, bucket: str, inventory_id: str, date: Optional[str] = None,
                      rows_per_file: int = ROWS_PER_FILE) -> InventoryReport:
        """Produce an inventory report now (``Backend.run_inventory``; ``POST /_emulator/inventory/run``)."""
        return self.backend.run_inventory(bucket, inventory_id, date=date, rows_per_file=rows_per_file)

    # ----- SDK helpers (import qcloud_cos lazily) ---------------------------------------------------------
    def cos_config(self, region: str = DEFAULT_REGION, secret_id: Optional[str] = None,
                   secret_key: Optional[str] = None, token: Optional[str] = None, **overrides):
        """The project's client config pointed at this emulator through ``Proxies`` (real Host headers kept)."""
        from qcloud_cos import CosConfig

        return CosConfig(Region=region, SecretId=secret_id or self.secret_id,
                         SecretKey=secret_key or self.secret_key, Token=token or self.token, Scheme="http",
                         Proxies={"http": self.url}, **overrides)

    def client(self, region: str = DEFAULT_REGION, retry: int = 0, **config):
        """``CosS3Client(self.cos_config(...), retry=retry)``."""
        from qcloud_cos import CosS3Client

        return CosS3Client(self.cos_config(region=region, **config), retry=retry)

    def __enter__(self) -> EmulatorHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
