"""Run state in the bucket: a checkpoint per timer rule, and leases that stop two runs doing the same work."""

import re
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Callable, Dict, Iterator, List, Optional, Tuple

from pydantic import BaseModel, ConfigDict, ValidationError

from lib import logs
from lib.client import CiClient
from lib.errors import AppError, CloudApiError, JobMismatchError, LeaseHeldError, StateError, TamperedStateError
from lib.jobs import is_batch_job_id, timer_job_name
from lib.windows import CLOCK_SKEW, Window, as_utc, compact, format_duration, format_utc, parse_ci_time

_GENERATION = re.compile(r"/g(\d{6})\.json$")
# LEASE_SECONDS' upper bound, and longer than any SCF time limit + 30 s: no claim of ours is written to last longer.
MAX_LEASE_TTL = timedelta(days=1)
_NAME_TIMES = re.compile(r"-(\d{8}T\d{6}Z)-(\d{8}T\d{6}Z)$")
LeaseCheck = Callable[["Lease", datetime], str]


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


def name_window(job_name: str, end: datetime) -> Optional[Window]:
    """The window a timer job name states (`…-<start>-<end>`), if it ends at `end`; None when it does not."""
    match = _NAME_TIMES.search(job_name)
    if not match or match.group(2) != compact(end):
        return None
    start = datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=as_utc(end).tzinfo)
    return Window(start, as_utc(end)) if start < as_utc(end) else None


def check_checkpoint(client: CiClient, checkpoint: Checkpoint, rule: str, job_name_prefix: str,
                     now: datetime) -> None:
    """Raise TamperedStateError unless the checkpoint is one our own run wrote: its rule, a past end, our job name
    for its window, and, decisively, the CI job it names (a bucket writer can PUT a checkpoint, never create a job).

    Costs one GET of the job. A CI call that fails raises CloudError as usual (the tick fails, SCF retries): only an
    answer that contradicts the checkpoint makes it tampered."""
    def tampered(problem: str) -> TamperedStateError:
        return TamperedStateError(f"checkpoint checkpoints/{rule}.json {problem}; it is ignored and the rule plans as "
                                  "on a first run (FIRST_RUN_LOOKBACK); the next successful tick rewrites it")

    if checkpoint.rule != rule:
        raise tampered(f"names rule {checkpoint.rule[:80]!r}, not {rule!r}")
    end = as_utc(checkpoint.end)
    if end > as_utc(now) + CLOCK_SKEW:
        raise tampered(f"ends at {format_utc(end)}, after this function's clock {format_utc(now)} "
                       f"(+{format_duration(CLOCK_SKEW)})")
    window = name_window(checkpoint.job_name, end)
    if window is None or timer_job_name(job_name_prefix, rule, window) != checkpoint.job_name:
        raise tampered(f"names job {checkpoint.job_name[:160]!r}, which is not this rule's name for a window ending "
                       f"at {format_utc(end)}")
    if checkpoint.lease_id is not None and not checkpoint.lease_id.startswith(f"{rule}@"):
        raise tampered(f"names claim {checkpoint.lease_id[:160]!r}, not one of rule {rule!r}")
    if not is_batch_job_id(checkpoint.job_id):
        raise tampered(f"names job id {checkpoint.job_id[:80]!r}, which is not a CI job id")
    job = client.get_job(checkpoint.job_id)
    if job is None:
        raise tampered(f"names job {checkpoint.job_id}, which CI does not have")
    interval = job.Operation.get("TimeInterval")
    interval = interval if isinstance(interval, dict) else {}
    found = (job.Name, _ci_time(interval.get("Start")), _ci_time(interval.get("End")))
    if found != (checkpoint.job_name, window.start, end):
        raise tampered(f"names job {checkpoint.job_id}, which CI holds as {job.Name[:160]!r} over "
                       f"[{_shown(found[1])}, {_shown(found[2])}), not {checkpoint.job_name!r} over "
                       f"[{_shown(window.start)}, {format_utc(end)})")


def _ci_time(value: object) -> Optional[datetime]:
    try:
        return parse_ci_time(str(value)) if value else None
    except ValueError:
        return None


def _shown(moment: Optional[datetime]) -> str:
    return format_utc(moment) if moment else "-"


def lease_problem(lease: Lease, lease_id: str, key: str, now: datetime) -> str:
    """Why claim file `key` of claim `lease_id` cannot be one our runs wrote ('' if it can); needs no rule."""
    match = _GENERATION.search(key)
    if lease.lease_id != lease_id:
        return f"holds lease_id {lease.lease_id[:160]!r} in the folder of {lease_id[:160]!r}"
    if match and lease.generation != int(match.group(1)):
        return f"holds generation {lease.generation} in file g{match.group(1)}"
    if as_utc(lease.expires_at) > as_utc(now) + MAX_LEASE_TTL + CLOCK_SKEW:
        return (f"expires at {format_utc(lease.expires_at)}, later than any claim lasts (the clock "
                f"{format_utc(now)} + {format_duration(MAX_LEASE_TTL)})")
    return ""


class StateStore:
    """Checkpoints and leases as small JSON objects under STATE_PREFIX."""

    def __init__(self, client: CiClient, prefix: str, clock: Callable[[], datetime]):
        self.client = client
        self.prefix = prefix
        self.clock = clock
        self.tampered: List[TamperedStateError] = []  # state objects this run ignored, for its result
        self._checked: Dict[Checkpoint, Optional[TamperedStateError]] = {}  # one CI lookup per checkpoint per run
        self._older: Dict[Tuple[str, int], List[str]] = {}  # claim files listed below a generation we wrote

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

    def read_checked_checkpoint(self, rule: str, job_name_prefix: str) -> Optional[Checkpoint]:
        """The rule's checkpoint if it passes check_checkpoint; a tampered one is noted and read as none.

        So is an unreadable one: our runs write it whole in one PUT, so only another writer leaves it unreadable,
        and refusing on it would let that writer stop the rule for good."""
        try:
            checkpoint = self.read_checkpoint(rule)
        except StateError:
            key = self._checkpoint_key(rule)
            if not any(key in str(e) for e in self.tampered):
                self._note_tampered(TamperedStateError(
                    f"checkpoint {key} is unreadable (not the JSON our runs write whole); it is ignored and the rule "
                    "plans as on a first run (FIRST_RUN_LOOKBACK); the next successful tick rewrites it"), key=key)
            return None
        if checkpoint is None:
            return None
        if checkpoint not in self._checked:
            try:
                check_checkpoint(self.client, checkpoint, rule, job_name_prefix, self.clock())
                self._checked[checkpoint] = None
            except TamperedStateError as exc:
                self._checked[checkpoint] = exc
                self._note_tampered(exc, key=self._checkpoint_key(rule))
        return None if self._checked[checkpoint] is not None else checkpoint

    def _note_tampered(self, error: TamperedStateError, key: str) -> None:
        self.tampered.append(error)
        logs.log("state_tampered", key=key, error=str(error))

    def write_checkpoint(self, checkpoint: Checkpoint) -> None:
        self.client.put_object(self._checkpoint_key(checkpoint.rule),
                               checkpoint.model_dump_json().encode("utf-8"), "application/json")

    def acquire(self, proposal: Lease, ttl: timedelta, check: Optional[LeaseCheck] = None) -> Lease:
        """Claim proposal.lease_id, or take over an expired claim (keeping its window); raises LeaseHeldError.

        A claim file that fails lease_problem or `check` (the caller's rule for its window) is tampered: deleted,
        noted, never obeyed (neither its expiry nor its window), as if it were not there."""
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
        keys, current = self._drop_tampered(proposal.lease_id, keys, check)
        if keys and current is None and self._released(keys[-1]):
            # Listed, then gone (or gone and claimed anew): its holder released it a moment ago. Taking it over on
            # that stale listing would let the run that claims the free g000000 (and lists only that) hold it too.
            raise LeaseHeldError(f"lease {proposal.lease_id} was released by another run a moment ago; this run "
                                 "stops so the same work is not done twice, and SCF's retry will pick it up")
        if keys:
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
        self._older[(lease.lease_id, generation)] = keys
        return lease

    def _drop_tampered(self, lease_id: str, keys: List[str],
                       check: Optional[LeaseCheck]) -> Tuple[List[str], Optional[Lease]]:
        """Delete tampered claim files from the newest down to the first one our runs can have written.

        Returns the files left and the newest one's lease (None when it is unreadable: as before, lapsed and not
        reused). One GET per file read, as before when nothing is tampered."""
        while keys:
            lease = self._read_lease(keys[-1])
            if lease is None:
                return keys, None
            now = as_utc(self.clock())
            problem = lease_problem(lease, lease_id, keys[-1], now) or (check(lease, now) if check else "")
            if not problem:
                return keys, lease
            self._note_tampered(TamperedStateError(
                f"claim {keys[-1]} {problem}; it is deleted and ignored, never taken over"), key=keys[-1])
            self.client.delete_object(keys[-1])
            keys = keys[:-1]
        return keys, None

    def _claim_files(self, lease_id: str) -> List[str]:
        """The claim's generation files, oldest first (one listing)."""
        return sorted(k for k in self.client.list_keys(self._lease_dir(lease_id)) if _GENERATION.search(k))

    def _released(self, key: str) -> bool:
        """Whether a claim file that read as none a moment ago is gone or now a claim (not one unreadable file)."""
        raw = self.client.get_object(key)
        try:
            return raw is None or bool(Lease.model_validate_json(raw))
        except ValidationError:
            return False

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

        Only generations up to ours: a newer one belongs to a run that took over and may still be working. The older
        ones are those listed when we claimed (a forged g999999 never makes this a million deletes)."""
        older = self._older.pop((lease.lease_id, lease.generation), None)
        self.client.delete_object(self._lease_key(lease.lease_id, lease.generation))
        if older is None:
            older = [self._lease_key(lease.lease_id, g) for g in range(lease.generation - 1, -1, -1)]
        for key in sorted(set(older), reverse=True):
            if key != self._lease_key(lease.lease_id, lease.generation):
                self.client.delete_object(key)

    def clear_expired(self, lease_id: str) -> int:
        """Delete a claim a killed run left behind, if it has lapsed; returns how many objects went.

        Older generations always lapsed before a newer one was written, so the newest decides for all."""
        listed = self._claim_files(lease_id)
        if not listed:
            return 0
        keys, newest = self._drop_tampered(lease_id, listed, None)
        if keys:
            if newest is not None and as_utc(newest.expires_at) > as_utc(self.clock()):
                return len(listed) - len(keys)  # a live run holds it; it releases the claim itself
        for key in reversed(keys):
            self.client.delete_object(key)
        logs.log("lease_cleared", lease_id=lease_id, objects=len(listed))
        return len(listed)

    @contextmanager
    def holding(self, proposal: Lease, ttl: timedelta, check: Optional[LeaseCheck] = None) -> Iterator[Lease]:
        """Acquire; release when the block ends normally; abandon (keeping the window) when it raises.

        A JobMismatchError releases instead: its window can never be finished as claimed, so a takeover of it would
        fail the same way on every later tick."""
        lease = self.acquire(proposal, ttl, check)
        try:
            yield lease
        except JobMismatchError:
            self.release(lease)
            raise
        except BaseException:
            try:
                self.abandon(lease)
            except AppError as exc:  # the lease then simply expires; the original error matters more
                logs.log_error("lease_abandon_failed", exc, lease_id=lease.lease_id)
            raise
        self.release(lease)
