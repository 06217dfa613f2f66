"""Delivering a report: a JSON log line, the trend index, JSON + Markdown + HTML objects, a chat webhook, independently."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Callable, List, Optional, Tuple
from urllib.parse import quote, urlparse

from pydantic import BaseModel, ConfigDict

from lib import logs
from lib.client import CiClient
from lib.config import Settings
from lib.errors import AppError, DeliveryError
from lib.report.html import render_html
from lib.report.models import ReportSummary
from lib.report.render import failure_payload, plural, render_markdown, webhook_payload
from lib.report.trends import Trend, update_trends
from lib.windows import as_utc

# The COS console's file list, opened at a folder. The format is not documented; it is the one the console itself
# puts in the address bar, and public projects link to it (path is URL-encoded twice) - see docs/deploy.md.
CONSOLE_URL = "https://console.cloud.tencent.com/cos/bucket?bucket={bucket}&region={region}&path={path}"



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


def html_key(md_key: str) -> str:
    """The HTML page sits beside the Markdown report: same name, `.html`."""
    return md_key[: -len(".md")] + ".html"


def write_report_objects(client: CiClient, prefix: str, summary: ReportSummary,
                         trend: Optional[Trend] = None) -> Tuple[str, str, str]:
    """Put the JSON, Markdown and HTML reports; raises DeliveryError naming the key that failed."""
    json_key, md_key = report_keys(prefix, summary.window_end)
    page_key = html_key(md_key)
    for key, body, content_type in (
            (json_key, summary.model_dump_json(indent=2), "application/json"),
            (md_key, render_markdown(summary, trend), "text/markdown; charset=utf-8"),
            (page_key, render_html(summary, trend), "text/html; charset=utf-8")):
        try:
            client.put_object(key, body.encode("utf-8"), content_type)
        except AppError as exc:
            raise DeliveryError(f"report object {key} was not written: {exc}") from None
    return json_key, md_key, page_key


def console_link(bucket: str, region: str, key: str) -> str:
    """The console's file list at the folder holding key: durable, opens after a Tencent Cloud login."""
    folder = "/" + key.rsplit("/", 1)[0] + "/" if "/" in key else "/"
    return CONSOLE_URL.format(bucket=quote(bucket, safe=""), region=quote(region, safe=""),
                              path=quote(quote(folder, safe=""), safe=""))


def report_link(settings: Settings, client: CiClient, key: str) -> Optional[str]:
    """The link REPORT_LINK asks for, to the HTML report; None for `key` (the message names the key instead)."""
    if settings.report_link == "console":
        return console_link(settings.bucket, settings.region, key)
    if settings.report_link == "presigned":
        # Signed with the function's credentials: it stops working when they expire, whatever the setting says.
        return client.presigned_get_url(key, settings.report_link_expires)
    return None


def redact(text: str, url: str) -> str:
    """Remove a secret URL from text in any form it may be echoed in: the whole URL, its path and query, and any
    long token inside them, raw, percent-encoded (once or twice) or JSON-escaped (lib.logs.echoed_forms)."""
    return logs.scrub(text, logs.url_secrets(url))


# Slack's incoming webhooks answer an error as one documented word in the body (`no_service`, `invalid_payload`);
# anything else the target says is not repeated.
_SLACK_ERROR = re.compile(r"[a-z_]{1,40}")
_CODE = re.compile(r"-?\d{1,12}")


def post_webhook(session: Any, url: str, fmt: str, payload: Any, timeout: float) -> None:
    """POST the payload; a transport error, a non-2xx status or an error code in the body raises DeliveryError.

    Messages name only the webhook's host (the URL carries the bot's key) and, of the answer, only its status and the
    platform's documented error code: the body is the target's text, never repeated into a result or a log. A
    redirect is not followed (it could aim the report at another host) and counts as not delivered.
    """
    host = urlparse(url).hostname or "webhook"
    try:
        response = session.post(url, json=payload, timeout=timeout, allow_redirects=False)
    except Exception as exc:  # noqa: BLE001 - requests raises many types; all mean "not delivered"
        raise DeliveryError(f"{fmt} webhook to {host} failed: {redact(f'{type(exc).__name__}: {exc}', url)}") from None
    if not 200 <= response.status_code < 300:
        word = (response.text or "").strip() if fmt == "slack" else ""
        said = f": {word}" if _SLACK_ERROR.fullmatch(word) else ""
        raise DeliveryError(f"{fmt} webhook to {host} answered HTTP {response.status_code}{said}")
    problem = _body_error(fmt, response)
    if problem:
        raise DeliveryError(f"{fmt} webhook to {host} refused the message: {problem}")


def _body_error(fmt: str, response: Any) -> str:
    """The platform's error code from a 200 answer ('' when it says ok), as a number only.

    WeCom and DingTalk answer with errcode, Feishu with code (or StatusCode on older bots); their error messages
    are left out with the rest of the body."""
    if fmt not in ("wecom", "dingtalk", "feishu"):
        return ""
    try:
        body = response.json()
    except ValueError:
        return "the answer is not JSON"
    if not isinstance(body, dict):
        return ""
    code = body.get("code", body.get("StatusCode", 0)) if fmt == "feishu" else body.get("errcode", 0)
    if code in (0, "0", None):
        return ""
    shown = str(code)
    return f"code {shown}" if not isinstance(code, bool) and _CODE.fullmatch(shown) else "an error code that is not a number"


def deliver_report(settings: Settings, summary: ReportSummary, *, client: CiClient, session: Any) -> List[DeliveryOutcome]:
    """Every configured channel, each on its own: one that fails is logged and the others still run."""
    logs.log("report", summary=summary.model_dump(mode="json", exclude={"jobs_with_objects"}))
    outcomes = [DeliveryOutcome(channel="log", delivered=True)]
    keys: Optional[Tuple[str, str, str]] = None
    trend = update_trends(client, settings.state_prefix, summary)
    outcomes.append(DeliveryOutcome(channel="trends", delivered=not trend.notes,
                                    detail="; ".join(trend.notes) or f"{plural(trend.days_compared, 'earlier day')} compared"))

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
        keys = write_report_objects(client, settings.report_prefix, summary, trend)
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
        link = None
        if keys:
            try:
                link = report_link(settings, client, keys[2])
            except AppError as exc:  # the message still names the key; say why there is no link
                logs.log_error("report_link_failed", exc, channel="webhook")
        payload = webhook_payload(fmt, summary, report_key=keys[2] if keys else None, trend=trend, link=link)
        post_webhook(session, url, fmt, payload, settings.api_timeout)
        return f"{fmt} message sent"

    attempt("webhook", to_webhook)
    return outcomes


def notify_failure(settings: Settings, error: AppError, *, session: Any) -> DeliveryOutcome:
    """A report that could not be made is a problem: the webhook says so, whatever REPORT_NOTIFY, and why."""
    if settings.report_webhook_url is None:
        return DeliveryOutcome(channel="webhook", delivered=False, detail="no REPORT_WEBHOOK_URL")
    fmt = settings.report_webhook_format
    payload = failure_payload(fmt, settings.bucket, settings.region, logs.scrubbed(str(error)))
    try:
        post_webhook(session, settings.report_webhook_url.get_secret_value(), fmt, payload, settings.api_timeout)
    except DeliveryError as exc:
        logs.log_error("report_delivery_failed", exc, channel="webhook")
        return DeliveryOutcome(channel="webhook", delivered=False, detail=str(exc))
    logs.log("report_delivered", channel="webhook", detail="report not made: failure sent")
    return DeliveryOutcome(channel="webhook", delivered=True, detail=f"{fmt} message sent: the report was not made")
