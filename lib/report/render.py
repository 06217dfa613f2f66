"""Rendering, pure: the Markdown report, the short chat message and webhook payloads, and terminal tables."""
from __future__ import annotations

import shlex
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

from lib import escape
from lib.report.models import (
    FlaggedReview,
    InventoryLine,
    JobLine,
    JobSpend,
    ObjectLine,
    PlanLine,
    ReportSummary,
    Spend,
    SpendFigures,
    headline,
)
from lib.report.trends import COMPARE_DAYS, Trend, TrendRow
from lib.spend import PRICE_SOURCE
from lib.windows import as_utc, format_duration

# WeCom caps markdown content at 4096 bytes; the other platforms allow more, one limit keeps messages alike.
MESSAGE_LIMIT_BYTES = 4000
MESSAGE_ITEMS = 5  # failed / stuck jobs and flagged objects named in a chat message
TITLE = "cos-batch-autopilot report"
SPARK_BARS = "▁▂▃▄▅▆▇█"
SPARK_GAP = "·"  # a day without a report: a gap, not a zero


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def utc(moment: Optional[datetime]) -> str:
    return as_utc(moment).strftime("%Y-%m-%d %H:%M:%SZ") if moment else "-"


def window_text(summary: ReportSummary) -> str:
    return f"{utc(summary.window_start)} → {utc(summary.window_end)}"


def age_text(seconds: Optional[int]) -> str:
    return format_duration(timedelta(seconds=seconds)) if seconds is not None else "?"


# A flagged image CI did not act on (INSPECT_AUTO_PROCESS=false, or no action reported): the same words in `jobs get`,
# the chat message, and every report format, never a blank in one and other words in another (issue 27).
LEFT_IN_PLACE = "flagged, left in place (CI took no action)"


def action_text(obj: ObjectLine) -> str:
    """What CI did to the object: its action, or LEFT_IN_PLACE for a flagged image it did nothing to."""
    return obj.action or (LEFT_IN_PLACE if obj.suspicious else "")


def outcome_text(obj: ObjectLine) -> str:
    """One ACTION/ERROR cell: the action, else the error, else LEFT_IN_PLACE for a flagged image."""
    return obj.action or obj.error or action_text(obj)


def offsets_text(obj: ObjectLine) -> str:
    if obj.begin_byte is None and obj.end_byte is None:
        return ""
    return f"bytes {obj.begin_byte}-{obj.end_byte}"


def _state_totals(summary: ReportSummary, inert: Callable[[object], str] = escape.terminal) -> str:
    totals: Dict[str, int] = {}
    for row in summary.counts:
        totals[row.state] = totals.get(row.state, 0) + row.count
    return ", ".join(f"{n} {inert(state)}" for state, n in sorted(totals.items())) or "none"


def _flagged(summary: ReportSummary) -> List[ObjectLine]:
    return [o for job in summary.jobs_with_objects for o in job.objects if o.suspicious]


# --- review of flagged images (lib.report.review, `python -m ops flagged`) ------------------------------

FLAGGED_LIST = "python -m ops flagged list"
REVIEW_VERBS = ("restore", "release")


def review_command(verb: str, key: str) -> str:
    """`python -m ops flagged restore 'KEY'`: the key, which the uploader chose, shell-quoted; after `--` when it
    starts with `-`, which the CLI's parser would otherwise read as an option."""
    return f"python -m ops flagged {verb} {'-- ' if key.startswith('-') else ''}{shlex.quote(key)}"


def review_text(review: FlaggedReview) -> str:
    """`2 flagged images await review (1 restored)`, or why that is unknown; the command to list them follows it."""
    if review.pending is None:
        text = "whether the flagged images await review is unknown: the review records could not be read"
    else:
        n = review.pending
        text = f"{n} flagged image{'' if n == 1 else 's'} await{'s' if n == 1 else ''} review"
        done = ", ".join(f"{count} {word}" for count, word in ((review.restored, "restored"),
                                                               (review.released, "released")) if count)
        text += f" ({done})" if done else ""
    if review.unlisted:
        text += f"; {plural(review.unlisted, 'more flagged image')} past the report's lists not checked"
    return text


# --- the chat message --------------------------------------------------------------------------------

# What makes a key, name or message inert in each style's messages (lib/escape.py): WeCom and DingTalk share
# `markdown` and one subset of it; Slack `mrkdwn`; Feishu `text`.
STYLE_ESCAPES: Dict[str, Callable[[object], str]] = {"markdown": escape.wecom_markdown, "mrkdwn": escape.slack_mrkdwn,
                                                     "text": escape.feishu_text}


def render_message(summary: ReportSummary, *, style: str = "markdown", report_key: Optional[str] = None,
                   limit: int = MESSAGE_LIMIT_BYTES, trend: Optional[Trend] = None,
                   link: Optional[str] = None, inert: Optional[Callable[[object], str]] = None) -> str:
    """A short message: verdict, counts, trend, the first few failed/stuck jobs and flagged images, where to look.

    style is `markdown` (WeCom, DingTalk), `mrkdwn` (Slack) or `text` (Feishu text messages); `link` (a URL that
    opens the report) replaces the bare `report_key` line. Every text the service or a bucket writer chose (keys,
    job ids and names, codes, messages, notes) passes through `inert` (default: the style's lib.escape function).
    """
    bold = {"markdown": "**{}**", "mrkdwn": "*{}*", "text": "{}"}[style]
    code_span = "{}" if style == "text" else "`{}`"
    inert = inert or STYLE_ESCAPES[style]

    def code(value: object) -> str:
        return code_span.format(inert(value))

    _, verdict = headline(summary)
    lines = [bold.format(f"{TITLE}: {verdict}"),
             f"bucket {code(summary.bucket)}, window {window_text(summary)}"]
    if summary.irreversible:  # before anything the chat limit could cut
        lines.append(bold.format(f"warning: {inert(summary.irreversible)}"))
    lines.append(f"jobs by state: {_state_totals(summary, inert)}")
    if summary.failing:
        lines.append(f"failed share {summary.failed_share:.1%} is above REPORT_FAIL_ABOVE {summary.fail_above:.1%}")
    if trend is not None:
        lines += trend_lines(trend)
    lines += _job_items("failed", summary.failed, summary.failed_total, code, inert,
                        lambda j: f"{j.code} {j.message}".strip() or "no message")
    lines += _job_items("stuck", summary.stuck, summary.stuck_total, code, inert,
                        lambda j: f"{j.state} for {age_text(j.age_seconds)}")
    objects = summary.objects
    if objects.suspicious:
        lines.append(bold.format(f"flagged images: {objects.suspicious} (acted on {objects.acted})"))
        if summary.review is not None:
            lines.append(f"{inert(review_text(summary.review))}: {code(FLAGGED_LIST)}")
        flagged = _flagged(summary)
        for obj in flagged[:MESSAGE_ITEMS]:
            review = f"review {obj.review}" if obj.review else ""
            detail = ", ".join(p for p in (obj.suspicious_type, offsets_text(obj), action_text(obj), review) if p)
            lines.append(f"- {code(obj.key)} {inert(detail)}")
        if objects.suspicious > MESSAGE_ITEMS:
            lines.append(f"- … and {objects.suspicious - min(len(flagged), MESSAGE_ITEMS)} more")
    failed_objects = objects.by_state.get("Failed", 0) + objects.workflow_executions.get("Failed", 0)
    if failed_objects:
        lines.append(f"objects that failed inspection: {failed_objects}")
    if summary.spend is not None:
        lines += spend_items(summary.spend, code, inert)
    lines += _inventory_items(summary, code, inert)
    if summary.uploads is not None:
        lines.append(uploads_line(summary))
    lines += [f"note: {inert(n)}" for n in all_notes(summary, trend)[:3]]
    if link:
        # A console link opens the folder: the key says which of its files is today's page.
        lines.append(_link(style, link) + (f" ({code(report_key.rsplit('/', 1)[-1])})" if report_key else ""))
    elif report_key:
        lines.append(f"full report: {code(report_key)}")
    return _fit(lines, limit)


BATCH_HEADERS = ("Slot (UTC)", "Batch", "Job", "State", "Uploads", "Keys")


def uploads_line(summary: ReportSummary) -> str:
    """Coalesced uploads in one line: batch jobs in the window, and what still waits for one."""
    up = summary.uploads
    assert up is not None
    text = f"coalesced uploads: {plural(up.batch_jobs, 'batch job')} in the window"
    if up.pending is None:
        return text
    since = f" (oldest since {utc(up.oldest_pending_slot)})" if up.oldest_pending_slot else ""
    return f"{text}; {plural(up.pending, 'uploaded key')} waiting for one{since}"


def batch_rows(summary: ReportSummary) -> List[Sequence[str]]:
    """The newest batch jobs and the uploads each holds, as the Markdown report and the HTML page show them."""
    assert summary.uploads is not None
    return [(utc(b.slot), str(b.batch), f"{b.job_id} {b.name}", b.state,
             "-" if b.uploads is None else str(b.uploads),
             ", ".join(b.keys) + (f" … and {b.more_keys} more" if b.more_keys else ""))
            for b in summary.uploads.batches]


INVENTORY_HEADERS = ("Inventory", "Report used", "Processed (UTC)", "Listed", "Kept", "Dropped", "Jobs", "Problem")
INVENTORY_JOB_NAMES = 5  # job names shown per inventory rule; a 1M-object report makes 20


def dropped_text(line: InventoryLine) -> str:
    """`3 outside INPUT_PREFIX; 1 folder marker`: each reason with its count, or `none`."""
    return "; ".join(f"{n} {why}" for why, n in line.dropped.items()) or "none"


def inventory_rows(summary: ReportSummary) -> List[Sequence[str]]:
    """One row per inventory rule under INVENTORY_HEADERS, as the Markdown report and the HTML page show them."""
    rows: List[Sequence[str]] = []
    for line in summary.inventories:
        day = line.day or "-"
        if line.newest and line.newest != line.day:
            day += f" (newest in the bucket: {line.newest})"
        names = ", ".join(line.job_names[:INVENTORY_JOB_NAMES])
        more = len(line.job_names) - INVENTORY_JOB_NAMES
        jobs = str(line.jobs) + (f": {names}" if names else "") + (f" … and {more} more" if more > 0 else "")
        rows.append((line.inventory_id, day, utc(line.processed_at), str(line.listed), str(line.kept),
                     dropped_text(line), jobs, line.problem or "-"))
    return rows


def _inventory_items(summary: ReportSummary, code: Callable[[object], str],
                     inert: Callable[[object], str]) -> List[str]:
    out: List[str] = []
    for line in summary.inventories:
        head = f"inventory {code(line.inventory_id)}"
        if line.day:
            dropped = sum(line.dropped.values())
            out.append(f"{head}: report {inert(line.day)}, listed {line.listed}, kept {line.kept}, dropped {dropped}"
                       + (f" ({inert(dropped_text(line))})" if dropped else "") + f", {plural(line.jobs, 'job')}")
        if line.problem:  # each sentence names its inventory
            out.append(f"inventory problem: {inert(line.problem)}")
    return out


def _link(style: str, url: str) -> str:
    if style == "markdown":
        return f"[open the full report]({url})"
    if style == "mrkdwn":
        return f"<{url}|open the full report>"
    return f"full report: {url}"


# --- spend (lib.report.spend) -----------------------------------------------------------------------------

PLAN_HEADERS = ("Plan", "Job", "Count", "Estimate", "Reason", "Held since", "Expires", "Send it with")
SPEND_JOB_HEADERS = ("Job", "Name", "State", "Objects", "Estimate")


def amount(value: Decimal) -> str:
    """A cost without trailing zeros, thousands separated: 0.01493, 1,493.5, 0."""
    text = f"{value.normalize():,f}"
    return "0" if text in ("0", "-0") else text


def cost_text(cost: Optional[Decimal], currency: str, at_least: bool = False) -> str:
    return f"{'at least ' if at_least else ''}≈ {amount(cost)} {currency}" if cost is not None else "unpriced"


def objects_text(objects: int, complete: bool = True) -> str:
    return f"{'at least ' if not complete else ''}{objects:,} object{'' if objects == 1 else 's'}"


def _capped(used: Any, cap: Any, setting: str, days: int, shown: Callable[[Any], str]) -> str:
    """`1,250 objects of DAILY_OBJECT_CAP 10,000 (12.5%)`; over several days the cap is the most the days allowed."""
    if cap is None:
        return f"{shown(used)} (no {setting})"
    share = f"{Decimal(used) / Decimal(cap):.1%}" if cap else "cap 0"
    if days == 1:
        return f"{shown(used)} of {setting} {shown(cap)} ({share})"
    return f"{shown(used)} of {shown(cap)} ({days} days x {setting}; {share})"


def figures_text(figures: SpendFigures, currency: str) -> str:
    """One period in one line: jobs, objects and the estimate against the caps, and what the estimate leaves out."""
    parts = [plural(figures.jobs, "job"),
             _capped(figures.objects, figures.object_cap, "DAILY_OBJECT_CAP", figures.days, objects_text),
             "≈ " + _capped(figures.cost, figures.cost_cap, "DAILY_COST_CAP", figures.days,
                            lambda v: f"{amount(v)} {currency}")]
    if figures.unpriced_jobs:
        parts.append(f"{plural(figures.unpriced_jobs, 'unpriced job')} ({objects_text(figures.unpriced_objects)}, not "
                     "in the estimate)")
    for other, jobs in figures.other_currency.items():
        parts.append(f"{plural(jobs, 'job')} priced in {other}, not in the estimate")
    return f"{figures.label}: " + ", ".join(parts)


def price_text(spend: Spend) -> str:
    if spend.price_per_1000 is None or spend.price_source == PRICE_SOURCE:  # the source states the price itself
        return f"price: {spend.price_source}"
    return f"price: {amount(spend.price_per_1000)} {spend.currency} per 1,000 objects ({spend.price_source})"


def confirm_command(plan_id: str, verb: str = "confirm") -> str:
    return f"python -m ops plans {verb} {plan_id}"


def plans_footer(spend: Spend, code: Callable[[str], str] = "`{}`".format) -> str:
    return (f"Drop one with {code(confirm_command('ID', 'decline'))}. Each expires {plural(spend.expiry_days, 'day')} "
            "after it was held (PLAN_EXPIRY_DAYS), never sent.")


def plan_count(plan: PlanLine) -> str:
    return f"{objects_text(plan.objects, plan.complete)} ({plan.method})"


def plan_rows(spend: Spend) -> List[Sequence[str]]:
    """Pending plans under PLAN_HEADERS, as the Markdown report and the HTML page show them."""
    return [(p.plan_id, p.job_name, plan_count(p), cost_text(p.cost, p.currency, not p.complete), p.reason,
             utc(p.held_at), utc(p.expires_at), confirm_command(p.plan_id)) for p in spend.held]


def decision_text(plan: PlanLine) -> str:
    """What became of a held plan, in one line."""
    head = f"plan {plan.plan_id} (job {plan.job_name}, {objects_text(plan.objects, plan.complete)})"
    if plan.status == "declined":
        return f"{head}: declined by the operator at {utc(plan.decided_at)}, never sent"
    if plan.status == "expired":
        days = (plan.expires_at - plan.held_at).days
        when = "by this report" if plan.expired_now else f"at {utc(plan.decided_at)}"
        return f"{head}: expired after {plural(days, 'day')} {when}, never sent"
    return f"{head}: confirmed by the operator at {utc(plan.decided_at)}, sent as job {plan.job_id or '-'}"


def window_jobs_text(spend: Spend) -> str:
    text = f"jobs of the window on the ledger: {spend.window_jobs} ({spend.window_objects:,} objects)"
    if spend.window_unmatched:
        text += f"; {spend.window_unmatched} not on it (sent before the ledger existed, or not by these functions)"
    return text


def job_spend_rows(lines: Sequence[JobSpend]) -> List[Sequence[str]]:
    return [(j.job_id, j.name, j.state, f"{j.objects:,}", cost_text(j.cost, j.currency)) for j in lines]


def job_spend_text(line: JobLine) -> str:
    """A failed or stuck job's count and estimate from the ledger, '-' when it has no entry."""
    if line.spend is None:
        return "-"
    return f"{objects_text(line.spend.objects)}, {cost_text(line.spend.cost, line.spend.currency)}"


def spend_daily(spend: Spend) -> str:
    """The trend in one line: objects per day from the first day on the ledger, as a sparkline."""
    if not spend.days:
        return "objects sent per day: the ledger could not be read"
    days = spend.days
    span = f"{days[0].day:%m-%d} → {days[-1].day:%m-%d}" if len(days) > 1 else f"{days[0].day:%m-%d}"
    top = max(d.objects for d in days)
    return (f"objects sent per day, {span}: {sparkline([float(d.objects) for d in days])} (max {top:,}; "
            f"{sum(d.objects for d in days):,} in all)")


def spend_items(spend: Spend, code: Callable[[object], str], inert: Callable[[object], str]) -> List[str]:
    """The chat lines: today and the month against the caps, each held plan with its confirm command, decisions."""
    out = [inert(f"spend {figures_text(f, spend.currency)}") for f in (spend.today, spend.month) if f is not None]
    if spend.today is None:
        out.append("spend: the ledger could not be read (see notes)")
    if spend.held_total:
        out.append(f"held plans waiting ({spend.held_total}); send one with {code(confirm_command('ID'))}:")
        for plan in spend.held[:MESSAGE_ITEMS]:
            out.append(f"- {code(plan.plan_id)} {inert(plan.job_name)}: {inert(plan_count(plan))}, "
                       f"{inert(cost_text(plan.cost, plan.currency, not plan.complete))}; {inert(plan.reason)}; "
                       f"expires {utc(plan.expires_at)}")
        if spend.held_total > MESSAGE_ITEMS:
            out.append(f"- … and {spend.held_total - MESSAGE_ITEMS} more")
    if spend.decisions:
        out.append(f"plans decided ({len(spend.decisions)}):")
        decided = sorted(spend.decisions, key=lambda p: not p.expired_now)  # this report's expiries first
        out += [f"- {inert(decision_text(p))}" for p in decided[:MESSAGE_ITEMS]]
        if len(spend.decisions) > MESSAGE_ITEMS:
            out.append(f"- … and {len(spend.decisions) - MESSAGE_ITEMS} more")
    return out


def _spend_markdown(spend: Spend) -> List[str]:
    out = ["", "## Spend", ""]
    out += [f"- {escape.markdown_text(figures_text(f, spend.currency))}" for f in (spend.today, spend.month)
            if f is not None]
    if spend.today is None:
        out.append("- the ledger could not be read (see the notes)")
    out += [f"- {escape.markdown_text(price_text(spend))}", f"- {escape.markdown_text(window_jobs_text(spend))}",
            f"- {escape.markdown_text(spend_daily(spend))}"]
    out += ["", f"### Held plans waiting for confirmation ({spend.held_total})", ""]
    if spend.held:
        out += _md_table(PLAN_HEADERS, [(*row[:7], Md(escape.markdown_code(row[7]))) for row in plan_rows(spend)])
        if spend.held_total > len(spend.held):
            out.append(f"\n… and {spend.held_total - len(spend.held)} more")
        out.append("\n" + plans_footer(spend))
    else:
        out.append("none")
    if spend.decisions:
        out += ["", "### Plans decided", ""] + [f"- {escape.markdown_text(decision_text(p))}" for p in spend.decisions]
    if spend.largest:
        out += ["", "### Largest jobs of the window", ""] + _md_table(SPEND_JOB_HEADERS, job_spend_rows(spend.largest))
    return out


# --- trends --------------------------------------------------------------------------------------------


def sparkline(values: Sequence[Optional[float]]) -> str:
    """One character per value, scaled from zero to the largest; None (no report that day) is a gap."""
    top = max((v for v in values if v is not None), default=0.0)
    last = len(SPARK_BARS) - 1
    return "".join(SPARK_GAP if v is None else SPARK_BARS[round(v / top * last) if top > 0 else 0] for v in values)


def daily_series(trend: Trend, figure: Any) -> List[Optional[float]]:
    """figure(point) for each of the last COMPARE_DAYS days and today, oldest first; None for a missing day."""
    by_day = {p.day: p for p in trend.recent}
    days = [trend.today.day - timedelta(days=n) for n in range(COMPARE_DAYS, -1, -1)]
    return [figure(by_day[d]) if d in by_day else None for d in days]


def fmt_value(row: TrendRow, value: Optional[float]) -> str:
    if value is None:
        return "-"
    if row.share:
        return f"{value:.1%}"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def fmt_change(row: TrendRow, change: Optional[float]) -> str:
    """+3, -1.5, ±0; a share's change in percentage points; '-' when there is nothing to compare with."""
    if change is None:
        return "-"
    if row.share:
        change, unit = change * 100, " pp"
    else:
        unit = ""
    if abs(change) < 0.05:
        return f"±0{unit}"
    text = f"{change:+.1f}" if row.share or not float(change).is_integer() else f"{change:+.0f}"
    return text + unit


TREND_HEADERS = ("Figure", "Today", "Yesterday", "Change", f"{COMPARE_DAYS}-day mean", "Change")


def trend_table(trend: Trend) -> List[Sequence[str]]:
    """The rows under TREND_HEADERS, as the Markdown report and the HTML page both show them."""
    return [(r.metric, fmt_value(r, r.today), fmt_value(r, r.yesterday), fmt_change(r, r.vs_yesterday),
             fmt_value(r, r.mean), fmt_change(r, r.vs_mean)) for r in trend.rows]


def all_notes(summary: ReportSummary, trend: Optional[Trend]) -> List[str]:
    """The report's notes, then what went wrong keeping the trend."""
    return list(summary.notes) + (trend.notes if trend else [])


def trend_lines(trend: Trend) -> List[str]:
    """The chat lines: each figure with its change against yesterday and the 30-day mean, and a sparkline."""
    if not trend.has_history:
        return [f"trend: no earlier report in the last {COMPARE_DAYS} days to compare with yet"]

    def item(row: TrendRow) -> str:
        return (f"{row.metric} {fmt_value(row, row.today)} "
                f"({fmt_change(row, row.vs_yesterday)} / {fmt_change(row, row.vs_mean)})")

    jobs = [r for r in trend.rows if not r.share and r.metric not in ("inspected", "flagged", "acted on")]
    objects = [r for r in trend.rows if r not in jobs]
    spark = sparkline(daily_series(trend, lambda p: p.failed_share))
    return [f"trend (change vs yesterday / vs the mean of {plural(trend.days_compared, 'day')} in the last "
            f"{COMPARE_DAYS}):",
            "- " + ", ".join(item(r) for r in jobs),
            "- " + ", ".join(item(r) for r in objects),
            f"- failed share, {COMPARE_DAYS} days to today: {spark}"]


def _trend_markdown(trend: Trend) -> List[str]:
    out = ["", "## Trend", ""]
    if not trend.has_history:
        return out + [f"No earlier report in the last {COMPARE_DAYS} days to compare with yet."]
    out += [f"Against yesterday and the mean of the {plural(trend.days_compared, 'day')} with a report in the last "
            f"{COMPARE_DAYS}.", ""]
    out += _md_table(TREND_HEADERS, trend_table(trend))
    spark = sparkline(daily_series(trend, lambda p: p.failed_share))
    return out + ["", f"Failed share, {COMPARE_DAYS} days to today (oldest first, {SPARK_GAP} = no report): `{spark}`"]


def _job_items(label: str, jobs: Sequence[JobLine], total: int, code: Callable[[object], str],
               inert: Callable[[object], str], describe: Any) -> List[str]:
    if not total:
        return []
    out = [f"{label} ({total}):"]
    out += [f"- {code(j.job_id)} {inert(j.name)}: {inert(describe(j))}" for j in jobs[:MESSAGE_ITEMS]]
    if total > MESSAGE_ITEMS:
        out.append(f"- … and {total - MESSAGE_ITEMS} more")
    return out


def _fit(lines: List[str], limit: int) -> str:
    """Join lines, dropping whole lines from the end (never the verdict) until the UTF-8 size fits."""
    marker = "… (cut to fit the chat limit; see the full report)"
    text = "\n".join(lines)
    if len(text.encode("utf-8")) <= limit:
        return text
    kept = list(lines)
    while len(kept) > 1 and len("\n".join(kept + [marker]).encode("utf-8")) > limit:
        kept.pop()
    text = "\n".join(kept + [marker])
    return text.encode("utf-8")[:limit].decode("utf-8", "ignore")


def webhook_payload(fmt: str, summary: ReportSummary, *, report_key: Optional[str] = None,
                    trend: Optional[Trend] = None, link: Optional[str] = None) -> Dict[str, Any]:
    """The body each platform documents for a markdown/text bot message; `json` is the summary itself."""
    if fmt == "json":
        body = summary.model_dump(mode="json")
        if trend is not None:
            body["trend"] = trend.model_dump(mode="json", exclude={"recent"})
        if link:
            body["report_link"] = link
        return body
    extra: Dict[str, Any] = {"report_key": report_key, "trend": trend, "link": link}
    if fmt == "wecom":
        return {"msgtype": "markdown",
                "markdown": {"content": render_message(summary, inert=escape.wecom_markdown, **extra)}}
    if fmt == "dingtalk":
        status, _ = headline(summary)
        return {"msgtype": "markdown", "markdown": {"title": f"{TITLE}: {status}",
                                                    "text": render_message(summary, inert=escape.dingtalk_markdown,
                                                                           **extra)}}
    if fmt == "feishu":
        # A plain text message: the custom-bot card schema changes more often than the text one.
        return {"msg_type": "text",
                "content": {"text": render_message(summary, style="text", inert=escape.feishu_text, **extra)}}
    if fmt == "slack":
        return {"text": render_message(summary, style="mrkdwn", inert=escape.slack_mrkdwn, **extra)}
    raise ValueError(f"unknown webhook format {fmt!r}")


def failure_payload(fmt: str, bucket: str, region: str, error: str) -> Dict[str, Any]:
    """The message of a report that could not be made (the job list unreadable, the bucket missing): a problem."""
    if fmt == "json":
        return {"status": "PROBLEM", "report": "not made", "bucket": bucket, "region": region, "error": error}
    lead = f"{TITLE}: PROBLEM, the report was not made"
    if fmt == "feishu":
        return {"msg_type": "text", "content": {"text": escape.feishu_text(
            f"{lead}\nbucket {bucket} ({region})\n{error}")}}
    if fmt == "slack":
        return {"text": f"*{lead}*\nbucket {escape.slack_mrkdwn(bucket)} ({escape.slack_mrkdwn(region)})\n"
                        f"{escape.slack_mrkdwn(error)}"}
    inert = {"wecom": escape.wecom_markdown, "dingtalk": escape.dingtalk_markdown}.get(fmt)
    if inert is None:
        raise ValueError(f"unknown webhook format {fmt!r}")
    text = f"**{lead}**\n\nbucket {inert(bucket)} ({inert(region)})\n\n{inert(error)}"
    if fmt == "dingtalk":
        return {"msgtype": "markdown", "markdown": {"title": f"{TITLE}: PROBLEM", "text": text}}
    return {"msgtype": "markdown", "markdown": {"content": text}}


# --- the Markdown report (COS object) ------------------------------------------------------------------


class Md(str):
    """Text that is Markdown already (a code span from escape.markdown_code): a table puts it in as it is."""


def _md_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> List[str]:
    def cell(v: Any) -> str:
        return v if isinstance(v, Md) else escape.markdown_text("" if v is None else v)

    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return out


def render_markdown(summary: ReportSummary, trend: Optional[Trend] = None) -> str:
    """The full human-readable report written next to the JSON one."""
    _, verdict = headline(summary)
    scope = "all jobs in the bucket" if summary.all_jobs else f"jobs named {summary.job_name_prefix}-*"
    out = [f"# {TITLE}", "", f"**{verdict}**", "",
           f"- bucket: `{summary.bucket}` ({summary.region})", f"- window (creation time): {window_text(summary)}",
           f"- scope: {scope}", f"- stuck after: {age_text(summary.stuck_after_seconds)}",
           f"- failed share: {summary.failed_share:.1%}"
           + (f" (threshold {summary.fail_above:.1%})" if summary.fail_above is not None else ""),
           f"- API calls: {summary.api_calls}"]
    if summary.irreversible:
        out.append(f"- **warning: {escape.markdown_text(summary.irreversible)}**")
    if trend is not None:
        out += _trend_markdown(trend)
    if summary.spend is not None:
        out += _spend_markdown(summary.spend)
    out += ["", "## Jobs by state", ""]
    out += _md_table(("Type", "Tag / workflow", "State", "Jobs"),
                     [(r.type, r.group, r.state, r.count) for r in summary.counts]) if summary.counts else ["none"]
    for title, lines, total in (("Failed jobs", summary.failed, summary.failed_total),
                                ("Stuck jobs", summary.stuck, summary.stuck_total)):
        out += ["", f"## {title} ({total})", ""]
        if lines:
            counted = any(j.spend for j in lines)  # the ledger's count, where it has the job
            out += _md_table(("Job", "Name", "Type", "State", "Created", "Age", "Code", "Message")
                             + (("Count, estimate",) if counted else ()),
                             [(j.job_id, j.name, j.type, j.state, utc(j.created), age_text(j.age_seconds), j.code,
                               j.message) + ((job_spend_text(j),) if counted else ()) for j in lines])
            if total > len(lines):
                out.append(f"\n… and {total - len(lines)} more")
        else:
            out.append("none")
    o = summary.objects
    out += ["", "## Objects", "",
            f"- inspected: {o.inspected} ({', '.join(f'{n} {s}' for s, n in o.by_state.items()) or 'none'})",
            f"- flagged: {o.suspicious}, acted on: {o.acted}"]
    if summary.review is not None:
        out.append(f"- review: {escape.markdown_text(review_text(summary.review))}: `{FLAGGED_LIST}`")
    out += [f"- workflow executions: {', '.join(f'{n} {s}' for s, n in o.workflow_executions.items()) or 'none'}",
            f"- jobs without per-object results: {o.jobs_without_results}"]
    reviewed = any(x.review for job in summary.jobs_with_objects for x in job.objects)
    for job in summary.jobs_with_objects:
        out += ["", f"### {escape.markdown_text(f'{job.job_id} {job.name} ({job.kind})')}", ""]
        out += _md_table(("Object", "State", "Type", "Offsets", "Size", "Action", "Error")
                         + (("Review",) if reviewed else ()),
                         [(Md(escape.markdown_code(x.key)), x.state, x.suspicious_type, offsets_text(x), x.suspicious_size,
                           action_text(x), x.error) + ((x.review or "",) if reviewed else ()) for x in job.objects])
        if job.truncated:
            out.append("\n(first objects only)")
    if summary.uploads is not None:
        out += ["", "## Coalesced uploads", "", uploads_line(summary), ""]
        out += _md_table(BATCH_HEADERS, batch_rows(summary)) if summary.uploads.batches else ["no batch jobs"]
    if summary.inventories:
        out += ["", "## Inventory", ""] + _md_table(INVENTORY_HEADERS, inventory_rows(summary))
    out += ["", "## Rules", ""]
    out += _md_table(("Rule", "Next window starts", "Last job"),
                     [(c.rule, utc(c.next_window_start), c.last_job_id) for c in summary.checkpoints]) \
        if summary.checkpoints else ["no checkpoints"]
    notes = all_notes(summary, trend)
    if notes:
        out += ["", "## Notes", ""] + [f"- {escape.markdown_text(n)}" for n in notes]
    return "\n".join(out) + "\n"


# --- terminal tables ----------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Columns padded to their widest cell, a rule under the header; plain text for any terminal."""
    cells = [[str(h) for h in headers]] + [[escape.terminal("" if v is None else v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_summary_table(summary: ReportSummary) -> str:
    """The report for a terminal: verdict, counts, failed and stuck jobs, flagged objects, rules."""
    _, verdict = headline(summary)
    parts = [verdict, f"bucket {summary.bucket}, window {window_text(summary)}, {summary.api_calls} API calls"]
    if summary.irreversible:
        parts.append(f"WARNING: {escape.terminal(summary.irreversible)}")
    parts.append("")
    parts.append(table(("TYPE", "TAG/WORKFLOW", "STATE", "JOBS"),
                       [(r.type, r.group, r.state, r.count) for r in summary.counts]) if summary.counts
                 else "no jobs in the window")
    for title, lines, total in (("FAILED", summary.failed, summary.failed_total),
                                ("STUCK", summary.stuck, summary.stuck_total)):
        if total:
            parts += ["", f"{title} ({total})",
                      table(("JOB", "NAME", "STATE", "AGE", "CODE", "MESSAGE"),
                            [(j.job_id, j.name, j.state, age_text(j.age_seconds), j.code, j.message) for j in lines])]
    o = summary.objects
    if o.inspected or o.workflow_executions:
        parts += ["", f"OBJECTS inspected {o.inspected}, flagged {o.suspicious}, acted on {o.acted}, "
                      f"workflow executions {sum(o.workflow_executions.values())}"]
    if summary.review is not None:
        parts.append(f"REVIEW {review_text(summary.review)}: {FLAGGED_LIST}")
    reviewed = any(x.review for job in summary.jobs_with_objects for x in job.objects)
    # ACTION/ERROR stays last: its words are the longest, and a line read at a terminal ends with what CI did.
    rows = [(job.job_id, x.key, x.state) + ((x.review or "",) if reviewed else ())
            + (x.suspicious_type, offsets_text(x), outcome_text(x)) for job in summary.jobs_with_objects for x in job.objects]
    if rows:
        parts.append(table(("JOB", "OBJECT", "STATE") + (("REVIEW",) if reviewed else ())
                           + ("TYPE", "OFFSETS", "ACTION/ERROR"), rows))
    if summary.checkpoints:
        parts += ["", table(("RULE", "NEXT WINDOW STARTS", "LAST JOB"),
                            [(c.rule, utc(c.next_window_start), c.last_job_id) for c in summary.checkpoints])]
    if summary.inventories:
        parts += ["", table(("INVENTORY", "REPORT", "PROCESSED", "LISTED", "KEPT", "DROPPED", "JOBS"),
                            [(i.inventory_id, i.day or "-", utc(i.processed_at), i.listed, i.kept, dropped_text(i),
                              i.jobs) for i in summary.inventories])]
        parts += [f"inventory problem: {escape.terminal(i.problem)}" for i in summary.inventories if i.problem]
    if summary.spend is not None:
        parts += [""] + spend_terminal(summary.spend)
    parts += [f"note: {escape.terminal(n)}" for n in summary.notes]
    return "\n".join(parts) + "\n"


def spend_terminal(spend: Spend) -> List[str]:
    """The spend lines of the terminal report; the held plans as a table."""
    out = [f"SPEND {figures_text(f, spend.currency)}" for f in (spend.today, spend.month) if f is not None]
    out += [price_text(spend), window_jobs_text(spend)]
    if spend.held:
        out += ["", f"HELD PLANS ({spend.held_total})",
                table(("PLAN", "JOB", "COUNT", "ESTIMATE", "REASON", "EXPIRES"),
                      [(p.plan_id, p.job_name, plan_count(p), cost_text(p.cost, p.currency, not p.complete), p.reason,
                        utc(p.expires_at)) for p in spend.held]),
                f"send one with `{confirm_command('ID')}`, drop it with `python -m ops plans decline ID`"]
    return out + [escape.terminal(decision_text(p)) for p in spend.decisions]

