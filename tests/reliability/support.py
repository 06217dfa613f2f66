"""Shared helpers: settings aimed at the emulator, a fast client, and reading jobs and windows back."""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from hypothesis import settings as hsettings

from emulator.testing import EmulatorHandle
from lib.client import CiClient, make_client
from lib.config import Settings, load_settings
from lib.windows import parse_ci_time

BUCKET = "examplebucket-1250000000"
REGION = "ap-guangzhou"
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


def emulator_env(emulator: EmulatorHandle, **extra: str) -> Dict[str, str]:
    env = {"COS_BUCKET": BUCKET, "COS_REGION": REGION, "COS_EMULATOR_URL": emulator.url,
           "TENCENTCLOUD_SECRETID": emulator.secret_id, "TENCENTCLOUD_SECRETKEY": emulator.secret_key,
           "API_TIMEOUT": "2"}
    env.update(extra)
    return env


def emulator_settings(emulator: EmulatorHandle, **extra: str) -> Settings:
    return load_settings(emulator_env(emulator, **extra))


def fast_client(settings: Settings) -> CiClient:
    """The real client over real HTTP, with our retries' back-off sleeps skipped."""
    return make_client(settings, sleep=lambda _s: None)


def fresh_bucket(emulator: EmulatorHandle, clock: Optional[Any] = None) -> None:
    emulator.reset()
    if clock is not None:
        emulator.backend.set_clock(clock)
    emulator.backend.create_bucket(BUCKET)


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


def timer_event(time: datetime, name: str = "hourly", message: str = "") -> Mapping[str, Any]:
    return {"Type": "Timer", "TriggerName": name, "Time": time.strftime("%Y-%m-%dT%H:%M:%SZ"), "Message": message}


class Killed(BaseException):
    """SCF killing the function at its timeout: no except clause of ours runs any more I/O after it."""


class ScriptedClient:
    """A CiClient proxy for deterministic interleavings.

    ``kill_after=(method, n)``: the n-th call of `method` is carried out, then the function 'dies' (Killed), and
    every later call dies too (so no clean-up reaches the service, as after a real timeout).
    ``pause_before=(method, n)``: the n-th call of `method` waits until ``resume`` is set; ``paused`` is set
    while it waits."""

    def __init__(self, client: CiClient, kill_after: Optional[Tuple[str, int]] = None,
                 pause_before: Optional[Tuple[str, int]] = None) -> None:
        import threading

        self._client = client
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
            if self._pause_before == (name, n):
                self.paused.set()
                if not self.resume.wait(10):
                    raise AssertionError("the paused run was never resumed")
            result = attr(*args, **kwargs)
            if self._kill_after == (name, n):
                self.dead = True
                raise Killed(f"killed right after {name} #{n}")
            return result

        return call


def cos_event(keys: Iterable[str], authorization: str = "q-sign-algorithm=sha1&q-signature=REDACTED") -> Dict[str, Any]:
    """A COS upload delivery (the documented shape) naming `keys` in examplebucket-1250000000."""
    from urllib.parse import quote

    records = []
    for i, key in enumerate(keys):
        records.append({
            "cos": {
                "cosBucket": {"appid": "1250000000", "cosRegion": REGION, "name": "examplebucket", "region": "gz"},
                "cosObject": {"key": f"/1250000000/examplebucket/{key}",
                              "meta": {"Content-Type": "image/png", "ETag": f'"etag{i}"',
                                       "x-cos-request-id": f"req-{i}"},
                              "size": 1024, "vid": "",
                              "url": f"http://{BUCKET}.cos.{REGION}.myqcloud.com/{quote(key, safe='/-_.~')}"},
                "cosSchemaVersion": "1.0"},
            "event": {"eventName": "cos:ObjectCreated:Put", "eventSource": "qcs::cos", "eventTime": 1764547200,
                      "requestParameters": {"requestHeaders": {"Authorization": authorization},
                                            "requestSourceIP": "203.0.113.7"}},
        })
    return {"Records": records}


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
