"""The ops CLI (`python -m ops ...`): list, inspect, watch and cancel batch jobs, upload, dry-run, report, inventory,
and review flagged images (list, restore, release).

Exit codes, the same for every command:
  0    done, and nothing wrong was found
  1    done, and a problem was found (a failed or stuck job, a flagged image or failed object, a job that does
       not exist, a cancel declined or impossible, a report that could not read everything, a held plan waiting or
       one that cannot be confirmed or declined as asked, a flagged image awaiting review, a restore or release
       declined or refused), or a call to COS/CI failed or got no answer
  2    not done: bad arguments, settings, credentials missing or refused, event file or input; nothing was sent
  130  interrupted (Ctrl-C); nothing more was sent

With --json an error is one document on stdout too: {"error": {"kind", "message", "fix", "exit_code", ...}}.
"""
from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shlex
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import IO, Any, Callable, Dict, List, Mapping, Optional, Sequence

from lib import logs, upload_state
from lib.client import CiClient, JobDetail, make_client
from lib.config import Settings, is_workflow_id, load_settings
from lib.credentials import credentials_for, rejected, with_credentials
from lib.errors import AppError, CloudApiError, CloudUnavailableError, ConfigError, InvalidEventError, SafetyError
from lib.escape import terminal
from lib.invocation import ClientFactory
from lib.jobs import is_batch_job_id, is_our_job
from lib.report.build import JOB_TYPES, build_report, connections_needed
from lib.report.duplicates import describe, find_duplicates
from lib.report.render import plural, render_summary_table, table
from lib.windows import Window, as_utc, format_ci_time, format_duration, parse_ci_time, parse_duration
from ops import jobview
from ops.jobview import TERMINAL, ZONES, JobObjectsView, state_word

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
STATES = ("Submitted", "Running", "Success", "Failed", "Pause", "Cancel")
NEEDS_CREDENTIALS = frozenset({"jobs list", "jobs get", "jobs watch", "jobs cancel", "report", "invoke", "upload",
                               "uploads", "inventory show", "plans list", "plans confirm", "plans decline",
                               "flagged list", "flagged restore", "flagged release"})


class UsageError(Exception):
    """Bad arguments, an unreadable file or a bad time filter: exit 2 with this message (and the usage, if any)."""

    def __init__(self, message: str, usage: str = ""):
        super().__init__(f"{message}\n{usage}" if usage else message)
        self.message, self.usage = message, usage


class ProblemFound(Exception):
    """Done, and the answer is a problem (exit 1): a job that does not exist, a key already there, a cancel declined."""

    def __init__(self, kind: str, message: str, fix: str = "", **detail: Any):
        super().__init__(message)
        self.kind, self.message, self.fix, self.detail = kind, message, fix, detail


def _close(word: str, choices: Sequence[str]) -> Optional[str]:
    """The choice `word` most likely meant (case aside), or None."""
    by_folded = {c.casefold(): c for c in choices}
    near = difflib.get_close_matches(word.casefold(), list(by_folded), n=1, cutoff=0.6)
    return by_folded[near[0]] if near else None


class _Parser(argparse.ArgumentParser):
    # argparse would print to sys.stderr and exit; raise instead so main() owns the streams and the exit code.
    def error(self, message: str) -> Any:
        raise UsageError(message, self.format_usage().strip())

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        # argparse's own check, with the nearest choice named: `reprot` -> "did you mean report?".
        if action.choices is not None and value not in action.choices:
            choices = [str(c) for c in action.choices]
            near = _close(str(value), choices)
            raise argparse.ArgumentError(action, f"invalid choice: {value!r}"
                                         + (f"; did you mean {near}?" if near else "")
                                         + f" (choose from {', '.join(choices)})")

    def unrecognized(self, extras: Sequence[str]) -> Any:
        """Refuse arguments this (sub)command does not take, with its own usage and the nearest option named."""
        options = [o for action in self._actions for o in action.option_strings if o.startswith("--")]
        nearest = {extra: near for extra in extras if extra.startswith("--")
                   for near in [_close(extra.split("=", 1)[0], options)] if near}
        hint = ", ".join(near if len(nearest) == 1 else f"{near} for {extra}" for extra, near in nearest.items())
        self.error(f"unrecognized arguments: {' '.join(extras)}" + (f"; did you mean {hint}?" if hint else ""))


def _subcommand(parser: argparse.ArgumentParser, words: Sequence[str]) -> argparse.ArgumentParser:
    """The parser of `jobs list` (words ["jobs", "list"]), found through each level's subcommands."""
    for word in words:
        # argparse has no public way to reach a subparser; its action keeps them in `choices`.
        subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = subs.choices[word]
    return parser


def command_words(args: argparse.Namespace) -> List[str]:
    """`jobs list` as ["jobs", "list"]: a command group keeps its subcommand in `<group>_command`."""
    sub = getattr(args, f"{args.command}_command", None)
    return [args.command, sub] if sub else [args.command]


class Cli:
    """One invocation's I/O: streams, environment, clock, sleep and client factory, all passed in so tests drive it."""

    def __init__(self, args: argparse.Namespace, environ: Mapping[str, str], stdin: IO[str], stdout: IO[str],
                 stderr: IO[str], clock: Callable[[], datetime], client_factory: ClientFactory,
                 sleep: Callable[[float], None] = time.sleep, monotonic: Callable[[], float] = time.monotonic,
                 needs_credentials: bool = False):
        self.args, self.environ = args, environ
        self.needs_credentials = needs_credentials
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.clock, self.client_factory, self.sleep, self.monotonic = clock, client_factory, sleep, monotonic
        self.loaded: Optional[Settings] = None  # the last settings read, for the hint on an unreachable endpoint

    @property
    def zone(self) -> str:
        return self.args.tz

    def out(self, text: str) -> None:
        self.stdout.write(text if text.endswith("\n") else text + "\n")

    def out_json(self, data: Any) -> None:
        self.out(logs.json_text(json.dumps(data, indent=2, ensure_ascii=False, default=str)))

    def say(self, text: str) -> None:
        """A line for the person (stderr), never mixed into a command's result on stdout."""
        self.stderr.write(text if text.endswith("\n") else text + "\n")
        self.stderr.flush()

    def settings(self, overrides: Optional[Mapping[str, Any]] = None) -> Settings:
        """The settings; for a command that calls COS/CI, with credentials looked up once (after its arguments)."""
        if self.needs_credentials:
            self.environ = _with_credentials(dict(self.environ), self.args)
            self.needs_credentials = False
        self.loaded = load_settings(self.environ, overrides)
        return self.loaded

    def client(self, settings: Settings, *, pool_size: Optional[int] = None) -> CiClient:
        return self.client_factory(settings, pool_size=pool_size)

    def terminal(self) -> bool:
        return not self.args.quiet and getattr(self.stderr, "isatty", lambda: False)()

    def progress(self) -> Optional[Callable[[str], None]]:
        """A line on stderr rewritten in place, only for a person watching a terminal."""
        if not self.terminal():
            return None

        def show(message: str) -> None:
            self.stderr.write(f"\r\033[K{message}")
            self.stderr.flush()

        return show

    def end_progress(self, shown: Optional[Callable[[str], None]]) -> None:
        if shown is not None:
            self.stderr.write("\r\033[K")


# --- arguments --------------------------------------------------------------------------------------------

def _time(flag: str, text: str) -> datetime:
    """ISO 8601 or CI's `+0800` form, or a bare date (UTC midnight); naive times are UTC."""
    value = text.strip()
    try:
        return parse_ci_time(value) or _fail_time(flag, text)
    except ValueError:
        pass
    try:
        return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return _fail_time(flag, text)


def _fail_time(flag: str, text: str) -> datetime:
    raise UsageError(f"{flag} {text!r} is not a time; use e.g. 2026-11-28T02:00:00Z, 2026-11-28T10:00:00+08:00 "
                     "or 2026-11-28 (UTC)")


def _duration(flag: str, text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"{flag} {exc}") from None


def _job_id(text: str) -> str:
    if not is_batch_job_id(text):
        # A job's name is what a person sees first (logs, the report): say how to get from it to the id.
        by_name = f"; to find a job by its name: python -m ops jobs list --name {shlex.quote(text)}" if text else ""
        raise UsageError(f"job id {text!r} is not a batch-job id: they are b followed by letters and digits, e.g. "
                         f"b3deffea2f84911ec9cb15254008618d9 (see `jobs list`){terminal(by_name)}")
    return text


def _range(cli: Cli, now: datetime) -> Window:
    """The creation-time range from --since or --start/--end; start None means no lower bound."""
    args = cli.args
    if args.since and args.start:
        raise UsageError("give --since or --start, not both")
    end = _time("--end", args.end) if args.end else None
    start = _time("--start", args.start) if args.start else None
    if args.since:
        start = (end or now) - _duration("--since", args.since)
    if start is not None and end is not None and start > end:
        raise UsageError(f"--start {jobview.show_time(start, cli.zone)} is after --end {jobview.show_time(end, cli.zone)}")
    return Window(start, end or now)


def _global_options(parser: argparse.ArgumentParser, *, default: Any) -> None:
    # On the top parser with real defaults and on every subcommand with SUPPRESS, so each option works before or
    # after the subcommand and a subcommand never resets what was given before it.
    def given(value: Any) -> Any:
        return argparse.SUPPRESS if default is argparse.SUPPRESS else value

    parser.add_argument("--env-file", metavar="FILE", default=given(None),
                        help="KEY=VALUE lines, read over the environment")
    parser.add_argument("--profile", metavar="NAME", default=given(None),
                        help="credentials profile of tccli / ~/.tencentcloud (default: $TCCLI_PROFILE or default)")
    parser.add_argument("--json", action="store_true", default=given(False), help="one JSON document on stdout")
    parser.add_argument("--quiet", action="store_true", default=given(False), help="no progress on stderr")
    parser.add_argument("--tz", choices=tuple(ZONES), default=given("UTC"),
                        help="time zone of printed times: UTC (default) or CST, CI's +08:00")


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    _global_options(common, default=argparse.SUPPRESS)

    parser = _Parser(prog="python -m ops", description=__doc__.split("\n")[0],
                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n", 2)[2])
    _global_options(parser, default=None)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    jobs = commands.add_parser("jobs", parents=[common], help="list, show, watch or cancel batch jobs")
    jobs_commands = jobs.add_subparsers(dest="jobs_command", required=True, parser_class=_Parser)
    listing = jobs_commands.add_parser("list", parents=[common], help="list batch jobs (every page)")
    listing.add_argument("--type", choices=("Job", "Workflow", "all"), default="all",
                         help="batch-job Type (default: both)")
    listing.add_argument("--state", action="append", default=[], metavar="STATE",
                         help=f"repeat or comma-separate: {', '.join(STATES)} (default: all)")
    listing.add_argument("--name", help="exact job name")
    listing.add_argument("--job-id", help="one job id")
    listing.add_argument("--workflow-id", help="jobs that trigger this workflow")
    listing.add_argument("--since", metavar="DURATION", help="created in the last DURATION, e.g. 24h")
    listing.add_argument("--start", metavar="TIME", help="created at or after TIME")
    listing.add_argument("--end", metavar="TIME", help="created at or before TIME (default: now)")
    listing.add_argument("--order", choices=("Asc", "Desc"), default="Desc", help="by creation time")
    listing.add_argument("--limit", type=int, metavar="N", help="stop after N jobs")
    get = jobs_commands.add_parser("get", parents=[common], help="show one job and what it did to each object")
    get.add_argument("job_id")
    get.add_argument("--wait", action="store_true", help="follow the job until it ends (as `jobs watch`)")
    get.add_argument("--interval", type=float, default=5.0, metavar="SECONDS",
                     help="with --wait: seconds between polls (default 5)")
    watch = jobs_commands.add_parser("watch", parents=[common], help="follow one job until it ends, then show it")
    watch.add_argument("job_id")
    watch.add_argument("--interval", type=float, default=5.0, metavar="SECONDS",
                       help="seconds between polls (default 5)")
    cancel = jobs_commands.add_parser("cancel", parents=[common], help="cancel one job (asks first)")
    cancel.add_argument("job_id")
    cancel.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    twins = jobs_commands.add_parser("duplicates", parents=[common], help="live jobs of ours that share a name")
    twins.add_argument("--since", metavar="DURATION", default="7d", help="created in the last DURATION (default 7d)")

    upload = commands.add_parser("upload", parents=[common], help="put local files into the bucket")
    upload.add_argument("files", nargs="+", metavar="FILE")
    upload.add_argument("--prefix", default="", help="key prefix, e.g. uploads/ (the key is prefix + file name)")
    upload.add_argument("--overwrite", action="store_true", help="replace an object that already exists")

    submit = commands.add_parser("submit", parents=[common], help="show the job a submit would create")
    submit.add_argument("--dry-run", action="store_true", help="print the XML body, its count, estimate and the caps' "
                        "verdict (an inventory rule: the counts and jobs its next run would make); send nothing")
    submit.add_argument("--event", metavar="FILE", help="timer or COS event JSON (default: a timer tick now)")
    submit.add_argument("--since", metavar="DURATION", help="window length for an incremental rule (default: from "
                        "its checkpoint, as a tick now; with --since the checkpoint is not read)")

    report = commands.add_parser("report", parents=[common], help="summarise the jobs of a window")
    report.add_argument("--since", metavar="DURATION", help="window length (default: REPORT_LOOKBACK)")
    report.add_argument("--all-jobs", action="store_true", help="include jobs not named JOB_NAME_PREFIX-*")

    uploads = commands.add_parser("uploads", parents=[common], help="coalesced uploads: their batch jobs, or "
                                  "which job an uploaded key went into (UPLOAD_BATCH_SECONDS > 0)")
    uploads.add_argument("--since", metavar="DURATION", default=None, help="slots in the last DURATION (default 1d)")
    uploads.add_argument("--start", metavar="TIME", help="slots starting at or after TIME")
    uploads.add_argument("--end", metavar="TIME", help="slots starting before TIME (default: now)")
    uploads.add_argument("--key", help="the uploaded object key to look for")

    inventory = commands.add_parser("inventory", parents=[common], help="the bucket's COS Inventory (INVENTORY_ID)")
    inventory_commands = inventory.add_subparsers(dest="inventory_command", required=True, parser_class=_Parser)
    show = inventory_commands.add_parser("show", parents=[common], help="the configuration, its newest report and "
                                         "whether the function has processed it")
    show.add_argument("--id", metavar="ID", help="the inventory configuration's id (default: INVENTORY_ID)")

    plans = commands.add_parser("plans", parents=[common], help="jobs a cap held (issue 25): list them, confirm or "
                                "decline one")
    plans_commands = plans.add_subparsers(dest="plans_command", required=True, parser_class=_Parser)
    held = plans_commands.add_parser("list", parents=[common], help="held plans waiting for a decision")
    held.add_argument("--all", action="store_true", help="decided and expired plans too, with their decisions")
    confirm = plans_commands.add_parser("confirm", parents=[common], help="send a held plan's job once, whatever "
                                        "the caps say (asks first)")
    decline = plans_commands.add_parser("decline", parents=[common], help="drop a held plan: its job is never sent "
                                        "(asks first)")
    for decide in (confirm, decline):
        decide.add_argument("plan_id", metavar="ID")
        decide.add_argument("--yes", action="store_true", help="do not ask (needed without a terminal)")
    confirm.add_argument("--argument", metavar="JSON", help="the timer argument of the rule that held the plan, "
                         "applied over the environment as the function applies it")

    flagged = commands.add_parser("flagged", parents=[common], help="images ImageInspect flagged (issue 26): review "
                                  "them, restore a false positive, release a true one")
    flagged_commands = flagged.add_subparsers(dest="flagged_command", required=True, parser_class=_Parser)
    review = flagged_commands.add_parser("list", parents=[common], help="flagged images of a period: what hides "
                                         "inside, what CI did, where the image is now, and a link to look at it")
    review.add_argument("--since", metavar="DURATION", default=None, help="jobs created in the last DURATION "
                        "(default 7d)")
    review.add_argument("--job", metavar="JOB_ID", help="only this batch job's flags")
    review.add_argument("--prefix", metavar="PREFIX", help="only keys under PREFIX")
    review.add_argument("--action", choices=("BackupObject", "SwitchObjectToPrivate", "DeleteObject", "none"),
                        help="only images CI handled this way (none: left in place)")
    review.add_argument("--status", choices=("pending", "restored", "released", "all"), default="all",
                        help="only images with this review status (default all)")
    review.add_argument("--link-expiry", metavar="DURATION", default="15m", help="how long each presigned GET link "
                        "works (default 15m; at most 7d)")
    restore = flagged_commands.add_parser("restore", parents=[common], help="a false positive: put the image back "
                                          "as it was before CI acted, and keep it out of later jobs (asks first)")
    restore.add_argument("--overwrite", action="store_true", help="copy the backup back even over a newer object "
                         "of the same key")
    release = flagged_commands.add_parser("release", parents=[common], help="a true positive: confirm it; its "
                                          "backup is deleted unless RELEASE_KEEPS_BACKUP=true (asks first)")
    for decide in (restore, release):
        decide.add_argument("key", metavar="KEY")
        decide.add_argument("--since", metavar="DURATION", default=None, help="look for the flag among jobs of the "
                            "last DURATION (default 30d)")
        decide.add_argument("--yes", action="store_true", help="do not ask (needed without a terminal)")

    invoke = commands.add_parser("invoke", parents=[common], help="run a function's handler on an event file")
    invoke.add_argument("function", choices=("submit", "report"))
    invoke.add_argument("event_file", metavar="EVENT_FILE")
    return parser


def read_env_file(path: str) -> Dict[str, str]:
    """KEY=VALUE lines; blank lines, `#` comments and a leading `export ` are allowed; quotes are stripped."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError as exc:
        raise UsageError(f"--env-file {path}: {exc.strerror}") from None
    values: Dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        text = text[len("export "):] if text.startswith("export ") else text
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--env-file {path} line {number}: expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _read_event(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as exc:
        raise UsageError(f"event file {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise UsageError(f"event file {path} is not JSON: {exc}") from None


# --- commands -----------------------------------------------------------------------------------------------

def cmd_jobs_list(cli: Cli) -> int:
    args = cli.args
    window = _range(cli, as_utc(cli.clock()))
    states = [s.strip() for part in args.state for s in part.split(",") if s.strip()]
    bad = [s for s in states if s not in STATES]
    if bad:
        raise UsageError(f"--state {', '.join(bad)}: not a state; use {', '.join(STATES)}")
    if args.workflow_id and not is_workflow_id(args.workflow_id):
        raise UsageError(f"--workflow-id {args.workflow_id!r}: not a workflow id (w and letters or digits, e.g. "
                         "w7476ff3564ee45b7b490d64bccaba6cc)")
    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit {args.limit}: must be at least 1")
    filters: Dict[str, Any] = {"States": ",".join(states) or "All", "OrderByTime": args.order}
    if args.end:
        # Without --end there is no upper bound: "now" in whole seconds would drop a job created this second.
        filters["EndCreationTime"] = format_ci_time(window.end)
    if window.start is not None:
        filters["StartCreationTime"] = format_ci_time(window.start)
    for key, value in (("Name", args.name), ("JobId", None if args.job_id is None else _job_id(args.job_id)),
                       ("WorkflowId", args.workflow_id)):
        if value:
            filters[key] = value
    if args.limit is not None and args.limit < 100:
        filters["size"] = args.limit  # one small page instead of a full one
    client = cli.client(cli.settings())
    types = JOB_TYPES if args.type == "all" else (args.type,)
    shown = cli.progress()
    jobs: List[JobDetail] = []
    for job_type in types:
        def on_page(page: int, job_type: str = job_type) -> None:
            if shown is not None:
                shown(f"listing {job_type} jobs: page {page}, {len(jobs)} so far")

        for job in client.iter_jobs(job_type, on_page=on_page, **filters):
            jobs.append(job)
            if args.limit is not None and len(jobs) >= args.limit:
                break
        if args.limit is not None and len(jobs) >= args.limit:
            break
    cli.end_progress(shown)
    if args.json:
        cli.out_json([j.model_dump() for j in jobs])
    else:
        cli.out(jobview.jobs_table(jobs, cli.zone) + plural(len(jobs), "job"))
    return EXIT_OK


def _show_job(cli: Cli, client: CiClient, job: JobDetail) -> int:
    """Print one job with its per-object results; a failed job, object or flagged image is a problem (exit 1)."""
    started = job.State in TERMINAL or job.State == "Running"
    objects = jobview.read_job_objects(client, job) if started else JobObjectsView()
    if cli.args.json:
        cli.out_json({**job.model_dump(), "objects": objects.to_json()})
    else:
        cli.out(jobview.job_view(job, objects, cli.zone))
    return EXIT_PROBLEM if job.State == "Failed" or objects.problem else EXIT_OK


def _missing(cli: Cli, job_id: str) -> int:
    raise ProblemFound("not_found", f"no batch job {job_id} in bucket {cli.loaded.bucket if cli.loaded else '?'}",
                       "`python -m ops jobs list` shows the ids of the bucket's jobs", job_id=job_id)


def cmd_jobs_get(cli: Cli) -> int:
    if cli.args.wait:
        return cmd_jobs_watch(cli)
    job_id = _job_id(cli.args.job_id)
    client = cli.client(cli.settings())
    job = client.get_job(job_id)
    return _missing(cli, job_id) if job is None else _show_job(cli, client, job)


def cmd_jobs_watch(cli: Cli) -> int:
    """Poll the job until it ends: a live line in a terminal, one line per change otherwise; then the job."""
    job_id = _job_id(cli.args.job_id)
    if not cli.args.interval > 0:
        raise UsageError(f"--interval {cli.args.interval}: must be more than 0 seconds")
    client = cli.client(cli.settings())
    started, last_state = cli.monotonic(), None
    shown = cli.progress()
    while True:
        job = client.get_job(job_id)
        if job is None:
            cli.end_progress(shown)
            return _missing(cli, job_id)
        line = f"job {job_id}: {terminal(state_word(job.State))}, {jobview.elapsed(cli.monotonic() - started)} so far"
        if shown is not None:
            shown(line)
        elif job.State != last_state and not cli.args.quiet:
            cli.say(line)
        last_state = job.State
        if job.State in TERMINAL:
            break
        cli.sleep(cli.args.interval)
    cli.end_progress(shown)
    if not cli.args.quiet:
        cli.say(f"job {job_id} {terminal(state_word(job.State))} after {jobview.elapsed(cli.monotonic() - started)} "
                "of watching")
    return _show_job(cli, client, job)


def cmd_jobs_cancel(cli: Cli) -> int:
    job_id = _job_id(cli.args.job_id)
    client = cli.client(cli.settings())
    job = client.get_job(job_id)
    if job is None:
        return _missing(cli, job_id)
    if job.State in TERMINAL:
        raise ProblemFound("not_cancellable", f"job {job.JobId} is already {terminal(state_word(job.State))}; nothing "
                           "to cancel", job_id=job.JobId, state=job.State)
    if not cli.args.yes:
        cli.stderr.write(f"Cancel job {terminal(job.JobId)} ({terminal(job.Name)}, {terminal(state_word(job.State))})? "
                         "[y/N] ")
        cli.stderr.flush()
        answer = cli.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            raise ProblemFound("declined", "not cancelled", "answer y, or pass --yes", job_id=job.JobId)
    client.cancel_job(job.JobId)
    if cli.args.json:
        cli.out_json({"job_id": job.JobId, "cancelled": True, "previous_state": job.State})
    else:
        cli.out(f"cancelled {terminal(job.JobId)} (it was {terminal(state_word(job.State))})")
    return EXIT_OK


def cmd_upload(cli: Cli) -> int:
    """Put each file at prefix + its name; refuse the whole list before sending anything if one is unreadable."""
    args = cli.args
    if args.prefix.startswith("/"):
        raise UsageError(f"--prefix {args.prefix!r}: object keys do not start with '/'; write e.g. uploads/")
    contents = []
    for path in args.files:
        try:
            with open(path, "rb") as handle:
                contents.append((args.prefix + os.path.basename(path), handle.read()))
        except OSError as exc:
            raise UsageError(f"upload {path}: {exc.strerror}") from None
    client = cli.client(cli.settings())
    done = []
    for key, data in contents:
        try:
            # COS refuses (409) to replace an existing key unless asked: a test upload never clobbers real data.
            etag = client.put_object(key, data, if_absent=not args.overwrite)
        except CloudApiError as exc:
            if exc.status != 409:
                raise
            raise ProblemFound("exists", f"{terminal(key)} already exists in "
                               f"{cli.loaded.bucket if cli.loaded else 'the bucket'}; not replaced",
                               "--overwrite replaces it", key=key, uploaded=done) from None
        done.append({"key": key, "size": len(data), "etag": etag})
        if not args.json:
            cli.out(f"uploaded {terminal(key)} ({plural(len(data), 'byte')})")
    if args.json:
        cli.out_json(done)
    return EXIT_OK


def cmd_jobs_duplicates(cli: Cli) -> int:
    """List names held by more than one live job of ours (exit 1 if any); the report cancels per its setting."""
    settings = cli.settings()
    start = format_ci_time(as_utc(cli.clock()) - _duration("--since", cli.args.since))
    client = cli.client(settings)
    found = find_duplicates(j for t in JOB_TYPES for j in client.iter_jobs(t, States="All",
                            StartCreationTime=start) if is_our_job(j.Name, settings.job_name_prefix))
    if cli.args.json:
        cli.out_json([d.model_dump() for d in found])
    else:
        held = "is" if len(found) == 1 else "are"
        cli.out("".join(terminal(describe(d)) + "\n" for d in found)
                + f"{plural(len(found), 'name')} {held} held by more than one live job")
    return EXIT_PROBLEM if found else EXIT_OK


def cmd_submit(cli: Cli) -> int:
    """Print what a submit would send, its count, estimate and the caps' verdict (ops/plans.py); nothing is written
    or sent. Reading the bucket (a timer window's count and checkpoint, a capped upload's ledger) needs credentials:
    without them the body alone. An inventory rule's dry run prints the counts and jobs of its report instead."""
    import xmltodict

    from lib.events import TimerEvent, parse_event
    from lib.invocation import settings_for
    from lib.submit.run import check_safety
    from lib.submit.timer import rule_of
    from lib.submit.uploads import leave_out_reviewed, plan_upload, select_uploads
    from ops.plans import bucket_reader, irreversible_preview, timer_preview, upload_preview

    args = cli.args
    if not args.dry_run:
        raise UsageError("submit only previews here: add --dry-run, or run `invoke submit EVENT_FILE` to submit")
    base = cli.settings()
    if args.event:
        event = parse_event(_read_event(args.event))
    else:
        event = TimerEvent.model_validate({"Type": "Timer", "TriggerName": base.rule_name or "cli",
                                           "Time": as_utc(cli.clock()).replace(microsecond=0)})
    settings = settings_for(event, cli.environ)
    check_safety(settings)
    if isinstance(event, TimerEvent) and settings.input_source == "inventory":
        return _inventory_dry_run(cli, event)
    result: Dict[str, Any] = {}
    if isinstance(event, TimerEvent):
        if args.since and settings.window.kind != "incremental":
            raise UsageError(_since_refusal(args.since, settings))
        since = Window(event.time - _duration("--since", args.since), event.time) if args.since else None
        deps, settings, unread = bucket_reader(cli, event)
        preview = timer_preview(settings, deps, unread, rule_of(settings, event), event.time, since, cli.zone)
        if preview.window is not None:
            result["window"] = {"start": format_ci_time(preview.window.start) if preview.window.start else None,
                                "end": format_ci_time(preview.window.end)}
    else:
        objects, skipped = select_uploads(settings, event)
        deps, unread = None, ""
        if objects:  # the run leaves restored images out, so its preview reads the reviews too (with credentials)
            deps, settings, unread = bucket_reader(cli, event)
            if deps is not None:
                objects, reviewed = leave_out_reviewed(settings, deps, objects)
                skipped += reviewed
            else:
                result["reviewed"] = f"restored images not left out: {unread}"
        result["skipped"] = [s.model_dump() for s in skipped]
        if not objects:
            result["note"] = "nothing to inspect in this event"
            if args.json:
                cli.out_json(result)
            else:
                cli.out(f"{result['note']}: {plural(len(skipped), 'key')} skipped")
                cli.out("".join(f"  {terminal(s.key)}: {terminal(s.reason)}\n" for s in skipped))
            return EXIT_OK
        plan = plan_upload(settings, objects)
        if plan.manifest_key:
            result["manifest"] = {"key": plan.manifest_key, "text": plan.manifest_text}
        if skipped and not args.json:
            cli.say(f"skipping {plural(len(skipped), 'key')}:\n" + "".join(f"  {terminal(s.key)}: {terminal(s.reason)}\n"
                                                                          for s in skipped))
        if "reviewed" in result and not args.json:
            cli.say(result["reviewed"])
        preview = upload_preview(settings, deps, unread, plan.body, len(objects))
    preview = irreversible_preview(preview, settings, deps, unread)
    code = EXIT_PROBLEM if preview.problem else EXIT_OK
    body = preview.body
    if args.json:
        xml = {"name": body.Name, "xml": xmltodict.unparse({"Request": body.to_sdk()})} if body else {}
        cli.out_json({**xml, **result, **preview.to_json()})
        return code
    if body is not None:
        cli.out(xmltodict.unparse({"Request": body.to_sdk()}, pretty=True, indent="  "))  # for a person to read
    if "manifest" in result:
        cli.say(f"(would first write {result['manifest']['key']}:)\n{result['manifest']['text']}")
    cli.say("\n".join(preview.lines(settings, cli.zone)))
    return code


def _since_refusal(since: str, settings: Settings) -> str:
    """--since previews an incremental rule's window; under WINDOW=all or a look-back a run never uses it."""
    if settings.window.lookback is None:
        setting, covers = "WINDOW=all", "every object, with no time interval"
    else:
        length = format_duration(settings.window.lookback)
        setting, covers = f"WINDOW={length}", f"the {length} before the tick"
    return (f"--since {since}: {setting} fixes this rule's window ({covers}), so its runs never use --since, which "
            "sets an incremental rule's window; drop --since to see the body this rule sends, or set "
            "WINDOW=incremental to preview an incremental window")


def cmd_report(cli: Cli) -> int:
    args = cli.args
    if cli.zone != "UTC":  # one zone per output: the report's own table, object and messages are UTC
        raise UsageError(f"--tz {cli.zone}: the report prints UTC only, as its COS object and messages do")
    overrides = {"REPORT_ALL_JOBS": "true"} if args.all_jobs else None
    settings = cli.settings(overrides)
    lookback = _duration("--since", args.since) if args.since else None
    shown = cli.progress()
    # CI reports whole seconds: end one second past now so a job created this second is in the report.
    end = as_utc(cli.clock()).replace(microsecond=0) + timedelta(seconds=1)
    summary = build_report(settings, cli.client(settings, pool_size=connections_needed(settings)), end, lookback=lookback, progress=shown)
    cli.end_progress(shown)
    if args.json:
        cli.out_json(summary.model_dump(mode="json"))
    else:
        cli.out(render_summary_table(summary))
    return EXIT_PROBLEM if summary.problem else EXIT_OK


def cmd_inventory_show(cli: Cli) -> int:
    """The inventory configuration, its newest report and whether the function processed it (exit 1 on a problem)."""
    from ops.inventory import render_view, show_inventory

    overrides = {"INVENTORY_ID": cli.args.id} if cli.args.id else None  # checked as the setting is
    settings = cli.settings(overrides)
    if not settings.inventory_id:
        raise UsageError("inventory show: give --id ID or set INVENTORY_ID (the bucket's inventory configuration)")
    view = show_inventory(cli.client(settings), settings, settings.inventory_id, as_utc(cli.clock()))
    if cli.args.json:
        cli.out_json(view.model_dump(mode="json"))
    else:
        cli.out(render_view(view, cli.zone))
    return EXIT_PROBLEM if view.problem else EXIT_OK


def _inventory_dry_run(cli: Cli, event: Any) -> int:
    """An inventory rule's dry run: it reads the bucket (so it needs credentials); it writes and sends nothing."""
    from lib.invocation import settings_for
    from lib.submit.run import Deps
    from ops.inventory import dry_run_inventory, render_dry_run
    from ops.plans import Preview, irreversible_preview

    if cli.args.since:
        raise UsageError("--since: an inventory rule's window comes from its checkpoint and its report's date, not "
                         "from --since (a WINDOW timer argument in the --event file changes it)")
    cli.needs_credentials = True
    cli.settings()  # looks the credentials up, as every command that calls COS does
    settings = settings_for(event, cli.environ)
    client = cli.client(settings)
    result = dry_run_inventory(client, settings, as_utc(cli.clock()))
    deletes = irreversible_preview(Preview(), settings, Deps(client=client, clock=cli.clock), "")
    if cli.args.json:
        said = {k: v for k, v in deletes.to_json().items() if k in ("irreversible", "refusal")}
        cli.out_json({**result.model_dump(mode="json"), **said})
    else:
        cli.out(render_dry_run(result))
        if deletes.lines(settings, cli.zone):
            cli.say("\n".join(deletes.lines(settings, cli.zone)))
    return EXIT_PROBLEM if result.day is None or deletes.problem else EXIT_OK


def cmd_invoke(cli: Cli) -> int:
    """Run handlers.<function> as SCF would, with this CLI's environment; its logs go to stderr, its result to stdout."""
    import importlib
    from contextlib import redirect_stdout

    from lib.events import parse_event

    raw = _read_event(cli.args.event_file)
    parse_event(raw)  # a malformed event is bad input (exit 2), as for `submit --dry-run --event`
    cli.settings()  # bad settings are exit 2 before the handler runs, and the hint knows the endpoint
    handler = importlib.import_module(f"handlers.{cli.args.function}").invoke
    context = {"request_id": f"cli-{uuid.uuid4().hex[:12]}", "function_name": cli.args.function,
               "time_limit_in_ms": 900000, "memory_limit_in_mb": 256}
    with logs.sent_to(cli.stderr), redirect_stdout(cli.stderr):
        result = handler(raw, context, environ=cli.environ, client_factory=cli.client_factory)
    cli.out_json(result)
    summary = result.get("summary") if isinstance(result, dict) else None
    held = result.get("held") if isinstance(result, dict) else None  # a submit that held a job sent nothing for it
    return EXIT_PROBLEM if (isinstance(summary, dict) and summary.get("problem")) or held else EXIT_OK


def cmd_flagged(cli: Cli) -> int:
    """`flagged list|restore|release`: review and undo of flagged images (ops/flagged.py, ops/restore.py)."""
    if cli.args.flagged_command == "list":
        from ops.flagged import cmd_list

        return cmd_list(cli)
    from ops import restore

    return restore.COMMANDS[cli.args.flagged_command](cli)


def cmd_plans(cli: Cli) -> int:
    """`plans list|confirm|decline`: the jobs a cap held (ops/plans.py)."""
    from ops import plans

    return plans.COMMANDS[cli.args.plans_command](cli)


COALESCING_OFF = ("coalescing is off (UPLOAD_BATCH_SECONDS=0): each upload event becomes its own batch job, not a "
                  "batch of this list; find it with `python -m ops jobs list --since 1d` (its INPUT names the object "
                  "or manifest) and `jobs get JOB_ID`")


def cmd_uploads(cli: Cli) -> int:
    """Batches of coalesced uploads in a range; with --key, the job(s) that key went into (exit 1 if none)."""
    from lib.submit.run import REVIEWED

    args = cli.args
    if not (args.since or args.start):
        args.since = "1d"
    window = _range(cli, as_utc(cli.clock()))
    settings = cli.settings()
    client = cli.client(settings)
    refused: List[upload_state.Refusal] = []  # forged or foreign state objects: never listed as ours, but said
    now = as_utc(cli.clock())
    batches = upload_state.read_batches(client, settings, window.start or datetime(1970, 1, 1, tzinfo=timezone.utc),
                                    window.end, now=now, refused=refused)
    pending = upload_state.pending_uploads(client, settings, now=now, refused=refused)
    refusals = sorted({str(r.error) for r in refused})
    # Coalescing off: each upload event made its own job, so there are no batches to find it in (issue 27).
    off = {} if settings.upload_batch_seconds else {"coalescing": False, "note": COALESCING_OFF}
    if args.key is not None:
        left_out = [b for b in batches if args.key in b.excluded]  # restored by an operator: handled, not lost
        batches = [b for b in batches if args.key in b.keys]
        waiting = pending.get(args.key, [])
        found = batches or waiting or left_out
        if args.json:
            cli.out_json({"key": args.key, "batches": [b.model_dump(mode="json") for b in batches],
                          "pending_slots": waiting, "left_out": [b.model_dump(mode="json") for b in left_out],
                          **off})
        else:
            missing = f"{args.key}: in no batch of this range and not pending"
            cli.out("".join(f"{args.key}: job {b.job_id or '(not created yet)'} {b.job_name}, slot "
                            f"{jobview.show_time(b.slot, cli.zone)}\n" for b in batches)
                    + "".join(f"{args.key}: left out of batch {b.n} of slot {jobview.show_time(b.slot, cli.zone)}, "
                              f"{REVIEWED}\n" for b in left_out)
                    + "".join(f"{args.key}: pending in slot {s}\n" for s in waiting)
                    + ("" if found else f"{missing}: {COALESCING_OFF}" if off else missing))
        return EXIT_OK if found else EXIT_PROBLEM
    if args.json:
        cli.out_json({"batches": [b.model_dump(mode="json") for b in batches], "pending": len(pending),
                      "refused": refusals, **off})
    elif off and not batches:
        cli.out(COALESCING_OFF)
    else:
        rows = [(jobview.show_time(b.slot, cli.zone), str(b.n), str(len(b.records)), str(len(b.keys)),
                 b.job_id or "-", b.state, b.job_name) for b in batches]
        cli.out(table(("slot", "batch", "uploads", "keys", "job id", "state", "job name"), rows)
                + f"\n{len(batches)} batch{'' if len(batches) == 1 else 'es'}, "
                f"{plural(sum(len(b.records) for b in batches), 'upload')}; {plural(len(pending), 'key')} pending"
                + (f"; {plural(len(refusals), 'state object')} refused (forged or foreign, see --json)"
                   if refusals else "") + (f"\n{COALESCING_OFF}" if off else ""))
    return EXIT_OK


COMMANDS: Dict[str, Callable[[Cli], int]] = {
    "jobs list": cmd_jobs_list, "jobs get": cmd_jobs_get, "jobs watch": cmd_jobs_watch,
    "jobs cancel": cmd_jobs_cancel, "jobs duplicates": cmd_jobs_duplicates, "upload": cmd_upload,
    "submit": cmd_submit, "report": cmd_report, "invoke": cmd_invoke, "uploads": cmd_uploads,
    "inventory show": cmd_inventory_show,
    "plans list": cmd_plans, "plans confirm": cmd_plans, "plans decline": cmd_plans,
    "flagged list": cmd_flagged, "flagged restore": cmd_flagged, "flagged release": cmd_flagged,
}


def _with_credentials(env: Dict[str, str], args: argparse.Namespace) -> Dict[str, str]:
    """The environment plus the first credentials found in the documented order (lib/credentials.py)."""
    load_settings(env)  # a bad COS_BUCKET is named before a missing key is looked for
    return with_credentials(env, credentials_for(env, args.profile))


def _unreachable_hint(exc: CloudUnavailableError, settings: Optional[Settings]) -> str:
    if settings is None:
        return ""
    if settings.emulator_url:
        return (f"COS_EMULATOR_URL={settings.emulator_url} sends every request there: is the emulator running "
                "(python -m emulator --port PORT)?")
    return (f"COS_BUCKET and COS_REGION point at {settings.bucket}.cos.{settings.region}.myqcloud.com (and .ci.): "
            f"check COS_REGION, the network, DNS, any HTTPS_PROXY, and API_TIMEOUT ({settings.api_timeout:g} s)")


@dataclass(frozen=True)
class Failure:
    """How a command that did not end well is told: its kind, message, fix and exit code (the README's table)."""

    kind: str
    message: str
    fix: str = ""
    code: int = EXIT_PROBLEM
    human: str = ""  # the line on stderr, when it is not `error: message` and the fix
    detail: Dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        return self.human or f"error: {self.message}" + (f"\n{self.fix}" if self.fix else "")

    def document(self) -> Dict[str, Any]:
        return {"error": {"kind": self.kind, "message": self.message, "fix": self.fix, "exit_code": self.code,
                          **self.detail}}


def _kind(exc: BaseException) -> str:
    """InventoryConfigError -> inventory_config: each of lib's error types is its own kind."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__.removesuffix("Error")).lower()


def describe_failure(exc: BaseException, settings: Optional[Settings]) -> Failure:
    """What went wrong, for a person (stderr) and for a script (--json): the same exit code either way."""
    if isinstance(exc, ProblemFound):
        return Failure(exc.kind, exc.message, exc.fix, EXIT_PROBLEM, human=exc.message + (f" ({exc.fix})" if exc.fix
                       else ""), detail=exc.detail)
    if isinstance(exc, UsageError):
        return Failure("usage", exc.message, exc.usage, EXIT_USAGE)
    if isinstance(exc, ConfigError):
        return Failure("settings", str(exc), "", EXIT_USAGE, detail={"problems": exc.problems})
    if isinstance(exc, (InvalidEventError, SafetyError)):
        return Failure(_kind(exc), str(exc), "", EXIT_USAGE)
    if isinstance(exc, CloudUnavailableError):
        return Failure("unreachable", str(exc), _unreachable_hint(exc, settings))
    if isinstance(exc, CloudApiError):
        answer = {"action": exc.action, "status": exc.status, "code": exc.code, "request_id": exc.request_id}
        if exc.code == "NoSuchBucket" and settings is not None:
            said = f"{exc.action} answered HTTP {exc.status} NoSuchBucket" + (
                f", RequestId {exc.request_id}" if exc.request_id else "")
            return Failure("no_such_bucket", f"COS_BUCKET={settings.bucket}: there is no such bucket in COS_REGION="
                           f"{settings.region} ({said})", "set COS_BUCKET to the BucketName-APPID of an existing "
                           "bucket and COS_REGION to its region, as the COS console's bucket list shows them",
                           detail=answer)
        if rejected(exc.code):  # a refused key is not done, like a missing one (lib/credentials.py REJECTED)
            return Failure("credentials", str(exc), "", EXIT_USAGE, detail=answer)
        return Failure("service", str(exc), "", detail=answer)
    if isinstance(exc, AppError):
        return Failure(_kind(exc), str(exc))
    return Failure("bug", f"unexpected {type(exc).__name__}: {exc} (a bug: please report it with the command)")


def _wants_json(argv: Sequence[str]) -> bool:
    """--json anywhere before `--`, read from the words themselves: an argument error must honour it too."""
    words = list(argv)
    return "--json" in (words[:words.index("--")] if "--" in words else words)


def main(argv: Optional[Sequence[str]] = None, *, environ: Optional[Mapping[str, str]] = None,
         stdin: Optional[IO[str]] = None, stdout: Optional[IO[str]] = None, stderr: Optional[IO[str]] = None,
         clock: Optional[Callable[[], datetime]] = None,
         client_factory: Optional[ClientFactory] = None,
         sleep: Callable[[float], None] = time.sleep) -> int:
    """Run one command; returns its exit code (see the module docstring). Never raises, never prints a traceback.

    A command that fails says so on stderr; with --json, also as one `{"error": {...}}` document on stdout."""
    stdin, stdout, stderr = stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr
    words = list(sys.argv[1:] if argv is None else argv)
    cli: Optional[Cli] = None
    try:
        parser = build_parser()
        args, extras = parser.parse_known_args(words)
        name = " ".join(command_words(args))
        if extras:  # argparse would blame the top-level parser; the subcommand's usage is the one that helps
            _subcommand(parser, command_words(args)).unrecognized(extras)
        env = dict(os.environ if environ is None else environ)
        if args.env_file:
            env.update(read_env_file(args.env_file))
        cli = Cli(args, env, stdin, stdout, stderr, clock or (lambda: datetime.now(timezone.utc)),
                  client_factory or make_client, sleep=sleep, needs_credentials=name in NEEDS_CREDENTIALS)
        return COMMANDS[name](cli)
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    except KeyboardInterrupt:
        failure = Failure("interrupted", "interrupted; nothing more was sent", code=EXIT_INTERRUPTED,
                          human="\ninterrupted; nothing more was sent")
    except Exception as exc:  # noqa: BLE001 - a bug must still end in words and an exit code, not a traceback
        failure = describe_failure(exc, cli.loaded if cli else None)
    stderr.write(failure.line() + "\n")
    if _wants_json(words):
        stdout.write(logs.json_text(json.dumps(failure.document(), indent=2, ensure_ascii=False, default=str)) + "\n")
    return failure.code
