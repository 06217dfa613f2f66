"""Time windows: durations, CI's `+0800` timestamps, and the window a timer run covers."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Optional

UTC = timezone.utc
# CI documents TimeInterval as %Y-%m-%dT%H:%M:%S%z and every sample uses Beijing time.
CST = timezone(timedelta(hours=8))
CI_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"

_DURATION_PART = re.compile(r"(\d+)([smhdw])")
_DURATION = re.compile(r"^(?:\d+[smhdw])+$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# How far a stated moment (a timer's Time, a checkpoint's end, a claim's window) may lie ahead of the function's own
# clock. SCF stamps Time and runs the function on NTP-synced hosts; the reliability model lets a run's clock lag its
# tick by up to 90 s. 5 min covers that with room, while a typo'd day or year is far beyond it. Inside the skew a
# window may end up to 5 min ahead, the existing "the window end is the tick's Time" limit (docs/reliability.md).
CLOCK_SKEW = timedelta(minutes=5)


def parse_duration(text: str) -> timedelta:
    """Parse `90s`, `15m`, `6h`, `1d`, `1h30m`; raises ValueError naming the accepted forms."""
    cleaned = text.strip().lower()
    if not _DURATION.match(cleaned):
        raise ValueError(f"{text!r} is not a duration; use a number and a unit (s, m, h, d, w), e.g. 6h, 1d, 1h30m")
    seconds = sum(int(n) * _UNITS[u] for n, u in _DURATION_PART.findall(cleaned))
    if seconds <= 0:
        raise ValueError(f"{text!r} is zero; a duration must be positive")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """Render a timedelta in the same compact form parse_duration accepts."""
    seconds = int(delta.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


def format_ci_time(moment: datetime) -> str:
    """Render an aware datetime the way CI documents it: `2023-05-01T00:00:00+0800`."""
    return as_utc(moment).astimezone(CST).strftime(CI_TIME_FORMAT)


def format_utc(moment: datetime) -> str:
    """`2026-11-28T16:00:00Z`: the one form our own human-facing lines use (CI's +0800 form stays on the wire)."""
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ci_time(text: str) -> Optional[datetime]:
    """Parse a CI timestamp (`+0800`, `Z` or `+08:00`); `-` and empty mean not yet, and give None."""
    if not text or text.strip() in ("-", ""):
        return None
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+0000"
    value = re.sub(r"([+-]\d\d):(\d\d)$", r"\1\2", value)
    return datetime.strptime(value, CI_TIME_FORMAT).astimezone(UTC)


def as_utc(moment: datetime) -> datetime:
    """Return an aware UTC datetime; a naive one is taken to be UTC already (SCF's clock is UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def floor_second(moment: datetime) -> datetime:
    """The whole UTC second a moment falls in: CI's CreationTime and list bounds carry no finer time."""
    return as_utc(moment).replace(microsecond=0)


def compact(moment: datetime) -> str:
    """A UTC timestamp safe inside a job name: `20260101T000000Z`."""
    return as_utc(moment).strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True)
class Window:
    """Objects uploaded in [start, end); start None means from the beginning of the bucket."""

    start: Optional[datetime]
    end: datetime

    @property
    def bounded(self) -> bool:
        return self.start is not None
