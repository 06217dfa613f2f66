"""SCF entry point `report`: a timer tick summarises the window's batch jobs and delivers the report."""
from __future__ import annotations

import os
from functools import partial
from typing import Any, Dict, Mapping

from handlers import frozen_imports

with frozen_imports():
    import qcloud_cos  # noqa: F401 - lib imports it on first use; here it is imported with the rest, frozen
    import requests

    from lib.client import make_client
    from lib.config import Settings
    from lib.errors import AppError
    from lib.events import TimerEvent
    from lib.invocation import ClientFactory, Invocation, handle
    from lib.report.build import build_report, connections_needed
    from lib.report.delivery import ReportRun, deliver_report, notify_failure


def _run(event: Any, settings: Settings, invocation: Invocation, *, client_factory: ClientFactory) -> Dict[str, Any]:
    if not isinstance(event, TimerEvent):
        # Retrying a COS event here can never produce a report: skip it cleanly rather than raise.
        return {"function": "report", "skipped": True, "reason": "the report function runs on timer events only"}
    client = client_factory(settings, pool_size=connections_needed(settings))
    try:
        summary = build_report(settings, client, event.time, deadline=invocation.deadline)
    except AppError as exc:
        # No report at all is the biggest problem a report can have: the chat hears of it, then SCF logs the failure.
        with requests.Session() as session:
            notify_failure(settings, exc, session=session)
        raise
    with requests.Session() as session:
        deliveries = deliver_report(settings, summary, client=client, session=session)
    # Per-object lists can run to thousands of lines: they live in the COS report, not in SCF's log of the result.
    return ReportRun(summary=summary, deliveries=deliveries).model_dump(
        mode="json", exclude={"summary": {"jobs_with_objects"}})


def invoke(event: Any, context: Any, *, environ: Mapping[str, str], client_factory: ClientFactory) -> Dict[str, Any]:
    """One invocation with its environment and client factory passed in; on SCF, os.environ and make_client."""
    return handle("report", event, context, partial(_run, client_factory=client_factory), environ=environ,
                  logged=_not_logged_yet)


def _not_logged_yet(result: Dict[str, Any]) -> Dict[str, Any]:
    # The summary is logged once, as the "report" line (lib.report.delivery, the log channel): run_done adds how
    # each channel went rather than a second copy nested as summary.summary (issue 27).
    if "summary" not in result:
        return {"summary": result}  # a skipped event: its reason
    return {"deliveries": result.get("deliveries", [])}


def main_handler(event: Dict[str, Any], context: Any) -> Dict[str, Any]:
    return invoke(event, context, environ=os.environ, client_factory=make_client)
