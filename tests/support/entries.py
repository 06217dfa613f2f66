"""The functions' entries as SCF calls them, with the side effects a test controls passed in, never patched."""
from __future__ import annotations

import os
from datetime import datetime
from typing import Any, Callable, Dict, Mapping, Optional

import handlers.report
import handlers.submit
from lib.client import CiClient, make_client
from lib.config import Settings
from lib.submit.coalesce import FlushMemory
from tests.support.events import EVENT_CLOCK

Entry = Callable[[Any, Any], Dict[str, Any]]


def no_sleep(_seconds: float) -> None:
    """Back-off without waiting: retries happen at once."""


def quick_client(settings: Settings, *, pool_size: Optional[int] = None) -> CiClient:
    """The app's client, retrying without back-off sleeps."""
    return make_client(settings, sleep=no_sleep, pool_size=pool_size)


def submit_entry(*, environ: Optional[Mapping[str, str]] = None, clock: Optional[Callable[[], datetime]] = None,
                 cold: bool = False) -> Entry:
    """handlers.submit's entry on `environ` (the process's, read at each call, by default), without back-off sleeps;
    `clock` is the function's clock, and `cold` gives it a warm instance of its own that has flushed nothing yet."""
    memory = FlushMemory() if cold else None

    def entry(event: Any, context: Any) -> Dict[str, Any]:
        return handlers.submit.invoke(event, context, environ=os.environ if environ is None else environ,
                                      client_factory=quick_client, clock=clock, sleep=no_sleep, memory=memory)

    return entry


def report_entry(*, environ: Optional[Mapping[str, str]] = None) -> Entry:
    """handlers.report's entry on `environ` (the process's by default), without back-off sleeps."""

    def entry(event: Any, context: Any) -> Dict[str, Any]:
        return handlers.report.invoke(event, context, environ=os.environ if environ is None else environ,
                                      client_factory=quick_client)

    return entry


def submit_in_mode(upload_mode: str) -> Entry:
    """The submit function for an upload test in `upload_mode` (per-event or coalescing); coalescing runs on
    EVENT_CLOCK, in a cold instance of its own, so cos_event's slot flushes at once."""
    return submit_entry(clock=lambda: EVENT_CLOCK, cold=True) if upload_mode == "coalescing" else submit_entry()
