"""The report's per-object results cache: counters of finished, clean jobs, so the next report need not read them.

A job is kept only when it had already ended (Success/Failed/Cancel with an EndTime) when a report read it, every
one of its per-object results had ended too, and none of them was worth listing (no suspicious or failed object):
such a job's results cannot change, so an hourly report over a one-day window reads each finished job once, not
24 times. Jobs with something to list, or with no per-object results at all, are simply read again (nothing
published says a finished job's list is final while it is empty). One object under STATE_PREFIX, read once at
the start of a report and written once at its end, holding only the jobs of that report's window."""
from __future__ import annotations

import json
import sys
from collections import Counter
from typing import Dict, Optional

from pydantic import BaseModel, ConfigDict, ValidationError

FORMAT = 1
FINISHED_JOB_STATES = frozenset({"Success", "Failed", "Cancel"})
FINISHED_OBJECT_STATES = frozenset({"Success", "Failed", "Cancel"})


class CachedResults(BaseModel):
    """The cache object as stored: each value is "<EndTime>|<state>=<n>,…" (read with PreviousResults)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    format: int
    bucket: str
    jobs: Dict[str, str]


def cache_key(state_prefix: str) -> str:
    return f"{state_prefix}report-cache/per-object-results.json"


def cacheable(job_state: str, end_time: str, states: Counter, notable: bool) -> bool:
    """Whether a job's per-object results, just read, can no longer change (see the module's docstring)."""
    return (job_state in FINISHED_JOB_STATES and bool(end_time) and bool(states) and not notable
            and all(s in FINISHED_OBJECT_STATES for s in states))


class PreviousResults:
    """The last report's cache, held compactly for a report's whole run: one int per job (the hash of its id and
    EndTime, so a job that ended again is not matched) and counter strings shared between jobs."""

    def __init__(self, entries: Dict[int, str]) -> None:
        self._entries = entries

    @classmethod
    def parse(cls, raw: bytes, bucket: str) -> PreviousResults:
        """The cache as stored; ValueError names what is wrong (the caller then reads every job)."""
        try:
            cache = CachedResults.model_validate_json(raw)
        except ValidationError as exc:
            raise ValueError(f"it is not a per-object results cache ({exc.error_count()} problem(s))") from None
        if cache.format != FORMAT:
            raise ValueError(f"its format is {cache.format}, this version reads {FORMAT}")
        if cache.bucket != bucket:
            raise ValueError(f"it was written for bucket {cache.bucket!r}, not {bucket!r}")
        entries: Dict[int, str] = {}
        for job_id, value in cache.jobs.items():
            end_time, _, states = value.partition("|")
            entries[hash((job_id, end_time))] = sys.intern(states)
        return cls(entries)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, job_id: str, end_time: str) -> Optional[Counter]:
        """The job's cached counters if they were written for a job that ended at end_time, else None."""
        pairs = self._entries.get(hash((job_id, end_time)))
        if not pairs:
            return None
        states: Counter = Counter()
        for pair in pairs.split(","):
            state, _, count = pair.partition("=")
            if not state or not count.isdigit():
                return None
            states[state] = int(count)
        return states


class NewResults:
    """This report's cache, written out as JSON text while jobs are merged, so no per-job objects are kept."""

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket
        self._jobs = bytearray()
        self.count = 0

    def add(self, job_id: str, end_time: str, states: Counter) -> None:
        value = end_time + "|" + ",".join(f"{state}={n}" for state, n in sorted(states.items()))
        self._jobs += (("," if self.count else "") + json.dumps(job_id) + ":" + json.dumps(value)).encode()
        self.count += 1

    def dump(self) -> bytes:
        """The cache object's bytes; built in place (one copy), since at 20,000 jobs it is over a megabyte."""
        self._jobs[0:0] = json.dumps({"format": FORMAT, "bucket": self.bucket})[:-1].encode() + b', "jobs": {'
        self._jobs += b"}}"
        body, self._jobs = bytes(self._jobs), bytearray()
        return body
