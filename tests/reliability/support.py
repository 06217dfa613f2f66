"""The reliability suite's helpers: hypothesis budgets, reading jobs and windows back, scripted kills, leak canaries."""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Union

from hypothesis import settings as hsettings

from emulator.testing import EmulatorHandle
from lib.client import CiClient
from lib.config import Settings
from lib.events import TimerEvent
from lib.submit.run import Deps, SubmitResult
from lib.submit.timer import submit_timer
from lib.windows import parse_ci_time
from tests.support.events import timer_event
from tests.support.settings import BUCKET, REGION

UTC = timezone.utc
SOAK = os.environ.get("HYPOTHESIS_PROFILE") == "soak"

# Known fake secrets: every leak test looks for these exact strings.
FAKE_SECRET_ID = "AKIDleakcanary0000SECRETID"
FAKE_SECRET_KEY = "leakcanarySECRETKEY0000xyz"
FAKE_TOKEN = "leakcanarySESSIONTOKEN0000"
FAKE_WEBHOOK = "https://hooks.example.invalid/send?key=leakcanaryWEBHOOK0000"
FAKE_AUTHORIZATION = "q-sign-algorithm=sha1&q-ak=AKIDleakcanaryUPLOADER&q-signature=leakcanarySIG0000"
CANARIES = ("leakcanary", FAKE_SECRET_ID, FAKE_SECRET_KEY, FAKE_TOKEN, FAKE_WEBHOOK, FAKE_AUTHORIZATION)


def examples(default: int, soak: int, **overrides: Any) -> hsettings:
    """Hypothesis settings for one test: `default` examples normally, `soak` under HYPOTHESIS_PROFILE=soak."""
    profile = hsettings.get_profile("soak" if SOAK else "default")
    count = soak if SOAK else default
    cap = os.environ.get("RELIABILITY_MAX_EXAMPLES")  # e.g. a quick look at the soak scale
    return hsettings(profile, max_examples=min(count, int(cap)) if cap else count, **overrides)


@dataclass(frozen=True)
class JobWindow:
    job_id: str
    name: str
    state: str
    start: Optional[datetime]
    end: Optional[datetime]


def all_jobs(emulator: EmulatorHandle) -> List[JobWindow]:
    """Every batch job the emulator holds, with its TimeInterval (Start inclusive, End exclusive)."""
    backend = emulator.backend
    with backend.lock:
        jobs = list(backend.jobs.values())
    out = []
    for job in sorted(jobs, key=lambda j: j.seq):
        start = parse_ci_time(job.interval_start) if job.interval_start else None
        end = parse_ci_time(job.interval_end) if job.interval_end else None
        out.append(JobWindow(job.job_id, job.name, job.state, start, end))
    return out


def creates(emulator: EmulatorHandle) -> int:
    """How many create calls the service carried out or answered (not counting injected failures)."""
    return sum(1 for r in emulator.request_log.snapshot()
               if r.method == "POST" and r.path == "/inventorytriggerjob" and r.fault in (None, "slow"))


def overlaps(windows: Iterable[Tuple[datetime, datetime]]) -> List[Tuple[Tuple[datetime, datetime], ...]]:
    ordered = sorted(windows)
    return [(a, b) for a, b in zip(ordered, ordered[1:]) if b[0] < a[1]]


def gaps(windows: Iterable[Tuple[datetime, datetime]], start: datetime, end: datetime) -> List[Tuple[datetime, datetime]]:
    """The parts of [start, end) no window covers."""
    out = []
    cursor = start
    for a, b in sorted(windows):
        if a > cursor:
            out.append((cursor, min(a, end)))
        cursor = max(cursor, b)
        if cursor >= end:
            break
    if cursor < end:
        out.append((cursor, end))
    return [g for g in out if g[0] < g[1]]


def duplicated_names(jobs: Iterable[JobWindow]) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for job in jobs:
        counts[job.name] = counts.get(job.name, 0) + 1
    return {name: n for name, n in counts.items() if n > 1}


def at(day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


class Killed(BaseException):
    """SCF killing the function at its timeout: no except clause of ours runs any more I/O after it."""


class ScriptedClient:
    """A CiClient proxy for deterministic interleavings.

    ``kill_after=(method, n)``: the n-th call of `method` is carried out, then the function 'dies' (Killed), and
    every later call dies too (so no clean-up reaches the service, as after a real timeout); ``kill_after=k``: the
    k-th call of any method.
    ``pause_before=(method, n)``: the n-th call of `method` waits until ``resume`` is set; ``paused`` is set
    while it waits."""

    def __init__(self, client: CiClient, kill_after: Union[None, int, Tuple[str, int]] = None,
                 pause_before: Optional[Tuple[str, int]] = None) -> None:
        self._client = client
        self.calls = 0
        self._kill_after = kill_after
        self._pause_before = pause_before
        self._counts: Dict[str, int] = {}
        self.dead = False
        self.paused = threading.Event()
        self.resume = threading.Event()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.dead:
                raise Killed(f"{name} after the function was killed")
            n = self._counts[name] = self._counts.get(name, 0) + 1
            self.calls += 1
            if self._pause_before == (name, n):
                self.paused.set()
                if not self.resume.wait(10):
                    raise AssertionError("the paused run was never resumed")
            result = attr(*args, **kwargs)
            if self._kill_after in ((name, n), self.calls):
                self.dead = True
                raise Killed(f"killed right after {name} #{n} (call {self.calls})")
            return result

        return call


def run_timer(settings: Settings, tick: datetime, client: Any, *, clock: Optional[datetime] = None,
              owner: str = "run") -> SubmitResult:
    """lib.submit's timer run for the tick, as SCF would start it, with the function's clock 5 s after the tick."""
    event = TimerEvent.model_validate(timer_event(tick))
    now = clock or (tick + timedelta(seconds=5))
    return submit_timer(settings, event, Deps(client=client, clock=lambda: now, sleep=lambda _s: None, owner=owner))


def start_paused(fn: Callable[[], Any], scripted: ScriptedClient) -> Tuple[threading.Thread, Dict[str, Any]]:
    """Start `fn` on a thread and wait until `scripted` holds it at its pause point; the box gets its result or
    error."""
    box = {}

    def target():
        try:
            box["result"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    assert scripted.paused.wait(10), "run A never reached its pause point"
    return thread, box


class LogSink:
    """Every log record our loggers, the SDK's and the root logger emit while installed (levels untouched)."""

    def __init__(self) -> None:
        import logging

        self.lines: List[str] = []
        sink = self

        class _Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                try:
                    sink.lines.append(record.getMessage())
                except Exception:  # noqa: BLE001 - a record that cannot render is still evidence
                    sink.lines.append(repr(record.msg))

        self.handler = _Handler(level=0)
        self.loggers = [logging.getLogger(name) for name in ("autopilot", "qcloud_cos", "urllib3", "lib", "")]

    def __enter__(self) -> LogSink:
        for logger in self.loggers:
            logger.addHandler(self.handler)
        return self

    def __exit__(self, *exc: Any) -> None:
        for logger in self.loggers:
            logger.removeHandler(self.handler)

    def text(self) -> str:
        return "\n".join(self.lines)


def leaked(*texts: Any) -> List[str]:
    """The canaries found in any of the texts (reprs of non-strings are searched too)."""
    joined = "\n".join(t if isinstance(t, str) else repr(t) for t in texts)
    return [c for c in CANARIES if c in joined]


def canary_env(**extra: str) -> Dict[str, str]:
    """A complete, valid function environment whose secrets are the known canaries (no emulator: real hosts)."""
    env = {"COS_BUCKET": BUCKET, "COS_REGION": REGION, "TENCENTCLOUD_SECRETID": FAKE_SECRET_ID,
           "TENCENTCLOUD_SECRETKEY": FAKE_SECRET_KEY, "TENCENTCLOUD_SESSIONTOKEN": FAKE_TOKEN,
           "REPORT_WEBHOOK_URL": FAKE_WEBHOOK, "API_TIMEOUT": "0.5"}
    env.update(extra)
    return env
