"""The ops CLI (`python -m lib.cli ...`): list, inspect and cancel batch jobs, dry-run a submit, print a report.

Exit codes: 0 ok; 1 a problem was found (failed/stuck jobs, flagged images, a job that does not exist, a cancel
declined) or a call failed; 2 usage or configuration error.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from datetime import datetime, timedelta, timezone
from typing import IO, Any, Callable, Dict, List, Mapping, Optional, Sequence

from lib.client import CiClient, JobDetail, make_client
from lib.config import Settings, load_settings
from lib.errors import AppError, ConfigError, InvalidEventError
from lib.windows import Window, as_utc, format_ci_time, parse_ci_time, parse_duration

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2
STATES = ("Submitted", "Running", "Success", "Failed", "Pause", "Cancel")
TERMINAL = frozenset({"Success", "Failed", "Cancel"})


class UsageError(Exception):
    """Bad arguments, an unreadable file or a bad time filter: exit 2 with this message."""


class _Parser(argparse.ArgumentParser):
    # argparse would print to sys.stderr and exit; raise instead so main() owns the streams and the exit code.
    def error(self, message: str) -> Any:
        raise UsageError(f"{message}\n{self.format_usage().strip()}")


class Cli:
    """One invocation's I/O: streams, environment, clock and client factory, all passed in so tests drive it."""

    def __init__(self, args: argparse.Namespace, environ: Mapping[str, str], stdin: IO[str], stdout: IO[str],
                 stderr: IO[str], clock: Callable[[], datetime], client_factory: Callable[[Settings], CiClient]):
        self.args, self.environ = args, environ
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.clock, self.client_factory = clock, client_factory

    def out(self, text: str) -> None:
        self.stdout.write(text if text.endswith("\n") else text + "\n")

    def out_json(self, data: Any) -> None:
        self.out(json.dumps(data, indent=2, ensure_ascii=False, default=str))

    def settings(self, overrides: Optional[Mapping[str, Any]] = None) -> Settings:
        return load_settings(self.environ, overrides)

    def client(self, settings: Settings) -> CiClient:
        return self.client_factory(settings)

    def progress(self) -> Optional[Callable[[str], None]]:
        """Page-by-page progress on stderr, only for a person watching a terminal."""
        if self.args.quiet or not getattr(self.stderr, "isatty", lambda: False)():
            return None

        def show(message: str) -> None:
            self.stderr.write(f"\r\033[K{message}")
            self.stderr.flush()

        return show

    def end_progress(self, shown: Optional[Callable[[str], None]]) -> None:
        if shown is not None:
            self.stderr.write("\r\033[K")


# --- arguments --------------------------------------------------------------------------------------------

def _time(text: str) -> datetime:
    """ISO 8601 or CI's `+0800` form, or a bare date (UTC midnight); naive times are UTC."""
    value = text.strip()
    try:
        return parse_ci_time(value) or _fail_time(text)
    except ValueError:
        pass
    try:
        return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return _fail_time(text)


def _fail_time(text: str) -> datetime:
    raise UsageError(f"{text!r} is not a time; use e.g. 2026-11-28T10:00:00+08:00, 2026-11-28T02:00:00Z "
                     "or 2026-11-28 (UTC)")


def _duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _range(args: argparse.Namespace, now: datetime) -> Window:
    """The creation-time range from --since or --start/--end; start None means no lower bound."""
    if args.since and args.start:
        raise UsageError("give --since or --start, not both")
    end = _time(args.end) if args.end else None
    start = _time(args.start) if args.start else None
    if args.since:
        start = (end or now) - _duration(args.since)
    if start is not None and end is not None and start > end:
        raise UsageError(f"--start {format_ci_time(start)} is after --end {format_ci_time(end)}")
    return Window(start, end or now)


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("--env-file", metavar="FILE", help="KEY=VALUE lines, read over the environment")
    common.add_argument("--json", action="store_true", help="machine-readable output")
    common.add_argument("--quiet", action="store_true", help="no progress on stderr")

    parser = _Parser(prog="python -m lib.cli", description=__doc__.split("\n")[0],
                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n", 2)[2])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    jobs = commands.add_parser("jobs", help="list, show or cancel batch jobs")
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
    get = jobs_commands.add_parser("get", parents=[common], help="show one job")
    get.add_argument("job_id")
    cancel = jobs_commands.add_parser("cancel", parents=[common], help="cancel one job (asks first)")
    cancel.add_argument("job_id")
    cancel.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    twins = jobs_commands.add_parser("duplicates", parents=[common], help="live jobs of ours that share a name")
    twins.add_argument("--since", metavar="DURATION", default="7d", help="created in the last DURATION (default 7d)")

    submit = commands.add_parser("submit", parents=[common], help="show the job a submit would create")
    submit.add_argument("--dry-run", action="store_true", help="print the XML body; send nothing")
    submit.add_argument("--event", metavar="FILE", help="timer or COS event JSON (default: a timer tick now)")
    submit.add_argument("--since", metavar="DURATION", help="window length for an incremental rule (default: "
                        "FIRST_RUN_LOOKBACK; the checkpoint is not read)")

    report = commands.add_parser("report", parents=[common], help="summarise the jobs of a window")
    report.add_argument("--since", metavar="DURATION", help="window length (default: REPORT_LOOKBACK)")
    report.add_argument("--all-jobs", action="store_true", help="include jobs not named JOB_NAME_PREFIX-*")

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
    window = _range(args, as_utc(cli.clock()))
    states = [s.strip() for part in args.state for s in part.split(",") if s.strip()]
    bad = [s for s in states if s not in STATES]
    if bad:
        raise UsageError(f"--state {', '.join(bad)}: not a state; use {', '.join(STATES)}")
    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be at least 1")
    filters: Dict[str, Any] = {"States": ",".join(states) or "All", "OrderByTime": args.order}
    if args.end:
        # Without --end there is no upper bound: "now" in whole seconds would drop a job created this second.
        filters["EndCreationTime"] = format_ci_time(window.end)
    if window.start is not None:
        filters["StartCreationTime"] = format_ci_time(window.start)
    for key, value in (("Name", args.name), ("JobId", args.job_id), ("WorkflowId", args.workflow_id)):
        if value:
            filters[key] = value
    if args.limit is not None and args.limit < 100:
        filters["size"] = args.limit  # one small page instead of a full one
    client = cli.client(cli.settings())
    types = ("Job", "Workflow") if args.type == "all" else (args.type,)
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
        from lib.render import render_jobs_table

        cli.out(render_jobs_table(jobs) + f"{len(jobs)} job(s)")
    return EXIT_OK


def cmd_jobs_get(cli: Cli) -> int:
    job = cli.client(cli.settings()).get_job(cli.args.job_id)
    if job is None:
        cli.stderr.write(f"no batch job {cli.args.job_id} in this bucket\n")
        return EXIT_PROBLEM
    if cli.args.json:
        cli.out_json(job.model_dump())
    else:
        from lib.render import render_job

        cli.out(render_job(job))
    return EXIT_OK


def cmd_jobs_cancel(cli: Cli) -> int:
    client = cli.client(cli.settings())
    job = client.get_job(cli.args.job_id)
    if job is None:
        cli.stderr.write(f"no batch job {cli.args.job_id} in this bucket\n")
        return EXIT_PROBLEM
    if job.State in TERMINAL:
        cli.stderr.write(f"job {job.JobId} is already {job.State}; nothing to cancel\n")
        return EXIT_PROBLEM
    if not cli.args.yes:
        cli.stderr.write(f"Cancel job {job.JobId} ({job.Name}, {job.State})? [y/N] ")
        cli.stderr.flush()
        answer = cli.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            cli.stderr.write("not cancelled\n")
            return EXIT_PROBLEM
    client.cancel_job(job.JobId)
    if cli.args.json:
        cli.out_json({"job_id": job.JobId, "cancelled": True, "previous_state": job.State})
    else:
        cli.out(f"cancelled {job.JobId} (was {job.State})")
    return EXIT_OK


def cmd_jobs_duplicates(cli: Cli) -> int:
    """List names held by more than one live job of ours (exit 1 if any); the report cancels per its setting."""
    from lib.duplicates import describe, find_duplicates
    from lib.jobs import is_our_job

    settings = cli.settings()
    start = format_ci_time(as_utc(cli.clock()) - _duration(cli.args.since))
    client = cli.client(settings)
    found = find_duplicates(j for t in ("Job", "Workflow") for j in client.iter_jobs(t, States="All",
                            StartCreationTime=start) if is_our_job(j.Name, settings.job_name_prefix))
    if cli.args.json:
        cli.out_json([d.model_dump() for d in found])
    else:
        cli.out("".join(describe(d) + "\n" for d in found) + f"{len(found)} name(s) held by more than one live job")
    return EXIT_PROBLEM if found else EXIT_OK


def cmd_submit(cli: Cli) -> int:
    """Print what a submit would send: no state read, no credentials needed, nothing sent."""
    import xmltodict

    from lib.events import TimerEvent, parse_event
    from lib.invocation import settings_for
    from lib.submit import check_safety, plan_timer_window, plan_upload, rule_of, select_uploads, timer_body

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
    result: Dict[str, Any] = {}
    if isinstance(event, TimerEvent):
        window = plan_timer_window(settings, event.time, None)
        assert window is not None  # without a checkpoint an incremental window is never empty
        if args.since:
            window = Window(event.time - _duration(args.since), event.time)
        body = timer_body(settings, rule_of(settings, event), window)
        result["window"] = {"start": format_ci_time(window.start) if window.start else None,
                            "end": format_ci_time(window.end)}
    else:
        objects, skipped = select_uploads(settings, event)
        result["skipped"] = [s.model_dump() for s in skipped]
        if not objects:
            result["note"] = "nothing to inspect in this event"
            if args.json:
                cli.out_json(result)
            else:
                cli.out(result["note"])
            return EXIT_OK
        plan = plan_upload(settings, objects)
        body = plan.body
        if plan.manifest_key:
            result["manifest"] = {"key": plan.manifest_key, "text": plan.manifest_text}
    xml = xmltodict.unparse({"Request": body.to_sdk()})
    if args.json:
        cli.out_json({"name": body.Name, "xml": xml, **result})
        return EXIT_OK
    cli.out(xml)
    if "manifest" in result:
        cli.stderr.write(f"(would first write {result['manifest']['key']}:)\n{result['manifest']['text']}")
    return EXIT_OK


def cmd_report(cli: Cli) -> int:
    from lib.render import render_summary_table
    from lib.report import build_report

    args = cli.args
    overrides = {"REPORT_ALL_JOBS": "true"} if args.all_jobs else None
    settings = cli.settings(overrides)
    lookback = _duration(args.since) if args.since else None
    shown = cli.progress()
    # CI reports whole seconds: end one second past now so a job created this second is in the report.
    end = as_utc(cli.clock()).replace(microsecond=0) + timedelta(seconds=1)
    summary = build_report(settings, cli.client(settings), end, lookback=lookback, progress=shown)
    cli.end_progress(shown)
    if args.json:
        cli.out_json(summary.model_dump(mode="json"))
    else:
        cli.out(render_summary_table(summary))
    return EXIT_PROBLEM if summary.problem else EXIT_OK


def cmd_invoke(cli: Cli) -> int:
    """Run handlers.<function>.main_handler as SCF would, with the CLI's environment in os.environ."""
    import importlib

    event = _read_event(cli.args.event_file)
    handler = importlib.import_module(f"handlers.{cli.args.function}").main_handler
    context = {"request_id": f"cli-{uuid.uuid4().hex[:12]}", "function_name": cli.args.function,
               "time_limit_in_ms": 900000, "memory_limit_in_mb": 256}
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(cli.environ)  # the handler reads os.environ, as it does on SCF
    try:
        result = handler(event, context)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    cli.out_json(result)
    summary = result.get("summary") if isinstance(result, dict) else None
    return EXIT_PROBLEM if isinstance(summary, dict) and summary.get("problem") else EXIT_OK


COMMANDS: Dict[str, Callable[[Cli], int]] = {
    "jobs list": cmd_jobs_list, "jobs get": cmd_jobs_get, "jobs cancel": cmd_jobs_cancel,
    "jobs duplicates": cmd_jobs_duplicates,
    "submit": cmd_submit, "report": cmd_report, "invoke": cmd_invoke,
}


def main(argv: Optional[Sequence[str]] = None, *, environ: Optional[Mapping[str, str]] = None,
         stdin: Optional[IO[str]] = None, stdout: Optional[IO[str]] = None, stderr: Optional[IO[str]] = None,
         clock: Optional[Callable[[], datetime]] = None,
         client_factory: Optional[Callable[[Settings], CiClient]] = None) -> int:
    """Run one command; returns the exit code (0 ok, 1 problem found or call failed, 2 usage/config)."""
    stdin, stdout, stderr = stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr
    try:
        args = build_parser().parse_args(argv)
        env = dict(os.environ if environ is None else environ)
        if args.env_file:
            env.update(read_env_file(args.env_file))
        cli = Cli(args, env, stdin, stdout, stderr, clock or (lambda: datetime.now(timezone.utc)),
                  client_factory or make_client)
        name = args.command + (f" {args.jobs_command}" if args.command == "jobs" else "")
        return COMMANDS[name](cli)
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    except UsageError as exc:
        stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    except (ConfigError, InvalidEventError) as exc:
        stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    except AppError as exc:
        stderr.write(f"error: {exc}\n")
        return EXIT_PROBLEM


if __name__ == "__main__":
    sys.exit(main())
