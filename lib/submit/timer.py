"""Timer ticks: one job per window of a rule, the checkpoint moved only after the job exists."""

from datetime import datetime, timedelta
from typing import Callable, Optional

from lib import logs
from lib.client import JobDetail
from lib.config import Settings
from lib.errors import AppError
from lib.events import TimerEvent
from lib.jobs import JobBody, JobInput, build_job_body, timer_job_name
from lib.state import Checkpoint, Lease, StateStore
from lib.submit.ensure import ensure_job
from lib.submit.run import Deps, SubmitResult, check_safety, job_ref, lease_ttl
from lib.windows import CLOCK_SKEW, Window, as_utc, compact, format_ci_time, format_duration, format_utc

# A run re-plans when the checkpoint moved between its plan and its claim; more than twice in a row means a storm.
REPLANS = 3

# A first-run claim is taken over within a tick or two of the run that died; one ending longer before the tick's
# Time than this is not finished as stored: a forged one could aim the first job, and so the checkpoint, at any old
# hour, and the next tick would re-scan everything since.
FIRST_CLAIM_HORIZON = timedelta(days=1)


def rule_of(settings: Settings, event: TimerEvent) -> str:
    return settings.rule_name or event.trigger_name


def plan_timer_window(settings: Settings, end: datetime, checkpoint: Optional[Checkpoint]) -> Optional[Window]:
    """The window a tick at `end` covers; None when an earlier run already covered it."""
    end = as_utc(end)
    kind = settings.window.kind
    if kind == "all":
        return Window(None, end)
    if kind == "lookback":
        assert settings.window.lookback is not None
        return Window(end - settings.window.lookback, end)
    start = as_utc(checkpoint.end) if checkpoint else end - settings.first_run_lookback
    if start >= end:
        return None
    return Window(start, end)


def timer_body(settings: Settings, rule: str, window: Window) -> JobBody:
    name = timer_job_name(settings.job_name_prefix, rule, window)
    return build_job_body(settings, name, JobInput(Prefix=settings.input_prefix), window)


def window_claim(rule: str, checkpoint: Optional[Checkpoint]) -> str:
    """The claim on the window that starts at the checkpoint: every run planning from it contends for this one."""
    return f"{rule}@{compact(checkpoint.end) if checkpoint else 'first'}"


def submit_timer(settings: Settings, event: TimerEvent, deps: Deps) -> SubmitResult:
    """The window's job; in coalescing mode also a flush pass, which bounds how long a quiet bucket's uploads wait.

    One failing does not stop the other; the first failure is raised once both ran, so SCF retries the tick."""
    rule_run = window_timer
    if settings.input_source == "inventory":
        from lib.submit.inventory import inventory_timer  # inventory rules only: a prefix tick never pays its import

        rule_run = inventory_timer
    if not settings.upload_batch_seconds:
        return rule_run(settings, event, deps)
    failure: Optional[AppError] = None
    try:
        result = rule_run(settings, event, deps)
    except AppError as exc:
        failure, result = exc, SubmitResult(trigger="timer", rule=rule_of(settings, event))
    from lib.submit.coalesce import Flushed, flush  # coalescing mode only: a per-event run never pays its import

    try:
        batches = flush(settings, deps)
    except AppError as exc:
        logs.log_error("batch_flush_failed", exc)
        failure, batches = failure or exc, Flushed([], [])
    if failure is not None:
        raise failure
    note = "; ".join(n for n in (result.note, batches.note) if n)
    return result.model_copy(update={"jobs": result.jobs + batches.jobs, "held": result.held + batches.held,
                                     "note": note})


def future_time_refusal(event: TimerEvent, now: datetime) -> str:
    """Why a timer's Time cannot end a window ('' if it can): after this function's own clock plus CLOCK_SKEW.

    A window never ends in the future: a checkpoint there makes every real tick until then 'already covered'."""
    if as_utc(event.time) <= as_utc(now) + CLOCK_SKEW:
        return ""
    return (f"timer Time {format_utc(event.time)} is after this function's clock {format_utc(now)} "
            f"(+{format_duration(CLOCK_SKEW)} allowed skew); no window may end in the future, so nothing was "
            "submitted and no state moved. Fix: invoke with the tick's real Time (a UTC time no later than "
            f"{format_utc(as_utc(now) + CLOCK_SKEW)}), or correct the host clock")


def window_timer(settings: Settings, event: TimerEvent, deps: Deps) -> SubmitResult:
    """One job for the window ending at the tick's Time; the checkpoint moves only after the job exists.

    A Time after the function's clock is refused with a note (a clean skip: SCF retrying the same Time is pointless,
    and a manual `scf invoke` gets the reason as its result). State read back is checked, never obeyed as is:
    see incremental_timer."""
    check_safety(settings)
    rule = rule_of(settings, event)
    refusal = future_time_refusal(event, deps.clock())
    if refusal:
        logs.log("timer_refused", rule=rule, reason=refusal)
        return SubmitResult(trigger="timer", rule=rule, note=refusal)
    store = StateStore(deps.client, settings.state_prefix, deps.clock)
    if settings.window.kind != "incremental":
        window = plan_timer_window(settings, event.time, None)
        assert window is not None
        body = timer_body(settings, rule, window)
        with store.holding(_proposal(deps, body.Name, window, body), lease_ttl(settings, deps.time_limit)):
            result = _timer_result(settings, rule, window, *ensure_job(deps.client, body, deps.sleep))
    else:
        result = incremental_timer(settings, event, deps, rule, store)
    if store.tampered:
        ignored = "; ".join(str(e) for e in store.tampered[:3])
        result = result.model_copy(update={"note": "; ".join(n for n in (result.note, f"ignored: {ignored}") if n)})
    return result


def incremental_timer(settings: Settings, event: TimerEvent, deps: Deps, rule: str,
                      store: StateStore) -> SubmitResult:
    """The window from the checkpoint to the tick's Time, under the claim named after that checkpoint.

    A checkpoint that fails check_checkpoint (forged, or naming a job CI does not hold) is read as none: the rule
    plans as on a first run, [Time - FIRST_RUN_LOOKBACK, Time). Refusing instead would let one forged object stop
    the rule for good (the 2099 case); trusting it skips or rewinds windows. A first-run window is bounded by a
    setting the deployer chose, so a forger cannot force a larger re-scan than deleting the checkpoint already
    could; it can overlap windows already covered (objects inspected twice) or, after an outage longer than the
    look-back, leave the gap a first run leaves. The forged object is overwritten by the tick's own checkpoint."""
    checkpoint = store.read_checked_checkpoint(rule, settings.job_name_prefix)
    check = timer_claim_check(settings, rule, event.time)
    for replan in range(REPLANS):
        window = plan_timer_window(settings, event.time, checkpoint)
        if window is None:
            assert checkpoint is not None
            if checkpoint.lease_id:
                store.clear_expired(checkpoint.lease_id)  # the claim of a run killed before it released it
            note = f"window already covered up to {format_utc(checkpoint.end)} by job {checkpoint.job_id}"
            if replan:
                note = f"another run moved the checkpoint to {format_utc(checkpoint.end)} meanwhile; {note}"
            logs.log("timer_skip", rule=rule, reason=note)
            return SubmitResult(trigger="timer", rule=rule, note=note)
        body = timer_body(settings, rule, window)
        proposal = _proposal(deps, window_claim(rule, checkpoint), window, body)
        with store.holding(proposal, lease_ttl(settings, deps.time_limit), check) as lease:
            # Work from the state as it is now that the claim is ours: a run may have moved the checkpoint meanwhile.
            latest = store.read_checked_checkpoint(rule, settings.job_name_prefix)
            result = _timer_job(settings, store, deps, rule, lease, window, body) if latest == checkpoint else None
        if result is not None:
            if checkpoint is not None and checkpoint.lease_id:
                store.clear_expired(checkpoint.lease_id)  # the previous window's claim, if its run never released it
            return result
        # A stale claim: released on leaving the block (with any dead run's generations under it); plan again.
        logs.log("timer_replan", rule=rule, planned_from=format_ci_time(checkpoint.end) if checkpoint else None,
                 now_from=format_ci_time(latest.end) if latest else None)
        checkpoint = latest
    note = f"the checkpoint moved {REPLANS} times while this run planned; the next tick covers from it"
    logs.log("timer_skip", rule=rule, reason=note)
    return SubmitResult(trigger="timer", rule=rule, note=note)


def timer_claim_check(settings: Settings, rule: str, tick: datetime) -> Callable[[Lease, datetime], str]:
    """Why a stored window claim cannot be one our runs wrote for `rule` ('' if it can), as StateStore.acquire asks.

    A takeover finishes the stored window under the stored name, so both are derived again: the window starts at
    the checkpoint the claim is named after (a first claim spans FIRST_RUN_LOOKBACK), ends by the clock, and the
    name is this rule's name for it. A forged claim could otherwise aim the next job at any window."""
    def problem(lease: Lease, now: datetime) -> str:
        start, end = lease.window_start, lease.window_end
        if start is None or end is None or as_utc(start) >= as_utc(end):
            return "holds no window a timer claim has"
        start, end = as_utc(start), as_utc(end)
        named = lease.lease_id.split("@", 1)[-1]
        if named == "first":
            if end - start != settings.first_run_lookback:
                return (f"holds a first window of {format_duration(end - start)}, not FIRST_RUN_LOOKBACK "
                        f"{format_duration(settings.first_run_lookback)}")
            if end < as_utc(tick) - FIRST_CLAIM_HORIZON:
                return (f"holds a first window ending at {format_utc(end)}, more than "
                        f"{format_duration(FIRST_CLAIM_HORIZON)} before this tick's Time {format_utc(tick)}")
        elif named != compact(start):
            return f"holds a window starting at {format_utc(start)}, not at the checkpoint {named} it is named after"
        if end > as_utc(now) + CLOCK_SKEW:
            return f"holds a window ending at {format_utc(end)}, after this function's clock {format_utc(now)}"
        if lease.job_name != timer_job_name(settings.job_name_prefix, rule, Window(start, end)):
            return f"holds job name {lease.job_name[:160]!r}, not this rule's name for its window"
        return ""

    return problem


def _proposal(deps: Deps, lease_id: str, window: Window, body: JobBody) -> Lease:
    return Lease(lease_id=lease_id, owner=deps.owner, generation=0, expires_at=deps.clock(),
                 window_start=window.start, window_end=window.end, job_name=body.Name)


def _timer_job(settings: Settings, store: StateStore, deps: Deps, rule: str, lease: Lease, window: Window,
               body: JobBody) -> SubmitResult:
    if lease.job_name != body.Name:
        # Taking over a claim a failed run left: finish exactly its window so windows never overlap.
        window = Window(lease.window_start, lease.window_end or window.end)
        body = timer_body(settings, rule, window)
    job, created = ensure_job(deps.client, body, deps.sleep)
    store.write_checkpoint(Checkpoint(rule=rule, end=window.end, job_id=job.JobId, job_name=job.Name,
                                      lease_id=lease.lease_id))
    return _timer_result(settings, rule, window, job, created)


def _timer_result(settings: Settings, rule: str, window: Window, job: JobDetail, created: bool) -> SubmitResult:
    logs.log("job_created" if created else "job_found", rule=rule, job_id=job.JobId, job_name=job.Name,
             window_start=format_ci_time(window.start) if window.start else None,
             window_end=format_ci_time(window.end))
    return SubmitResult(trigger="timer", rule=rule, jobs=[job_ref(job, created, f"Prefix={settings.input_prefix}", window)])
