"""The HTML report: one self-contained page (inline CSS and SVG, no scripts, no external assets), phone-readable.

Every key, name and message is escaped where it is placed; the page's Content-Security-Policy forbids scripts and
remote loads as a second line of defence, should a value ever slip through unescaped.
"""
from __future__ import annotations

from datetime import timedelta
from html import escape
from typing import Any, Callable, Iterable, List, Optional, Sequence

from lib.report.models import ReportSummary, headline
from lib.report.render import (
    BATCH_HEADERS,
    INVENTORY_HEADERS,
    TITLE,
    TREND_HEADERS,
    action_text,
    age_text,
    all_notes,
    batch_rows,
    daily_series,
    inventory_rows,
    offsets_text,
    plural,
    trend_table,
    uploads_line,
    utc,
    window_text,
)
from lib.report.trends import COMPARE_DAYS, Trend, TrendPoint

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
STATUS_COLOURS = {"OK": "#1a7f37", "PROBLEM": "#9a6700", "FAILING": "#cf222e"}
CHART_W, CHART_H, PAD = 320, 120, 18

STYLE = """
body{font:15px/1.45 -apple-system,"Segoe UI",Roboto,"PingFang SC","Microsoft YaHei",sans-serif;margin:0;
 color:#1f2328;background:#f6f8fa}
main{max-width:960px;margin:0 auto;padding:12px}
h1{font-size:1.3em;margin:.4em 0}h2{font-size:1.1em;margin:1.4em 0 .4em;border-bottom:1px solid #d0d7de}
.verdict{color:#fff;padding:10px 12px;border-radius:6px;font-weight:600}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:.6em 0}dt{color:#59636e}dd{margin:0}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;background:#fff;font-size:.92em;min-width:100%}
th,td{border:1px solid #d0d7de;padding:4px 6px;text-align:left;vertical-align:top}th{background:#eaeef2}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}td.nowrap{white-space:nowrap}
code{font:.9em ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(160px,1fr));gap:8px;margin-bottom:10px}
figure{margin:0;background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:6px}
figcaption{font-size:.9em;color:#59636e}svg{width:100%;height:auto;display:block}
.none{color:#59636e}
"""


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Sequence[int] = ()) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{_e(v)}</td>' if i in numeric else f"<td>{_e(v)}</td>"
                         for i, v in enumerate(row)) + "</tr>"
        for row in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _section(title: str, anchor: str, content: str) -> str:
    return f'<section id="{anchor}"><h2>{_e(title)}</h2>{content}</section>'


def _none(text: str = "none") -> str:
    return f'<p class="none">{_e(text)}</p>'


# --- charts: hand-written SVG, a bar per day --------------------------------------------------------------


def bar_chart(title: str, values: Sequence[Optional[float]], *, colour: str, as_share: bool = False,
              overlay: Optional[Sequence[Optional[float]]] = None, overlay_colour: str = "#cf222e") -> str:
    """One bar per day, oldest left; a missing day is a dotted stub; overlay bars (e.g. failed jobs) drawn on top."""
    top = max([v for v in values if v is not None] + [0.0])
    scale = (CHART_H - 2 * PAD) / top if top > 0 else 0.0
    step = (CHART_W - 2 * PAD) / max(len(values), 1)
    base = CHART_H - PAD
    parts = [f'<svg viewBox="0 0 {CHART_W} {CHART_H}" role="img" aria-label="{_e(title)}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{_e(title)}</title>',
             f'<line x1="{PAD}" y1="{base}" x2="{CHART_W - PAD}" y2="{base}" stroke="#8c959f" stroke-width="1"/>']
    for i, value in enumerate(values):
        x = PAD + i * step + step * 0.15
        width = step * 0.7
        if value is None:
            parts.append(f'<rect x="{x:.1f}" y="{base - 2}" width="{width:.1f}" height="2" fill="#d0d7de"/>')
            continue
        height = max(value * scale, 1.0)  # a day with a report and a zero still shows, as a 1-px line
        label = f"{value:.1%}" if as_share else f"{value:g}"
        parts.append(f'<rect x="{x:.1f}" y="{base - height:.1f}" width="{width:.1f}" height="{height:.1f}" '
                     f'fill="{colour}"><title>{_e(label)}</title></rect>')
        extra = overlay[i] if overlay is not None else None
        if extra:
            h2 = extra * scale
            parts.append(f'<rect x="{x:.1f}" y="{base - h2:.1f}" width="{width:.1f}" height="{h2:.1f}" '
                         f'fill="{overlay_colour}"><title>{_e(f"{extra:g}")}</title></rect>')
    top_label = f"{top:.1%}" if as_share else f"{top:g}"
    parts.append(f'<text x="{PAD}" y="{PAD - 5}" font-size="14" fill="#59636e">max {_e(top_label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _charts(trend: Trend) -> str:
    def series(figure: Callable[[TrendPoint], float]) -> List[Optional[float]]:
        return daily_series(trend, figure)

    span = f"{trend.today.day - timedelta(days=COMPARE_DAYS):%m-%d} → {trend.today.day:%m-%d}"
    figures = [
        ("Jobs per day (red: failed)", bar_chart("jobs per day", series(lambda p: p.total_jobs), colour="#0969da",
                                                 overlay=series(lambda p: p.by_state.get("Failed", 0)))),
        ("Failed share", bar_chart("failed share", series(lambda p: p.failed_share), colour="#cf222e",
                                   as_share=True)),
        ("Images flagged (dark: acted on)", bar_chart("images flagged", series(lambda p: p.flagged),
                                                      colour="#d4a72c", overlay=series(lambda p: p.acted),
                                                      overlay_colour="#7d4e00")),
        ("Images inspected", bar_chart("images inspected", series(lambda p: p.inspected), colour="#8250df")),
    ]
    return '<div class="charts">' + "".join(
        f"<figure>{svg}<figcaption>{_e(caption)}, {_e(span)} (grey stub: no report)</figcaption></figure>"
        for caption, svg in figures) + "</div>"


def _trend(trend: Optional[Trend]) -> str:
    if trend is None:
        return _none("no trend: the history index was not read")
    if not trend.has_history:
        return _none(f"No earlier report in the last {COMPARE_DAYS} days to compare with yet.") + _charts(trend)
    table = _table(TREND_HEADERS, trend_table(trend), numeric=(1, 2, 3, 4, 5))
    note = (f"<p>Against yesterday and the mean of the {plural(trend.days_compared, 'day')} with a report in the last "
            f"{COMPARE_DAYS}.</p>")
    return note + _charts(trend) + table


def _jobs(lines: Sequence[Any], total: int) -> str:
    if not lines:
        return _none()
    table = _table(("Job", "Name", "Type", "State", "Created", "Age", "Code", "Message"),
                   [(j.job_id, j.name, j.type, j.state, utc(j.created), age_text(j.age_seconds), j.code, j.message)
                    for j in lines])
    more = f"<p>… and {total - len(lines)} more</p>" if total > len(lines) else ""
    return table + more


def _objects(summary: ReportSummary) -> str:
    o = summary.objects
    facts = (f"<p>{o.inspected} inspected, {o.suspicious} flagged, {o.acted} acted on; "
             f"{plural(o.jobs_without_results, 'job')} without per-object results.</p>")
    rows = [(x.key, x.suspicious_type, offsets_text(x), x.suspicious_size, action_text(x), x.state, x.error,
             f"{job.name} ({job.job_id})") for job in summary.jobs_with_objects for x in job.objects]
    if not rows:
        return facts + _none("no flagged or failed objects")
    # The key first: on a phone it is what is read before the table scrolls sideways.
    return facts + _table(("Object", "Type", "Offsets", "Size", "Action", "State", "Error", "Job"), rows,
                          numeric=(2, 3))


def _uploads(summary: ReportSummary) -> str:
    if summary.uploads is None:
        return ""
    rows = batch_rows(summary)
    content = f"<p>{_e(uploads_line(summary))}</p>" + (_table(BATCH_HEADERS, rows, numeric=(1, 4)) if rows
                                                       else _none("no batch jobs"))
    return _section("Coalesced uploads", "uploads", content)


def _inventories(summary: ReportSummary) -> str:
    if not summary.inventories:
        return ""
    return _section("Inventory", "inventory", _table(INVENTORY_HEADERS, inventory_rows(summary), numeric=(3, 4)))


def render_html(summary: ReportSummary, trend: Optional[Trend] = None) -> str:
    """The whole page as a string (UTF-8 when written)."""
    status, verdict = headline(summary)
    scope = "all jobs in the bucket" if summary.all_jobs else f"jobs named {summary.job_name_prefix}-*"
    facts = [("bucket", f"{summary.bucket} ({summary.region})"), ("window (creation time)", window_text(summary)),
             ("scope", scope), ("stuck after", age_text(summary.stuck_after_seconds)),
             ("failed share", f"{summary.failed_share:.1%}"
              + (f" (threshold {summary.fail_above:.1%})" if summary.fail_above is not None else "")),
             ("API calls", summary.api_calls)]
    counts = _table(("Type", "Tag / workflow", "State", "Jobs"),
                    [(r.type, r.group, r.state, r.count) for r in summary.counts], numeric=(3,)) \
        if summary.counts else _none()
    rules = _table(("Rule", "Next window starts", "Last job"),
                   [(c.rule, utc(c.next_window_start), c.last_job_id) for c in summary.checkpoints]) \
        if summary.checkpoints else _none("no checkpoints")
    notes = all_notes(summary, trend)
    body = [
        f"<h1>{_e(TITLE)}</h1>",
        f'<p class="verdict" style="background:{STATUS_COLOURS[status]}">{_e(verdict)}</p>',
        "<dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts) + "</dl>",
        _section("Trend", "trend", _trend(trend)),
        _section(f"Failed jobs ({summary.failed_total})", "failed", _jobs(summary.failed, summary.failed_total)),
        _section(f"Stuck jobs ({summary.stuck_total})", "stuck", _jobs(summary.stuck, summary.stuck_total)),
        _section("Flagged and failed objects", "objects", _objects(summary)),
        _section("Jobs by state", "counts", counts),
        _uploads(summary),
        _inventories(summary),
        _section("Rules", "rules", rules),
    ]
    if notes:
        body.append(_section("Notes", "notes", "<ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>"))
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f"<title>{_e(TITLE)}: {_e(status)} {_e(utc(summary.window_end))}</title>"
            f"<style>{STYLE}</style></head><body><main>" + "".join(body) + "</main></body></html>\n")
