"""Delivering a report: a JSON log line, JSON + Markdown objects in the bucket, and a chat webhook, independently."""
from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any, Callable, List, Optional, Tuple
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict

from lib import logs
from lib.client import CiClient
from lib.config import Settings
from lib.errors import AppError, DeliveryError
from lib.render import render_markdown, webhook_payload
from lib.report import ReportSummary
from lib.windows import as_utc

logger = logging.getLogger(__name__)


class DeliveryOutcome(BaseModel):
    """What happened on one channel; detail never contains the webhook URL."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    channel: str  # "log" | "cos" | "webhook"
    delivered: bool
    detail: str = ""


class ReportRun(BaseModel):
    """The report function's result: the summary and how each channel went."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    summary: ReportSummary
    deliveries: List[DeliveryOutcome]


def report_keys(prefix: str, moment: datetime) -> Tuple[str, str]:
    """`{prefix}YYYY/MM/DD/report-HHMMSSZ.json` and `.md`, dated by the timer's Time in UTC."""
    stamp = as_utc(moment)
    base = f"{prefix}{stamp:%Y/%m/%d}/report-{stamp:%H%M%S}Z"
    return f"{base}.json", f"{base}.md"


def should_notify(notify: str, summary: ReportSummary) -> bool:
    """`always`, or `on-problem`: only when something failed, is stuck, was flagged, or the threshold is crossed."""
    return notify == "always" or summary.problem


def write_report_objects(client: CiClient, prefix: str, summary: ReportSummary) -> Tuple[str, str]:
    """Put the JSON and Markdown reports; raises DeliveryError naming the key that failed."""
    json_key, md_key = report_keys(prefix, summary.window_end)
    for key, body, content_type in (
            (json_key, summary.model_dump_json(indent=2), "application/json"),
            (md_key, render_markdown(summary), "text/markdown; charset=utf-8")):
        try:
            client.put_object(key, body.encode("utf-8"), content_type)
        except AppError as exc:
            raise DeliveryError(f"report object {key} was not written: {exc}") from None
    return json_key, md_key


def redact(text: str, url: str) -> str:
    """Remove a secret URL from text: the whole URL, its path and query, and any long token inside them."""
    parsed = urlparse(url)
    secrets = [url, parsed.path + ("?" + parsed.query if parsed.query else ""), parsed.query, parsed.path]
    secrets += [p for p in re.split(r"[/?&=]", parsed.path + "&" + parsed.query) if len(p) >= 8]
    for secret in sorted({s for s in secrets if s and s != "/"}, key=len, reverse=True):
        text = text.replace(secret, "<redacted>")
    return text


def post_webhook(session: Any, url: str, fmt: str, payload: Any, timeout: float) -> None:
    """POST the payload; a transport error, a non-2xx status or an error code in the body raises DeliveryError.

    Messages name only the webhook's host: the URL carries the bot's key.
    """
    host = urlparse(url).hostname or "webhook"
    try:
        response = session.post(url, json=payload, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - requests raises many types; all mean "not delivered"
        raise DeliveryError(f"{fmt} webhook to {host} failed: {redact(f'{type(exc).__name__}: {exc}', url)}") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"{fmt} webhook to {host} answered HTTP {response.status_code}: "
                            f"{redact((response.text or '')[:200], url)}")
    problem = _body_error(fmt, response)
    if problem:
        raise DeliveryError(f"{fmt} webhook to {host} refused the message: {redact(problem, url)}")


def _body_error(fmt: str, response: Any) -> str:
    # WeCom and DingTalk answer 200 with errcode; Feishu with code (or StatusCode on older bots).
    if fmt not in ("wecom", "dingtalk", "feishu"):
        return ""
    try:
        body = response.json()
    except ValueError:
        return f"the answer is not JSON: {(response.text or '')[:100]}"
    if not isinstance(body, dict):
        return ""
    if fmt == "feishu":
        code = body.get("code", body.get("StatusCode", 0))
        message = body.get("msg", body.get("StatusMessage", ""))
    else:
        code, message = body.get("errcode", 0), body.get("errmsg", "")
    return "" if code in (0, "0", None) else f"code {code}: {message}"


def deliver_report(settings: Settings, summary: ReportSummary, *, client: CiClient, session: Any) -> List[DeliveryOutcome]:
    """Every configured channel, each on its own: one that fails is logged and the others still run."""
    logs.log("report", summary=summary.model_dump(mode="json", exclude={"jobs_with_objects"}))
    outcomes = [DeliveryOutcome(channel="log", delivered=True)]
    keys: Optional[Tuple[str, str]] = None

    def attempt(channel: str, action: Callable[[], str]) -> None:
        try:
            detail = action()
        except DeliveryError as exc:
            logs.log_error("report_delivery_failed", exc, channel=channel)
            outcomes.append(DeliveryOutcome(channel=channel, delivered=False, detail=str(exc)))
            return
        logs.log("report_delivered", channel=channel, detail=detail)
        outcomes.append(DeliveryOutcome(channel=channel, delivered=True, detail=detail))

    def to_cos() -> str:
        nonlocal keys
        keys = write_report_objects(client, settings.report_prefix, summary)
        return " ".join(keys)

    attempt("cos", to_cos)
    if settings.report_webhook_url is None:
        return outcomes
    if not should_notify(settings.report_notify, summary):
        outcomes.append(DeliveryOutcome(channel="webhook", delivered=False, detail="nothing to report (on-problem)"))
        return outcomes
    url = settings.report_webhook_url.get_secret_value()
    fmt = settings.report_webhook_format

    def to_webhook() -> str:
        payload = webhook_payload(fmt, summary, report_key=keys[1] if keys else None)
        post_webhook(session, url, fmt, payload, settings.api_timeout)
        return f"{fmt} message sent"

    attempt("webhook", to_webhook)
    return outcomes
