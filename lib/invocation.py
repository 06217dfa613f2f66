"""What every handler does around its one lib call: logging, settings per trigger, and how failures surface."""
from __future__ import annotations

import os
from typing import Any, Callable, Dict, Mapping, Optional

from lib import logs
from lib.config import Settings, load_settings, parse_timer_argument
from lib.errors import AppError, InvalidEventError
from lib.events import CosEvent, TimerEvent, parse_event


def request_id(context: Any) -> Optional[str]:
    # SCF's Python runtime passes context as a dict; tolerate anything else.
    return context.get("request_id") if isinstance(context, dict) else None


def settings_for(event: Any, environ: Mapping[str, str]) -> Settings:
    """Function-wide settings, overridden by a timer trigger's JSON argument."""
    overrides = parse_timer_argument(event.message) if isinstance(event, TimerEvent) else None
    return load_settings(environ, overrides)


def handle(function: str, raw_event: Any, context: Any,
           run: Callable[[Any, Settings, Optional[str]], Dict[str, Any]],
           environ: Optional[Mapping[str, str]] = None) -> Dict[str, Any]:
    """Parse, load settings, run; a malformed event is a clean skip, anything else that fails raises for SCF."""
    logs.configure()
    rid = request_id(context)
    try:
        event = parse_event(raw_event)
    except InvalidEventError as exc:
        # Retrying a malformed event can never succeed, so do not raise (SCF would retry it twice).
        logs.log("event_rejected", function=function, request_id=rid, reason=str(exc))
        return {"function": function, "skipped": True, "reason": str(exc)}
    try:
        settings = settings_for(event, os.environ if environ is None else environ)
        summary = run(event, settings, rid)
    except AppError as exc:
        logs.log_error("run_failed", exc, function=function, request_id=rid)
        raise
    logs.log("run_done", function=function, request_id=rid, summary=summary)
    return summary


def trigger_of(event: Any) -> str:
    return "timer" if isinstance(event, TimerEvent) else "cos" if isinstance(event, CosEvent) else "unknown"
