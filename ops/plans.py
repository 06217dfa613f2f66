"""`plans list|confirm|decline`, and what `submit --dry-run` says about the caps (issue 25): the jobs a cap held, the
operator's answer to each, and what the guard would decide for the job a tick would send now.

A plan is read back from the bucket, so it is input: lib.plans checks its id, and a confirm sends only the body its
path rebuilds (lib.submit.confirm). `plans list` and the dry run only read; nothing is written or sent."""
from __future__ import annotations

import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, Iterator, List, Optional, Tuple

from lib.config import Settings, load_settings, parse_timer_argument
from lib.errors import ConfigError, LeaseHeldError
from lib.escape import terminal
from lib.invocation import check_narrower, settings_for
from lib.jobs import JobBody
from lib.plans import HeldPlan, PlanStore, is_plan_id, plan_id_of
from lib.spend import Count, DayTotal, Estimate, SpendLedger, any_cap, cap_reason, estimate, utc_day
from lib.submit.confirm import confirm_plan, decline_plan
from lib.submit.run import Deps, JobRef, check_safety
from lib.windows import Window, as_utc, format_duration
from ops.cli import EXIT_OK, EXIT_PROBLEM, Cli, ProblemFound, UsageError, _with_credentials
from ops.jobview import show_ci_time, show_time, state_word

# A confirm's claims (the plan's, the window's) last this long plus lib.submit.run.LEASE_MARGIN: a confirm takes a
# few requests, and one killed at a terminal must not keep the rule's window claimed for the function's 15 minutes.
CONFIRM_SECONDS = 300.0
ARGUMENT_HINT = ("run the confirm with the settings the function had: the rule's timer argument as --argument "
                 "'{\"INPUT_PREFIX\": ...}' (as the trigger gives it) and the function's environment (--env-file); "
                 "or decline the plan")


# --- plans list ---------------------------------------------------------------------------------------------------

def shown_status(plan: HeldPlan, now: datetime, days: int) -> str:
    """The plan's status as it stands now: a pending plan past PLAN_EXPIRY_DAYS is expired (the next run marks it)."""
    return "expired" if plan.expired(now, days) else plan.status


def cost_text(est: Estimate) -> str:
    if est.cost is None:
        return "unpriced (a Workflow job, and PRICE_PER_1000_IMAGES is not set)"
    return est.cost_shown()


def body_input(body: JobBody) -> str:
    """`Prefix=uploads/`: the input the body sends (exactly one kind is set, lib.jobs.JobInput)."""
    for kind in ("Prefix", "Object", "UrlFile", "Manifest"):
        value = getattr(body.Input, kind)
        if value is not None:
            return f"{kind}={value}"
    return "-"


def body_window(body: JobBody, zone: str) -> str:
    interval = body.Operation.TimeInterval
    if interval is None:
        return "none: every object the input holds, whenever it was uploaded"
    return f"{show_ci_time(interval.Start, zone)} to {show_ci_time(interval.End, zone)}"


def body_kind(body: JobBody) -> str:
    operation = body.Operation
    if body.Type == "Workflow":
        ids = operation.WorkflowIds
        return f"Workflow {', '.join(ids) if isinstance(ids, tuple) else ids}"
    param = operation.JobParam.ImageInspect if operation.JobParam else None
    acts = f", AutoProcess {param.AutoProcess}, ProcessType {param.ProcessType}" if param else ""
    return f"{body.Type}, Tag {operation.Tag}{acts}"


def plan_lines(plan: HeldPlan, now: datetime, days: int, zone: str) -> List[str]:
    """One plan as the person reads it: what it would send, what it would cost, why it was held, and what became of it."""
    status = shown_status(plan, now, days)
    rule = f", rule {terminal(plan.source.rule)}" if plan.source.rule else ""
    lines = [f"plan {plan.plan_id}  {plan.source.kind}{rule}  {status}",
             f"  job        {terminal(plan.body.Name)}",
             f"  type       {terminal(body_kind(plan.body))}",
             f"  input      {terminal(body_input(plan.body))}",
             f"  window     {terminal(body_window(plan.body, zone))}",
             f"  count      {terminal(plan.count.shown())}",
             f"  estimate   {terminal(cost_text(plan.estimate))}",
             f"  held       {terminal(plan.reason)}",
             f"  held at    {show_time(plan.held_at, zone)}; expires {show_time(plan.expires_at(days), zone)} "
             f"(PLAN_EXPIRY_DAYS={days})"]
    if plan.decided_at is not None:
        job = f": job {terminal(plan.job_id)}" if plan.job_id else ""
        lines.append(f"  {status:<10} {show_time(plan.decided_at, zone)}{job}")
    return lines


def plan_json(plan: HeldPlan, now: datetime, days: int) -> Dict[str, Any]:
    return {"plan_id": plan.plan_id, "kind": plan.source.kind, "status": shown_status(plan, now, days),
            "job_name": plan.body.Name, "count": plan.count.model_dump(mode="json"),
            "estimate": plan.estimate.model_dump(mode="json"), "reason": plan.reason,
            "held_at": as_utc(plan.held_at).isoformat(), "expires_at": plan.expires_at(days).isoformat(),
            "decided_at": as_utc(plan.decided_at).isoformat() if plan.decided_at else None, "job_id": plan.job_id,
            "source": plan.source.model_dump(mode="json"), "body": plan.body.model_dump(mode="json")}


def cmd_list(cli: Cli) -> int:
    """Held plans waiting for a decision (--all: decided and expired ones too); exit 1 while any waits or one was
    refused (a state object under plans/ that is not a plan of ours)."""
    settings = cli.settings()
    now = as_utc(cli.clock())
    days = settings.plan_expiry_days
    store = PlanStore(cli.client(settings), settings.state_prefix, cli.clock)
    plans = store.list()
    waiting = [p for p in plans if shown_status(p, now, days) == "pending"]
    shown = plans if cli.args.all else waiting
    refused = [str(e) for e in store.tampered]
    if cli.args.json:
        cli.out_json({"plans": [plan_json(p, now, days) for p in shown], "waiting": len(waiting),
                      "decided": len(plans) - len(waiting), "expiry_days": days, "refused": refused})
        return EXIT_PROBLEM if waiting or refused else EXIT_OK
    blocks = ["\n".join(plan_lines(p, now, days, cli.zone)) + "\n" for p in shown]
    if waiting:
        footer = (f"{len(waiting)} plan{'s wait' if len(waiting) != 1 else ' waits'} for a decision: "
                  "`python -m ops plans confirm ID` sends its job once, whatever the caps say; "
                  "`python -m ops plans decline ID` drops it")
    else:
        footer = "no plan waits for a decision"
    decided = len(plans) - len(waiting)
    if decided and not cli.args.all:
        footer += f"; {decided} decided or expired (--all shows them)"
    footer += "".join(f"\nrefused: {terminal(r)}" for r in refused)
    cli.out("\n".join(blocks + [footer]))
    return EXIT_PROBLEM if waiting or refused else EXIT_OK


# --- plans confirm / decline --------------------------------------------------------------------------------------

def plan_argument(text: str) -> str:
    if not is_plan_id(text):
        raise UsageError(f"plan id {text[:80]!r} is not a plan id: 16 hex digits, as `plans list` shows them")
    return text


def _refuse_without_terminal(cli: Cli, verb: str, plan_id: str) -> None:
    """Asking needs a person: without a terminal on stdin and without --yes nothing is done (exit 2)."""
    if cli.args.yes or getattr(cli.stdin, "isatty", lambda: False)():
        return
    raise UsageError(f"plans {verb} {plan_id}: stdin is not a terminal, so nobody can answer the question; add --yes "
                     f"to {verb} without asking (`plans list` shows what the plan sends)")


@contextmanager
def busy(plan_id: str) -> Iterator[None]:
    """A claim held by someone else: say what that means at a terminal (the lib's words are for SCF's retries)."""
    try:
        yield
    except LeaseHeldError as exc:
        raise ProblemFound("busy", f"plan {plan_id}: this command sent nothing. Another confirm or decline of the "
                           "plan, or the rule's own run on its window, is under way, or one was killed and its claim "
                           f"has not lapsed yet ({exc})", "run it again in a few minutes; `python -m ops plans list "
                           "--all` shows what became of the plan", plan_id=plan_id) from None


def _read_plan(settings: Settings, deps: Deps, plan_id: str) -> HeldPlan:
    """The stored plan, checked as every plan read back is; none, or one that fails its checks, is exit 1."""
    store = PlanStore(deps.client, settings.state_prefix, deps.clock)
    plan = store.get(plan_id)
    if plan is not None:
        return plan
    if store.tampered:
        raise ProblemFound("plan_refused", f"{terminal(store.tampered[0])}", "none: it is not a plan our runs wrote, "
                           "so it is never confirmed or obeyed; `python -m ops plans list` shows the plans waiting", plan_id=plan_id)
    raise ProblemFound("not_found", f"no plan {plan_id} under {settings.state_prefix}plans/",
                       "`python -m ops plans list` shows the plans waiting, `plans list --all` the decided ones too",
                       plan_id=plan_id)


def _agreed(cli: Cli, question: str) -> bool:
    if cli.args.yes:
        return True
    cli.stderr.write(question)
    cli.stderr.flush()
    return cli.stdin.readline().strip().lower() in ("y", "yes")


def _deps(cli: Cli, settings: Settings) -> Deps:
    return Deps(client=cli.client(settings), clock=cli.clock, sleep=cli.sleep, owner=f"ops-{uuid.uuid4().hex[:8]}",
                time_limit=CONFIRM_SECONDS)


def _confirm_settings(cli: Cli) -> Settings:
    """As the function builds them: the environment, and the rule's timer argument over it (--argument)."""
    overrides = parse_timer_argument(cli.args.argument or "")
    settings = cli.settings(overrides or None)
    if overrides:
        check_narrower(load_settings(cli.environ), settings)
    check_safety(settings)
    return settings


def _body_problem(settings: Settings, deps: Deps, plan: HeldPlan) -> str:
    """A timer plan's body checked against what these settings build for its window now (listed again, reviewed
    images left out), before anyone is asked (its path checks again)."""
    source = plan.source
    if source.kind != "timer" or source.rule is None or source.window_end is None:
        return ""
    from lib.submit.timer import rebuilt_window_job

    return rebuilt_window_job(settings, deps, plan)[1]


def _ref_json(plan: HeldPlan, ref: JobRef, already: bool) -> Dict[str, Any]:
    return {"plan_id": plan.plan_id, "status": "confirmed", "job_id": ref.job_id, "job_name": ref.name,
            "state": ref.state, "created": ref.created, "already": already,
            "estimate": plan.estimate.model_dump(mode="json")}


def cmd_confirm(cli: Cli) -> int:
    """Show what the plan sends, ask, then send exactly its body once (lib.submit.confirm.confirm_plan)."""
    plan_id = plan_argument(cli.args.plan_id)
    _refuse_without_terminal(cli, "confirm", plan_id)
    settings = _confirm_settings(cli)
    deps = _deps(cli, settings)
    plan = _read_plan(settings, deps, plan_id)
    now = as_utc(cli.clock())
    if plan.status == "confirmed":
        return _confirmed_already(cli, deps, plan)
    if shown_status(plan, now, settings.plan_expiry_days) != "pending":
        raise ProblemFound("plan_decided", f"plan {plan_id} {_decided(plan, now, settings.plan_expiry_days, cli.zone)}; "
                           "nothing was sent", "nothing to do: a confirm cannot send it any more, and the rule's runs go on "
                           "past it", plan_id=plan_id, status=shown_status(plan, now, settings.plan_expiry_days))
    problem = _body_problem(settings, deps, plan)
    if problem:
        raise ProblemFound("plan_body", f"plan {plan_id}: {problem}; nothing was sent", ARGUMENT_HINT, plan_id=plan_id)
    today = SpendLedger(deps.client, settings, deps.clock, deps.sleep).total(utc_day(now))
    cli.say("\n".join(plan_lines(plan, now, settings.plan_expiry_days, cli.zone) + [
        f"  caps       a confirm overrides them: the job is sent whatever they say, and its "
        f"{plan.count.objects:,} objects count toward {today.day} (UTC), which has {today.objects:,} objects "
        f"(≈ {today.cost} {today.currency}) so far"]))
    if not _agreed(cli, f"Send job {terminal(plan.body.Name)} now? [y/N] "):
        raise ProblemFound("declined", "not confirmed; nothing was sent", "answer y, or pass --yes", plan_id=plan_id)
    with busy(plan_id):
        ref = confirm_plan(settings, deps, plan_id)
    if cli.args.json:
        cli.out_json(_ref_json(plan, ref, not ref.created))
    else:
        how = "created" if ref.created else "found by its name (an earlier confirm had sent it)"
        cli.out(f"confirmed plan {plan_id}: job {terminal(ref.job_id)} {terminal(ref.name)}, {how}, "
                f"{terminal(state_word(ref.state))}")
    return EXIT_OK


def _decided(plan: HeldPlan, now: datetime, days: int, zone: str) -> str:
    if plan.status == "pending":
        return f"expired at {show_time(plan.expires_at(days), zone)} (PLAN_EXPIRY_DAYS={days}), undecided"
    return f"was {plan.status} at {show_time(plan.decided_at, zone)}"


def _confirmed_already(cli: Cli, deps: Deps, plan: HeldPlan) -> int:
    """A second confirm: the same job, nothing sent again (exit 1 only if CI no longer holds the job)."""
    job = deps.client.get_job(plan.job_id) if plan.job_id else None
    if job is None:
        raise ProblemFound("not_found", f"plan {plan.plan_id} was confirmed at {show_time(plan.decided_at, cli.zone)} "
                           f"as job {terminal(plan.job_id)}, which CI no longer holds; nothing was sent",
                           "`python -m ops jobs list --name NAME` with the plan's job name finds it if it exists",
                           plan_id=plan.plan_id)
    ref = JobRef(job_id=job.JobId, name=job.Name, state=job.State, created=False, input=body_input(plan.body))
    if cli.args.json:
        cli.out_json(_ref_json(plan, ref, True))
    else:
        cli.out(f"plan {plan.plan_id} was confirmed already at {show_time(plan.decided_at, cli.zone)}: job "
                f"{terminal(job.JobId)} {terminal(job.Name)}, {terminal(state_word(job.State))}; nothing was sent again")
    return EXIT_OK


def cmd_decline(cli: Cli) -> int:
    """Show what the plan would have sent, ask, then drop it: its job is never sent and its rule goes on past it."""
    plan_id = plan_argument(cli.args.plan_id)
    _refuse_without_terminal(cli, "decline", plan_id)
    settings = cli.settings()
    deps = _deps(cli, settings)
    plan = _read_plan(settings, deps, plan_id)
    now = as_utc(cli.clock())
    if plan.status == "confirmed":
        raise ProblemFound("plan_decided", f"plan {plan_id} was confirmed at {show_time(plan.decided_at, cli.zone)} as "
                           f"job {terminal(plan.job_id)}; nothing to decline", "to stop the job: python -m ops jobs "
                           f"cancel {terminal(plan.job_id)}", plan_id=plan_id, status="confirmed")
    if plan.status != "pending":
        return _declined_output(cli, plan, f"plan {plan_id} {_decided(plan, now, settings.plan_expiry_days, cli.zone)} "
                                           "already; its job was never sent")
    cli.say("\n".join(plan_lines(plan, now, settings.plan_expiry_days, cli.zone)))
    if not _agreed(cli, f"Drop plan {plan_id}: job {terminal(plan.body.Name)} is never sent? [y/N] "):
        raise ProblemFound("declined", "not declined; the plan still waits", "answer y, or pass --yes", plan_id=plan_id)
    with busy(plan_id):
        declined = decline_plan(settings, deps, plan_id)
    return _declined_output(cli, declined, f"declined plan {plan_id}: job {terminal(declined.body.Name)} will not be "
                                           f"sent{_goes_on(declined, cli.zone)}")


def _goes_on(plan: HeldPlan, zone: str) -> str:
    """What the rule does next: an incremental one goes on past the window; a look-back one judges its next anew."""
    source = plan.source
    if source.kind != "timer" or source.window_end is None:
        return ""
    if source.claim.endswith(("@lookback", "@all")):
        return (f"; rule {terminal(source.rule)}'s next tick counts its own window anew (held again if it is still "
                "over a cap)")
    return f"; rule {terminal(source.rule)} goes on from {show_time(source.window_end, zone)}, past the declined window"


def _declined_output(cli: Cli, plan: HeldPlan, line: str) -> int:
    if cli.args.json:
        cli.out_json({"plan_id": plan.plan_id, "status": plan.status, "job_name": plan.body.Name,
                      "decided_at": as_utc(plan.decided_at).isoformat() if plan.decided_at else None})
    else:
        cli.out(line)
    return EXIT_OK


COMMANDS = {"list": cmd_list, "confirm": cmd_confirm, "decline": cmd_decline}


# --- submit --dry-run: what the guard would decide ---------------------------------------------------------------

@dataclass
class Preview:
    """What a run now would do with its job as far as the caps go; `deps` None: the bucket could not be read."""

    body: Optional[JobBody] = None
    window: Optional[Window] = None
    window_from: str = ""  # where the window starts and why
    estimate: Optional[Estimate] = None
    held_reason: Optional[str] = None  # '' sent, text held, None not checked
    today: Optional[DayTotal] = None
    waits_for: Optional[HeldPlan] = None  # a stored plan decides: nothing is sent
    waits_status: str = ""  # its status now (shown_status)
    note: str = ""
    refused: List[str] = field(default_factory=list)
    manifest: Optional[Tuple[str, int]] = None  # a timer window sent as a UrlFile: (its manifest's key, lines)

    @property
    def problem(self) -> bool:
        return bool(self.held_reason) or self.waits_for is not None

    def to_json(self) -> Dict[str, Any]:
        return {"estimate": self.estimate.model_dump(mode="json") if self.estimate else None,
                "held_reason": self.held_reason, "window_from": self.window_from,
                "today": self.today.model_dump(mode="json") if self.today else None,
                "waits_for": self.waits_for.plan_id if self.waits_for else None, "refused": self.refused,
                **({"note": self.note} if self.note else {}),
                **({"manifest": {"key": self.manifest[0], "lines": self.manifest[1]}} if self.manifest else {})}

    def lines(self, settings: Settings, zone: str) -> List[str]:
        out = []
        if self.window is not None:
            start = show_time(self.window.start, zone) if self.window.start else "the beginning"
            out.append(f"window     {start} to {show_time(self.window.end, zone)}, {terminal(self.window_from)}")
        if self.estimate is not None:
            out += [f"count      {terminal(self.estimate.count.shown())}",
                    f"estimate   {terminal(cost_text(self.estimate))}"]
        if self.waits_for is not None:
            plan = self.waits_for
            held = f"held: {terminal(plan.reason)}"
            out.append(f"verdict    a run now sends nothing: its job waits for plan {plan.plan_id} ({held}); "
                       f"`python -m ops plans confirm {plan.plan_id}` sends it, `python -m ops plans decline "
                       f"{plan.plan_id}` drops it" if self.waits_status == "pending" else
                       f"verdict    a run now sends nothing: plan {plan.plan_id} ({held}) is {self.waits_status}")
        elif self.held_reason:
            out.append(f"caps       {caps_text(settings, self.today)}")
            out.append(f"verdict    HELD: a run now would hold this job as a plan and send nothing: "
                       f"{terminal(self.held_reason)}")
        elif self.held_reason == "" and self.estimate is not None:
            verdict = "under every cap" if any_cap(settings) else "no cap is set"
            out += [f"caps       {caps_text(settings, self.today)}", f"verdict    sent: {verdict}"]
        if self.manifest is not None:
            out.append(f"manifest   a run would first write {terminal(self.manifest[0])} ({self.manifest[1]:,} object "
                       "URLs)")
        out += [f"note       {terminal(self.note)}"] if self.note else []
        out += [f"refused    {terminal(r)}" for r in self.refused]
        return out


def _waiting(preview: Preview, plan: HeldPlan, now: datetime, days: int) -> Preview:
    preview.waits_for, preview.waits_status, preview.estimate = plan, shown_status(plan, now, days), plan.estimate
    return preview


def window_setting(settings: Settings) -> str:
    lookback = settings.window.lookback
    return "WINDOW=all" if lookback is None else f"WINDOW={format_duration(lookback)}"


def caps_text(settings: Settings, today: Optional[DayTotal]) -> str:
    caps = (("MAX_OBJECTS_PER_JOB", settings.max_objects_per_job), ("DAILY_OBJECT_CAP", settings.daily_object_cap),
            ("DAILY_COST_CAP", settings.daily_cost_cap))
    text = ", ".join(f"{name}={'unset' if value is None else value}" for name, value in caps)
    if today is not None:
        text += f"; {today.day} (UTC) has {today.objects:,} objects (≈ {today.cost} {today.currency}) so far"
    return text


def bucket_reader(cli: Cli, event: Any) -> Tuple[Optional[Deps], Settings, str]:
    """Deps that read the bucket with the credentials a person has, and the run's settings with them; without
    credentials (Deps None) the dry run shows the body alone and says why it was not counted."""
    try:
        environ = _with_credentials(dict(cli.environ), cli.args)
    except ConfigError as exc:
        return None, settings_for(event, cli.environ), f"no credentials to read the bucket with ({exc})"
    settings = settings_for(event, environ)
    return Deps(client=cli.client(settings), clock=cli.clock, sleep=cli.sleep), settings, ""


def _judged(settings: Settings, deps: Deps, preview: Preview, count: Count) -> Preview:
    """The estimate, and the verdict gate would give against today's ledger (read, never written)."""
    preview.estimate = estimate(settings, count)
    if not any_cap(settings):
        preview.held_reason = ""
        return preview
    preview.today = SpendLedger(deps.client, settings, deps.clock, deps.sleep).total(utc_day(deps.clock()))
    preview.held_reason = cap_reason(settings, preview.estimate, preview.today)
    return preview


def timer_preview(settings: Settings, deps: Optional[Deps], unread: str, rule: str, tick: datetime,
                  since: Optional[Window], zone: str = "UTC") -> Preview:
    """The window a tick at `tick` covers (from the checkpoint and the operator's decisions, read only), its count
    and estimate, and the caps' verdict; `since` (the --since window) skips the checkpoint."""
    from lib.state import StateStore
    from lib.submit.timer import after_decisions, plan_timer_window, timer_body, window_job

    kind = settings.window.kind
    preview = Preview(window=since, window_from="as --since sets it (the checkpoint was not read)")
    if since is None and deps is None:
        preview.window = plan_timer_window(settings, tick, None)
        preview.window_from = window_setting(settings) if kind != "incremental" else \
            "a first run's (the checkpoint was not read)"
    elif since is None and deps is not None:
        store = StateStore(deps.client, settings.state_prefix, deps.clock)
        if kind == "incremental":
            checkpoint = store.read_checked_checkpoint(rule, settings.job_name_prefix)
            after, waiting = after_decisions(settings, deps, rule, checkpoint, store, tick, record=False)
            preview.refused = [str(e) for e in store.tampered]
            if waiting is not None:
                return _waiting(preview, waiting, deps.clock(), settings.plan_expiry_days)
            preview.window = plan_timer_window(settings, tick, checkpoint, after)
            if preview.window is None:
                assert checkpoint is not None
                preview.note = (f"a run now sends nothing: the window is covered up to "
                                f"{show_time(checkpoint.end, zone)} by job {checkpoint.job_id}")
                preview.held_reason = ""
                return preview
            preview.window_from = (f"after the windows the operator declined (or that expired) up to "
                                   f"{show_time(after, zone)}" if after is not None else
                                   f"from the checkpoint (job {checkpoint.job_id})" if checkpoint is not None else
                                   "a first run's (no checkpoint yet: FIRST_RUN_LOOKBACK)")
        else:
            preview.window = plan_timer_window(settings, tick, None)
            preview.window_from = window_setting(settings)
            if any_cap(settings):
                stored = PlanStore(deps.client, settings.state_prefix, deps.clock).get(
                    plan_id_of("timer", f"{rule}@{kind}"))
                if stored is not None and shown_status(stored, deps.clock(), settings.plan_expiry_days) == "pending":
                    return _waiting(preview, stored, deps.clock(), settings.plan_expiry_days)
    assert preview.window is not None
    preview.body = timer_body(settings, rule, preview.window)
    if deps is None:
        preview.note = f"not counted or checked against the caps: {unread}"
        return preview
    # The job a run would send: a UrlFile without the reviewed images its listing finds (nothing is written here).
    tampered: List[Any] = []
    job = window_job(settings, deps, rule, preview.window, tampered)
    preview.refused += [str(e) for e in tampered]
    preview.body, preview.note = job.body, job.note
    if job.manifest is not None and job.manifest.manifest_key is not None:
        preview.manifest = (job.manifest.manifest_key, job.count.objects)
    if job.body is None:  # nothing would be sent, so there is no verdict to give
        preview.estimate = estimate(settings, job.count)
        return preview
    return _judged(settings, deps, preview, job.count)


def upload_preview(settings: Settings, deps: Optional[Deps], unread: str, body: JobBody, objects: int) -> Preview:
    """An upload event's job: its exact count and estimate; with a cap, a plan held for it or the caps' verdict."""
    preview = Preview(body=body)
    count = Count(objects=objects, method="upload event")
    if not any_cap(settings):
        preview.estimate, preview.held_reason = estimate(settings, count), ""
        return preview
    if deps is None:
        preview.estimate = estimate(settings, count)
        preview.note = f"not checked against the caps: {unread}"
        return preview
    stored = PlanStore(deps.client, settings.state_prefix, deps.clock).get(plan_id_of("upload", body.Name))
    if stored is not None and stored.status != "confirmed":
        return _waiting(preview, stored, deps.clock(), settings.plan_expiry_days)
    return _judged(settings, deps, preview, count)
