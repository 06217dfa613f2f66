"""The report's per-object results cache: counters of finished, clean jobs, so the next report need not read them.

A job is kept only when it had already ended (Success/Failed/Cancel with an EndTime) when a report read it, every
one of its per-object results had ended too, and none of them was worth listing (no suspicious or failed object):
such a job's results cannot change, so an hourly report over a one-day window reads each finished job once, not
24 times. Jobs with something to list, or with no per-object results at all, are simply read again (nothing
published says a finished job's list is final while it is empty). One object under STATE_PREFIX, read once at
the start of a report and written once at its end, holding only the jobs of that report's window."""
from __future__ import annotations

from collections import Counter
from typing import Dict, Optional

from pydantic import BaseModel, ConfigDict, ValidationError

FORMAT = 1
FINISHED_JOB_STATES = frozenset({"Success", "Failed", "Cancel"})
FINISHED_OBJECT_STATES = frozenset({"Success", "Failed", "Cancel"})


class CachedResults(BaseModel):
    """The cache object. Each value is "<EndTime>|<state>=<n>,…": plain strings keep 20,000 jobs in a few MB."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    format: int
    bucket: str
    jobs: Dict[str, str]


def cache_key(state_prefix: str) -> str:
    return f"{state_prefix}report-cache/per-object-results.json"


def encode(end_time: str, states: Counter) -> str:
    return end_time + "|" + ",".join(f"{state}={n}" for state, n in sorted(states.items()))


def decode(value: str, end_time: str) -> Optional[Counter]:
    """The cached counters if the entry was written for a job that ended at end_time, else None (read it again)."""
    ended, _, pairs = value.partition("|")
    if ended != end_time or not pairs:
        return None
    states: Counter = Counter()
    for pair in pairs.split(","):
        state, _, count = pair.partition("=")
        if not state or not count.isdigit():
            return None
        states[state] = int(count)
    return states


def cacheable(job_state: str, end_time: str, states: Counter, notable: bool) -> bool:
    """Whether a job's per-object results, just read, can no longer change (see the module's docstring)."""
    return (job_state in FINISHED_JOB_STATES and bool(end_time) and bool(states) and not notable
            and all(s in FINISHED_OBJECT_STATES for s in states))


def parse(raw: bytes, bucket: str) -> CachedResults:
    """The cache as stored; ValueError names what is wrong (the caller then reads every job)."""
    try:
        cache = CachedResults.model_validate_json(raw)
    except ValidationError as exc:
        raise ValueError(f"it is not a per-object results cache ({exc.error_count()} problem(s))") from None
    if cache.format != FORMAT:
        raise ValueError(f"its format is {cache.format}, this version reads {FORMAT}")
    if cache.bucket != bucket:
        raise ValueError(f"it was written for bucket {cache.bucket!r}, not {bucket!r}")
    return cache


def dump(bucket: str, jobs: Dict[str, str]) -> bytes:
    return CachedResults(format=FORMAT, bucket=bucket, jobs=jobs).model_dump_json().encode()
