"""Run state in the bucket: a checkpoint per timer rule, and leases that stop two runs doing the same work."""

import re
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Callable, Iterator, List, Optional

from pydantic import BaseModel, ConfigDict, ValidationError

from lib import logs
from lib.client import CiClient
from lib.errors import AppError, CloudApiError, LeaseHeldError, StateError
from lib.windows import as_utc

_GENERATION = re.compile(r"/g(\d{6})\.json$")


class Checkpoint(BaseModel):
    """The end of the last window a rule has a job for; the next window starts here."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    rule: str
    end: datetime
    job_id: str
    job_name: str
    lease_id: Optional[str] = None  # the claim it was written under: whoever reads it clears that claim if left


class Lease(BaseModel):
    """A claim on one unit of work; its window and job name are reused by whoever takes it over."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    lease_id: str
    owner: str
    generation: int
    expires_at: datetime
    window_start: Optional[datetime] = None
    window_end: Optional[datetime] = None
    job_name: str


class StateStore:
    """Checkpoints and leases as small JSON objects under STATE_PREFIX."""

    def __init__(self, client: CiClient, prefix: str, clock: Callable[[], datetime]):
        self.client = client
        self.prefix = prefix
        self.clock = clock

    def _checkpoint_key(self, rule: str) -> str:
        return f"{self.prefix}checkpoints/{rule}.json"

    def _lease_dir(self, lease_id: str) -> str:
        return f"{self.prefix}leases/{lease_id}/"

    def _lease_key(self, lease_id: str, generation: int) -> str:
        return f"{self._lease_dir(lease_id)}g{generation:06d}.json"

    def _write_lease(self, lease: Lease, *, if_absent: bool) -> None:
        self.client.put_object(self._lease_key(lease.lease_id, lease.generation),
                               lease.model_dump_json().encode("utf-8"), "application/json", if_absent=if_absent)

    def read_checkpoint(self, rule: str) -> Optional[Checkpoint]:
        raw = self.client.get_object(self._checkpoint_key(rule))
        if raw is None:
            return None
        try:
            return Checkpoint.model_validate_json(raw)
        except ValidationError:
            raise StateError(f"checkpoint {self._checkpoint_key(rule)} is unreadable; fix or delete it by hand") from None

    def write_checkpoint(self, checkpoint: Checkpoint) -> None:
        self.client.put_object(self._checkpoint_key(checkpoint.rule),
                               checkpoint.model_dump_json().encode("utf-8"), "application/json")

    def acquire(self, proposal: Lease, ttl: timedelta) -> Lease:
        """Claim proposal.lease_id, or take over an expired claim (keeping its window); raises LeaseHeldError."""
        fresh = proposal.model_copy(update={"generation": 0, "expires_at": as_utc(self.clock()) + ttl})
        first = self._lease_key(proposal.lease_id, 0)
        try:
            # The usual case is no claim at all: one conditional create, then one listing (below).
            self._write_lease(fresh, if_absent=True)
            created = True
        except CloudApiError as exc:
            if exc.status != 409:
                raise
            created = False
        keys = self._claim_files(proposal.lease_id)
        if created:
            # The deploy's lifecycle rule on leases/ deletes claim files by age, so a g000000 we could re-create may
            # stand in front of a newer generation that a live run holds: that run keeps the claim, not us.
            if keys == [first]:
                return fresh
            self.client.delete_object(first)
            keys = [k for k in keys if not k.endswith("/g000000.json")]
        generation, base = 0, proposal
        if keys:
            current = self._read_lease(keys[-1])
            now = as_utc(self.clock())
            if current is not None and as_utc(current.expires_at) > now:
                raise LeaseHeldError(
                    f"lease {proposal.lease_id} is held by run {current.owner} until {current.expires_at.isoformat()}; "
                    "this run stops so the same work is not done twice, and SCF's retry will pick it up")
            generation = int(_GENERATION.search(keys[-1]).group(1)) + 1
            if current is not None:
                base = current  # a dead run's window must be finished as it was claimed, or windows overlap
        lease = base.model_copy(update={"owner": proposal.owner, "generation": generation,
                                        "expires_at": as_utc(self.clock()) + ttl})
        try:
            self._write_lease(lease, if_absent=True)
        except CloudApiError as exc:
            if exc.status == 409:
                raise LeaseHeldError(f"lease {proposal.lease_id} was claimed by another run a moment ago") from None
            raise
        return lease

    def _claim_files(self, lease_id: str) -> List[str]:
        """The claim's generation files, oldest first (one listing)."""
        return sorted(k for k in self.client.list_keys(self._lease_dir(lease_id)) if _GENERATION.search(k))

    def _read_lease(self, key: str) -> Optional[Lease]:
        raw = self.client.get_object(key)
        if raw is None:
            return None
        try:
            return Lease.model_validate_json(raw)
        except ValidationError:
            return None

    def abandon(self, lease: Lease) -> None:
        """Let the next run take over at once (keeping the window), after this run failed."""
        expired = lease.model_copy(update={"expires_at": as_utc(self.clock()) - timedelta(seconds=1)})
        self._write_lease(expired, if_absent=False)

    def release(self, lease: Lease) -> None:
        """Delete this claim and the expired ones it took over, once its work is recorded (job exists, checkpoint moved).

        Only generations up to ours: a newer one belongs to a run that took over and may still be working."""
        for generation in range(lease.generation, -1, -1):
            self.client.delete_object(self._lease_key(lease.lease_id, generation))

    def clear_expired(self, lease_id: str) -> int:
        """Delete a claim a killed run left behind, if it has lapsed; returns how many objects went.

        Older generations always lapsed before a newer one was written, so the newest decides for all."""
        keys = self._claim_files(lease_id)
        if not keys:
            return 0
        newest = self._read_lease(keys[-1])
        if newest is not None and as_utc(newest.expires_at) > as_utc(self.clock()):
            return 0  # a live run holds it; it releases the claim itself
        for key in reversed(keys):
            self.client.delete_object(key)
        logs.log("lease_cleared", lease_id=lease_id, objects=len(keys))
        return len(keys)

    @contextmanager
    def holding(self, proposal: Lease, ttl: timedelta) -> Iterator[Lease]:
        """Acquire; release when the block ends normally; abandon (keeping the window) when it raises."""
        lease = self.acquire(proposal, ttl)
        try:
            yield lease
        except BaseException:
            try:
                self.abandon(lease)
            except AppError as exc:  # the lease then simply expires; the original error matters more
                logs.log_error("lease_abandon_failed", exc, lease_id=lease.lease_id)
            raise
        self.release(lease)
