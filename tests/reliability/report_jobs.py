"""Batch jobs with per-object results, seeded straight into the emulator's backend, and what a report must say of
them: the test-side truth the concurrent report is compared with."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Dict, List, Sequence, Tuple

from bench.common import BUCKET
from bench.seed import add_result
from tests.reliability.support import at
from tests.support.emulator import emulator_settings

CREATED_FROM = at(2)  # jobs are created one second apart from here; a report ending at at(3) covers them all
REPORT_END = at(3)


def report_settings(handle, **env: str):
    """Settings aimed at the seeded bucket (bench.seed's), with the test's extra variables."""
    return emulator_settings(handle, COS_BUCKET=BUCKET, **env)


@dataclass(frozen=True)
class PlannedJob:
    """One batch job to seed: its Type, its state, and its per-object results as (state, suspicious) pairs."""

    job_type: str
    state: str
    objects: Tuple[Tuple[str, bool], ...] = ()


@dataclass
class Seeded:
    ids: List[str] = field(default_factory=list)
    plan: List[PlannedJob] = field(default_factory=list)

    def read_jobs(self) -> List[Tuple[str, PlannedJob]]:
        """Jobs whose per-object results a report reads: every state but Submitted."""
        return [(i, p) for i, p in zip(self.ids, self.plan) if p.state != "Submitted"]

    def object_states(self, job_type: str) -> Counter:
        return Counter(state for _, p in self.read_jobs() if p.job_type == job_type for state, _ in p.objects)


def seed(handle, plan: Sequence[PlannedJob]) -> Seeded:
    """Create the planned jobs (through the SDK once per Type, copies in the backend) with their results."""
    from bench.seed import seed_jobs

    handle.backend.create_bucket(BUCKET, exist_ok=True)
    out = Seeded(plan=list(plan))
    by_type: Dict[str, List[int]] = {}
    for n, planned in enumerate(plan):
        by_type.setdefault(planned.job_type, []).append(n)
    ids: Dict[int, str] = {}
    for job_type, positions in by_type.items():
        made = seed_jobs(handle, job_type, len(positions), created=lambda i, p=positions: _created(p[i]))
        ids.update(zip(positions, made))
    backend = handle.backend
    with backend.lock:
        for n, planned in enumerate(plan):
            job = backend.jobs[ids[n]]
            job.state = planned.state
            if planned.state == "Submitted":
                job.start_time = job.end_time = None
            for k, (state, suspicious) in enumerate(planned.objects):
                add_result(backend, ids[n], planned.job_type, f"p/{n:04d}/{k:03d}.png", _created(n), state=state,
                           suspicious=suspicious)
    out.ids = [ids[n] for n in range(len(plan))]
    return out


def _created(n: int) -> datetime:
    return CREATED_FROM + timedelta(seconds=n)
