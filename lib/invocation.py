"""What every handler does around its one lib call: logging, settings per trigger, and how failures surface."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, Mapping, Optional, Protocol

from lib import logs
from lib.config import Settings, load_settings, parse_timer_argument
from lib.errors import AppError, InvalidEventError, SafetyError
from lib.events import TimerEvent, parse_event

if TYPE_CHECKING:
    from lib.client import CiClient

# Share of the function's time limit a run may spend before it wraps up (delivery, checkpoints) instead.
WORK_SHARE = 0.7


class ClientFactory(Protocol):
    """Makes a run's client: lib.client.make_client on SCF; pool_size sizes its connection pool (the report's readers)."""

    def __call__(self, settings: Settings, *, pool_size: Optional[int] = None) -> CiClient: ...


@dataclass(frozen=True)
class Invocation:
    """What a run needs from SCF's context: its request id, and when it must stop starting new work."""

    request_id: Optional[str] = None
    deadline: Optional[float] = None  # time.monotonic() value; None when the context gives no time limit
    time_limit: Optional[float] = None  # seconds SCF gives this run before killing it


def invocation_of(context: Any, monotonic: Callable[[], float] = time.monotonic) -> Invocation:
    # SCF's Python runtime passes context as a dict; tolerate anything else.
    if not isinstance(context, dict):
        return Invocation()
    rid = context.get("request_id")
    limit = context.get("time_limit_in_ms")
    deadline = time_limit = None
    if isinstance(limit, (int, float)) and not isinstance(limit, bool) and limit > 0:
        time_limit = limit / 1000.0
        deadline = monotonic() + WORK_SHARE * time_limit
    return Invocation(request_id=str(rid) if rid else None, deadline=deadline, time_limit=time_limit)


def settings_for(event: Any, environ: Mapping[str, str]) -> Settings:
    """Function-wide settings, overridden by a timer trigger's JSON argument (never into a more destructive run)."""
    overrides = parse_timer_argument(event.message) if isinstance(event, TimerEvent) else None
    if not overrides:
        return load_settings(environ)
    settings = load_settings(environ, overrides)
    check_narrower(load_settings(environ), settings)
    return settings


def check_narrower(function_wide: Settings, overridden: Settings) -> None:
    """A timer argument may make a run delete objects only where the function-wide settings already do.

    Deleting needs INSPECT_AUTO_PROCESS=true and INSPECT_PROCESS_TYPE=DeleteObject (a Job run) in the environment
    itself, and then the argument's INPUT_PREFIX must lie inside the environment's: an argument narrows, never widens.
    """
    if not overridden.deletes_objects:
        return
    if not function_wide.deletes_objects:
        raise SafetyError("timer argument makes this run delete flagged objects (INSPECT_AUTO_PROCESS=true, "
                          "INSPECT_PROCESS_TYPE=DeleteObject, JOB_TYPE=Job) but the function-wide settings do not: "
                          "deleting is switched on in the function's environment (serverless.yml) only; remove "
                          "these keys from the trigger's argument or use BackupObject")
    if not (function_wide.whole_bucket or (not overridden.whole_bucket
                                           and overridden.input_prefix.startswith(function_wide.input_prefix))):
        raise SafetyError(f"timer argument INPUT_PREFIX={overridden.input_prefix!r} is outside the function-wide "
                          f"INPUT_PREFIX={function_wide.input_prefix!r} of a run that deletes objects: an argument "
                          "may only narrow where deleting happens; use a folder under it")


def handle(function: str, raw_event: Any, context: Any,
           run: Callable[[Any, Settings, Invocation], Dict[str, Any]], *, environ: Mapping[str, str],
           logged: Optional[Callable[[Dict[str, Any]], Dict[str, Any]]] = None) -> Dict[str, Any]:
    """Parse, load settings from environ, run; a malformed event is a clean skip, anything else that fails raises.

    `run_done` carries `logged(result)` (default: the result as `summary`): what the run did not log already."""
    logs.configure()
    # Before anything is read: no log line or result of this run may carry these, in any encoding (lib.logs).
    logs.keep_secrets(*(environ.get(k) for k in SECRET_VARIABLES), urls=[environ.get("REPORT_WEBHOOK_URL")])
    invocation = invocation_of(context)
    rid = invocation.request_id
    try:
        event = parse_event(raw_event)
    except InvalidEventError as exc:
        # Retrying a malformed event can never succeed, so do not raise (SCF would retry it twice).
        logs.log("event_rejected", function=function, request_id=rid, reason=str(exc))
        return _without_secrets({"function": function, "skipped": True, "reason": str(exc)})
    try:
        settings = settings_for(event, environ)
        summary = run(event, settings, invocation)
    except AppError as exc:
        logs.log_error("run_failed", exc, function=function, request_id=rid)
        clean = logs.scrubbed(str(exc))
        if clean != str(exc):
            exc.args = (clean,)  # SCF logs the raised error's text too
        raise
    logs.log("run_done", function=function, request_id=rid, **(logged(summary) if logged else {"summary": summary}))
    return _without_secrets(summary)


SECRET_VARIABLES = ("TENCENTCLOUD_SECRETID", "TENCENTCLOUD_SECRETKEY", "TENCENTCLOUD_SESSIONTOKEN")


def _without_secrets(result: Dict[str, Any]) -> Dict[str, Any]:
    """The result as it is, or, should a secret have slipped into it, with every form of it redacted."""
    text = json.dumps(result, ensure_ascii=False, default=str)
    clean = logs.scrubbed(text)
    return result if clean == text else json.loads(clean)
