"""Timer ticks: one job per window of a rule, the checkpoint moved only after the job exists."""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, List, Optional, Tuple

from lib import logs
from lib.client import JobDetail
from lib.config import Settings
from lib.errors import AppError, JobMismatchError, PlanError, TamperedStateError
from lib.events import TimerEvent
from lib.jobs import JobBody, JobInput, build_job_body, manifest_lines, object_url, timer_job_name
from lib.plans import HeldPlan, PlanSource, PlanStore, plan_id_of
from lib.review import ReviewStore
from lib.spend import Count, Estimate
from lib.state import Checkpoint, Lease, StateStore
from lib.submit.ensure import describe_input, ensure_job, find_live_job, job_differences
from lib.submit.gate import gate, held_note
from lib.submit.run import Deps, HeldJob, JobRef, SubmitResult, check_safety, job_ref, lease_ttl
from lib.submit.uploads import UploadPlan
from lib.windows import CLOCK_SKEW, Window, as_utc, compact, format_ci_time, format_duration, format_utc

# A run re-plans when the checkpoint moved between its plan and its claim; more than twice in a row means a storm.
REPLANS = 3

# A first-run claim is taken over within a tick or two of the run that died; one ending longer before the tick's
# Time than this is not finished as stored: a forged one could aim the first job, and so the checkpoint, at any old
# hour, and the next tick would re-scan everything since.
FIRST_CLAIM_HORIZON = timedelta(days=1)
# Declined windows followed from the checkpoint in one tick; more means something keeps declining every window.
DECISIONS_FOLLOWED = 20


def rule_of(settings: Settings, event: TimerEvent) -> str:
    return settings.rule_name or event.trigger_name


def plan_timer_window(settings: Settings, end: datetime, checkpoint: Optional[Checkpoint],
                      after: Optional[datetime] = None) -> Optional[Window]:
    """The window a tick at `end` covers; None when an earlier run already covered it.

    `after`: where an incremental rule goes on from when the operator declined the windows after its checkpoint."""
    end = as_utc(end)
    kind = settings.window.kind
    if kind == "all":
        return Window(None, end)
    if kind == "lookback":
        assert settings.window.lookback is not None
        return Window(end - settings.window.lookback, end)
    if after is not None:
        start = as_utc(after)
    else:
        start = as_utc(checkpoint.end) if checkpoint else end - settings.first_run_lookback
    if start >= end:
        return None
    return Window(start, end)


def timer_body(settings: Settings, rule: str, window: Window) -> JobBody:
    name = timer_job_name(settings.job_name_prefix, rule, window)
    return build_job_body(settings, name, JobInput(Prefix=settings.input_prefix), window)


def window_claim(rule: str, checkpoint: Optional[Checkpoint], after: Optional[datetime] = None) -> str:
    """The claim on the window that starts at the checkpoint (or where declined windows end): every run planning
    from it contends for this one, and a plan held for that window is found by it."""
    if after is not None:
        return f"{rule}@{compact(after)}"
    return f"{rule}@{compact(checkpoint.end) if checkpoint else 'first'}"


def _listing_method(settings: Settings, calls: int) -> str:
    prefix = "the whole bucket" if settings.whole_bucket else settings.input_prefix
    return f"listing {prefix} in the window ({calls} listing request{'s' * (calls != 1)})"


# The folder a window's UrlFile manifest is written to (beside the uploads' manifests, under their lifecycle rule).
WINDOW_MANIFESTS = "manifests/window-"


@dataclass(frozen=True)
class WindowJob:
    """What a window sends: the Prefix body, or a UrlFile body and its manifest when reviewed images are left out."""

    body: Optional[JobBody]  # None: every object the window lists was reviewed, so there is nothing to send
    count: Count
    manifest: Optional[UploadPlan] = None  # a UrlFile job: written and sent as the upload path sends its own
    left_out: Tuple[str, ...] = ()  # the reviewed keys left out
    note: str = ""  # what the result, the log and the dry run say about reviewed images


def _digest(text: str, size: int) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:size]


def window_manifests(settings: Settings) -> str:
    """Where this rule's window manifests start: the folder and INPUT_PREFIX's digest, so a job found by name whose
    UrlFile another prefix's run wrote is never taken for this prefix's window."""
    return f"{settings.state_prefix}{WINDOW_MANIFESTS}{_digest(settings.input_prefix, 8)}-"


def window_manifest_key(settings: Settings, name: str, keys: List[str]) -> str:
    """Named after the window's job and exactly its keys: a rerun that lists the same objects writes the same bytes
    to the same key, so it builds the same body (and finds the job by it); other objects, another key."""
    digest = _digest("\n".join([name, *keys]), 20)
    return f"{window_manifests(settings)}{digest}.txt"


def window_job(settings: Settings, deps: Deps, rule: str, window: Window,
               tampered: Optional[list] = None) -> WindowJob:
    """The window's job, from the one listing the count makes anyway and one listing of the reviewed records.

    A Prefix job cannot leave an object out, so a window whose listing finds a reviewed (key, ETag) is sent as a
    UrlFile of its other objects; a window too big to list whole stays a Prefix job and says reviewed images in it
    may be inspected again. `tampered` collects the review records that failed their checks (they exclude nothing)."""
    counted = deps.client.count_objects(settings.input_prefix, window.start, window.end, settings.count_limit,
                                        etags=True)
    method = _listing_method(settings, counted.calls)
    body = timer_body(settings, rule, window)
    if not counted.complete:
        return WindowJob(body, Count(objects=counted.objects, complete=False, method=method), note=(
            f"the window holds more than COUNT_LIMIT={settings.count_limit} objects, too many to list, so it is sent "
            "as a Prefix job, which cannot leave reviewed images out: any in it may be inspected (and acted on) "
            "again"))
    reviews = ReviewStore(deps.client, settings.state_prefix, deps.clock)
    split = reviews.split(counted.listed or (), lambda key: (deps.client.head_object(key) or {}).get("ETag"))
    if tampered is not None:
        tampered.extend(e for e in reviews.tampered if e not in tampered)
    if not split.excluded:
        return WindowJob(body, Count(objects=counted.objects, method=method))
    left = f"{len(split.excluded)} reviewed image{'s' * (len(split.excluded) != 1)} left out"
    count = Count(objects=len(split.kept), method=f"{method}; {left}")
    if not split.kept:
        return WindowJob(None, count, left_out=tuple(split.excluded), note=(
            f"every object in the window is a reviewed image ({left}); no job was sent and the checkpoint stays, so "
            "the next window starts where this one did"))
    key = window_manifest_key(settings, body.Name, split.kept)
    url = object_url(settings.bucket, settings.region, key)
    manifest = UploadPlan(body=build_job_body(settings, body.Name, JobInput(UrlFile=url), window),
                          described=f"UrlFile={url} ({len(split.kept)} objects of the window, {left})",
                          manifest_key=key, manifest_text=manifest_lines(settings.bucket, settings.region, split.kept))
    return WindowJob(manifest.body, count, manifest, tuple(split.excluded),
                     note=f"{left}: the window is sent as a UrlFile of its {len(split.kept)} other objects")


def as_prefix_body(settings: Settings, body: JobBody) -> JobBody:
    """A window's UrlFile body as the Prefix body it stands for (same name, window and operation); others as they are."""
    url = body.Input.UrlFile
    if url is None or not url.startswith(object_url(settings.bucket, settings.region, window_manifests(settings))):
        return body
    return body.model_copy(update={"Input": JobInput(Prefix=settings.input_prefix)})


def timer_source(settings: Settings, rule: str, claim: str, window: Window) -> PlanSource:
    return PlanSource(kind="timer", claim=claim, rule=rule, window_start=window.start, window_end=window.end)


def held_result(rule: str, plan: HeldPlan, note: str = "") -> SubmitResult:
    """A tick that sent nothing because its window's job is held (or waits for a decision on it)."""
    line = "; ".join(n for n in (note, held_note(plan)) if n)
    logs.log("timer_held", rule=rule, plan_id=plan.plan_id, job_name=plan.body.Name, status=plan.status)
    return SubmitResult(trigger="timer", rule=rule, held=[HeldJob.of(plan)], note=line)


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
            result = _lookback_job(settings, deps, rule, window, body)
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
        after, waiting = after_decisions(settings, deps, rule, checkpoint, store, event.time)
        if waiting is not None:
            return held_result(rule, waiting, "the window after the checkpoint waits for a decision; nothing new "
                                              "was planned")
        window = plan_timer_window(settings, event.time, checkpoint, after)
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
        proposal = _proposal(deps, window_claim(rule, checkpoint, after), window, body)
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
    job = window_job(settings, deps, rule, window, store.tampered)
    if job.body is None:
        return _nothing_to_send(rule, window, job)
    checked = gate(settings, deps, job.body, job.count, timer_source(settings, rule, lease.lease_id, window))
    if checked.plan is not None:
        return held_result(rule, checked.plan, job.note)
    ref = _send_window(settings, deps, job, window, checked.estimate)
    store.write_checkpoint(Checkpoint(rule=rule, end=window.end, job_id=ref.job_id, job_name=ref.name,
                                      lease_id=lease.lease_id))
    return _timer_result(rule, ref, job)


def _lookback_job(settings: Settings, deps: Deps, rule: str, window: Window, body: JobBody) -> SubmitResult:
    """A rule without a checkpoint (WINDOW=all or a duration): one plan per rule, renewed once decided."""
    job = window_job(settings, deps, rule, window)
    if job.body is None:
        return _nothing_to_send(rule, window, job)
    checked = gate(settings, deps, job.body, job.count,
                   timer_source(settings, rule, f"{rule}@{settings.window.kind}", window), renew=True)
    if checked.plan is not None:
        return held_result(rule, checked.plan, job.note)
    return _timer_result(rule, _send_window(settings, deps, job, window, checked.estimate), job)


def _send_window(settings: Settings, deps: Deps, job: WindowJob, window: Window,
                 estimate: Optional[Estimate]) -> JobRef:
    """The window's job, found by name or created once; a UrlFile's manifest first, as an upload writes its own."""
    assert job.body is not None
    try:
        return _ensure_window_job(settings, deps, job, window, estimate)
    except JobMismatchError:
        found = find_live_job(deps.client, job.body.Name, job.body.Type)
        if found is None or not _other_form_of(settings, found, job.body):
            raise
    # An earlier run of this window (killed before its checkpoint) listed it otherwise: a review recorded, or an object
    # changed, in between. That job is this window's, made the other way; a second one would scan the window twice.
    logs.log("timer_window_found_other_form", job_id=found.JobId, job_name=found.Name, input=describe_input(found),
             planned=_input_shown(job.body))
    return job_ref(found, False, describe_input(found), window, estimate)


def _other_form_of(settings: Settings, found: JobDetail, body: JobBody) -> bool:
    """Whether the found job is this window's job as another listing makes it: Prefix or one of our window UrlFiles."""
    if not job_differences(found, as_prefix_body(settings, body)):
        return True
    url = str(found.Input.get("UrlFile") or "").strip()
    ours = object_url(settings.bucket, settings.region, window_manifests(settings))
    return url.startswith(ours) and all(name.startswith("Input.") for name, _, _ in job_differences(found, body))


def _ensure_window_job(settings: Settings, deps: Deps, job: WindowJob, window: Window,
                       estimate: Optional[Estimate]) -> JobRef:
    assert job.body is not None
    if job.manifest is not None:
        from lib.submit.uploads import _send  # the upload path's manifest-then-job, shared rather than copied

        ref = _send(settings, deps, job.manifest)
        return ref.model_copy(update={"window_start": format_ci_time(window.start) if window.start else None,
                                      "window_end": format_ci_time(window.end), "estimate": estimate})
    # The result names the input CI holds for the job, never the settings': a job found by name is the one that
    # runs, whatever this run's INPUT_PREFIX says (issue 27).
    found, created = ensure_job(deps.client, job.body, deps.sleep)
    return job_ref(found, created, f"Prefix={settings.input_prefix}", window, estimate)


def _timer_result(rule: str, ref: JobRef, job: WindowJob) -> SubmitResult:
    objects = ref.estimate.count.objects if ref.estimate else None
    if job.manifest is None:
        logs.log("job_created" if ref.created else "job_found", rule=rule, job_id=ref.job_id, job_name=ref.name,
                 input=ref.input, window_start=ref.window_start, window_end=ref.window_end, objects=objects)
    else:  # the upload path's _send logged the job line; this one ties it to the rule and its window
        logs.log("timer_reviewed_left_out", rule=rule, job_id=ref.job_id, job_name=ref.name,
                 window_start=ref.window_start, window_end=ref.window_end, objects=objects, left_out=len(job.left_out))
    if job.note and job.manifest is None:
        logs.log("timer_window_unlisted", rule=rule, job_id=ref.job_id, reason=job.note)
    return SubmitResult(trigger="timer", rule=rule, jobs=[ref], note=job.note)


def _nothing_to_send(rule: str, window: Window, job: WindowJob) -> SubmitResult:
    start = format_ci_time(window.start) if window.start else None
    logs.log("timer_skip", rule=rule, reason=job.note, window_start=start, window_end=format_ci_time(window.end),
             left_out=len(job.left_out))
    return SubmitResult(trigger="timer", rule=rule, note=job.note)


def after_decisions(settings: Settings, deps: Deps, rule: str, checkpoint: Optional[Checkpoint],
                    store: StateStore, tick: datetime, *, record: bool = True
                    ) -> Tuple[Optional[datetime], Optional[HeldPlan]]:
    """(where the rule goes on when the operator declined the windows after its checkpoint, a plan still waiting).

    A plan read back is input: a decided one is followed only if it is this rule's window from exactly where the
    chain stands and ends by the clock; otherwise it is named as tampered and the rule plans from the checkpoint.
    `record` False (a dry run): an expired plan is followed but not marked."""
    plans = PlanStore(deps.client, settings.state_prefix, deps.clock)
    after: Optional[datetime] = None
    start = as_utc(checkpoint.end) if checkpoint else None
    for _ in range(DECISIONS_FOLLOWED):
        plan = plans.get(plan_id_of("timer", window_claim(rule, checkpoint, after)))
        store.tampered.extend(e for e in plans.tampered if e not in store.tampered)
        if plan is None or plan.status == "confirmed":
            return after, None
        expiring = plan.expired(deps.clock(), settings.plan_expiry_days)
        if expiring:
            plan = plans.decide(plan, "expired") if record else plan.model_copy(update={"status": "expired"})
            logs.log("plan_expired", plan_id=plan.plan_id, job_name=plan.body.Name)
        problem = _decided_window_problem(settings, rule, plan, start, deps.clock(), tick)
        if plan.status == "pending" and not problem:
            return after, plan
        if not problem and not expiring and not plans.recorded(plan):
            problem = f"reads {plan.status}, but no decision of it is recorded under {plans.history}"
        if problem:
            error = TamperedStateError(f"plan {plan.plan_id} {problem}; it is ignored and the rule plans from its "
                                       "checkpoint")
            store.tampered.append(error)
            logs.log("state_tampered", key=plans.key(plan.plan_id), error=str(error))
            return after, None
        assert plan.source.window_end is not None
        after = start = as_utc(plan.source.window_end)
        logs.log("timer_declined_window", rule=rule, plan_id=plan.plan_id, status=plan.status,
                 window_end=format_utc(after))
    return after, None


def _decided_window_problem(settings: Settings, rule: str, plan: HeldPlan, start: Optional[datetime],
                            now: datetime, tick: datetime) -> str:
    source = plan.source
    if source.rule != rule or source.window_start is None or source.window_end is None:
        return f"is not a window of rule {rule!r}"
    begin, end = as_utc(source.window_start), as_utc(source.window_end)
    if start is not None and begin != start:
        return f"covers a window from {format_utc(begin)}, not from {format_utc(start)} where the rule stands"
    if start is None and end - begin != settings.first_run_lookback:
        return f"covers a first window of {format_duration(end - begin)}, not FIRST_RUN_LOOKBACK"
    if not begin < end <= as_utc(now) + CLOCK_SKEW:
        return f"covers a window ending at {format_utc(end)}, not before this function's clock {format_utc(now)}"
    if end > as_utc(tick):
        return f"covers a window ending at {format_utc(end)}, after this tick's Time {format_utc(tick)}"
    if as_prefix_body(settings, plan.body) != timer_body(settings, rule, Window(begin, end)):
        return "holds a body that is not this rule's job for its window"
    return ""


def confirm_held(settings: Settings, deps: Deps, plan: HeldPlan, store: StateStore,
                 count: Callable[[], None]) -> JobRef:
    """Send a held timer window's job (under its window's claim) and move the checkpoint to its end."""
    source = plan.source
    if source.rule is None or source.window_end is None:
        raise PlanError(f"plan {plan.plan_id} names no rule window; decline it")
    rule, window = source.rule, Window(source.window_start, source.window_end)
    job, problem = rebuilt_window_job(settings, deps, plan, store.tampered)
    if problem:
        raise PlanError(f"plan {plan.plan_id}: {problem}")
    assert job.body is not None
    body = job.body
    if source.claim in (f"{rule}@lookback", f"{rule}@all"):
        with store.holding(_proposal(deps, body.Name, window, body), lease_ttl(settings, deps.time_limit)):
            count()
            return _send_window(settings, deps, job, window, plan.estimate)
    proposal = _proposal(deps, source.claim, window, body)
    with store.holding(proposal, lease_ttl(settings, deps.time_limit), timer_claim_check(settings, rule, window.end)):
        checkpoint = store.read_checked_checkpoint(rule, settings.job_name_prefix)
        if checkpoint is not None and as_utc(checkpoint.end) > as_utc(window.start or window.end) and \
                checkpoint.job_name != body.Name:
            raise PlanError(f"plan {plan.plan_id}: rule {rule}'s checkpoint already stands at "
                            f"{format_utc(checkpoint.end)} (job {checkpoint.job_id}), past the held window's start; "
                            "sending it would scan objects twice. Decline it")
        count()
        ref = _send_window(settings, deps, job, window, plan.estimate)
        store.write_checkpoint(Checkpoint(rule=rule, end=window.end, job_id=ref.job_id, job_name=ref.name,
                                          lease_id=source.claim))
    logs.log("job_created" if ref.created else "job_found", rule=rule, job_id=ref.job_id, job_name=ref.name,
             plan_id=plan.plan_id)
    return ref


def rebuilt_window_job(settings: Settings, deps: Deps, plan: HeldPlan,
                       tampered: Optional[list] = None) -> Tuple[WindowJob, str]:
    """The held window's job as a run now builds it (its objects listed again, the reviewed ones left out), and why
    it is not the body held ('' if it is): a confirm sends only what the window makes now."""
    from lib.submit.confirm import held_body_problem  # the operator's confirm only

    source = plan.source
    if source.rule is None or source.window_end is None:
        raise PlanError(f"plan {plan.plan_id} names no rule window; decline it")
    job = window_job(settings, deps, source.rule, Window(source.window_start, source.window_end), tampered)
    rebuilt = job.body or timer_body(settings, source.rule, Window(source.window_start, source.window_end))
    problem = held_body_problem(plan, rebuilt)
    if job.body is None:
        problem = (f"every object in its window is now a reviewed image ({job.count.method}), so there is nothing to "
                   "send; decline it")
    elif problem and as_prefix_body(settings, plan.body) == as_prefix_body(settings, rebuilt):
        problem = (f"its window's objects or reviewed images changed since it was held: it holds "
                   f"{_input_shown(plan.body)}, and the window now makes {_input_shown(rebuilt)} "
                   f"({job.count.shown()}); nothing was sent. Decline it (its objects are then not inspected by this "
                   "rule), or let it expire")
    return job, problem


def _input_shown(body: JobBody) -> str:
    return f"UrlFile={body.Input.UrlFile}" if body.Input.UrlFile else f"Prefix={body.Input.Prefix}"
