"""The HTML report: one self-contained page (inline CSS and SVG, no scripts, no external assets), phone-readable.

Every key, name and message is escaped where it is placed; the page's Content-Security-Policy forbids scripts and
remote loads as a second line of defence, should a value ever slip through unescaped.
"""
from __future__ import annotations

from datetime import date
from html import escape
from typing import Any, Callable, Iterable, List, Optional, Sequence, Tuple

from lib.report.models import ObjectLine, ReportSummary, Spend, headline
from lib.report.render import (
    BATCH_HEADERS,
    FLAGGED_LIST,
    INVENTORY_HEADERS,
    PLAN_HEADERS,
    REVIEW_VERBS,
    SPEND_JOB_HEADERS,
    TITLE,
    TREND_HEADERS,
    action_text,
    age_text,
    all_notes,
    batch_rows,
    decision_text,
    figures_text,
    inventory_rows,
    job_spend_rows,
    job_spend_text,
    offsets_text,
    plan_rows,
    plans_footer,
    plural,
    price_text,
    review_command,
    review_text,
    trend_table,
    uploads_line,
    utc,
    window_jobs_text,
    window_text,
)
from lib.report.trends import COMPARE_DAYS, Trend, TrendPoint, chart_days

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
STATUS_COLOURS = {"OK": "#1a7f37", "PROBLEM": "#9a6700", "FAILING": "#cf222e"}
# A chart is drawn between ~230 px (.charts' narrowest column) and ~350 px (a phone's full width) wide, so text of
# CHART_FONT viewBox units reads as 12-19 px on screen.
CHART_W, CHART_H, CHART_FONT = 280, 140, 15
CHART_TOP, CHART_BOTTOM, CHART_SIDE = 24, 22, 8  # the band for values above the bars, for dates below, the margins
BAR_MAX = 36  # a first day's lone bar stays a bar, not a block across the chart
VALUE_LABELS = 5  # up to this many days each bar carries its value; beyond, the chart's top says its maximum
DATE_LABELS = 4  # up to this many days each is dated; beyond, the first and the last

# Tables fill the column and never widen it: identifiers (keys, job ids, names, messages) break anywhere, short
# words never. Below 600 px a table of class "cards" shows each row as a card of "label value" lines, so a phone
# never scrolls sideways; the labels come from each cell's data-label.
STYLE = """
body{font:15px/1.45 -apple-system,"Segoe UI",Roboto,"PingFang SC","Microsoft YaHei",sans-serif;margin:0;
 color:#1f2328;background:#f6f8fa}
main{max-width:1200px;margin:0 auto;padding:12px}
h1{font-size:1.3em;margin:.4em 0}h2{font-size:1.1em;margin:1.4em 0 .4em;border-bottom:1px solid #d0d7de}
h3{font-size:1em;margin:1em 0 .3em}
.verdict{color:#fff;padding:10px 12px;border-radius:6px;font-weight:600}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:.6em 0}dt{color:#59636e}
dd{margin:0;min-width:0;overflow-wrap:anywhere}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;max-width:100%}
table{border-collapse:collapse;background:#fff;font-size:.92em;width:100%;table-layout:auto}
th,td{border:1px solid #d0d7de;padding:4px 6px;text-align:left;vertical-align:top}th{background:#eaeef2}
td{overflow-wrap:break-word}td.wrap{overflow-wrap:anywhere;min-width:6em}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}td.nowrap{white-space:nowrap}
code{font:.9em ui-monospace,Menlo,Consolas,monospace;overflow-wrap:anywhere}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,240px),1fr));gap:8px;margin-bottom:10px}
figure{margin:0;background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:6px;min-width:0}
figcaption{font-size:.9em;color:#59636e}svg{width:100%;height:auto;display:block}
.none{color:#59636e}p,li{overflow-wrap:anywhere}
.warning{background:#fff;border-left:4px solid #cf222e;padding:6px 10px;font-weight:600}
code.cmd{display:block;white-space:pre-wrap;margin-top:2px}
@media (max-width:600px){
 table.cards,table.cards tbody,table.cards tr,table.cards td{display:block}
 table.cards{background:none;border:0}
 table.cards thead{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%)}
 table.cards tr{background:#fff;border:1px solid #d0d7de;border-radius:6px;margin:0 0 8px}
 table.cards td{display:grid;grid-template-columns:minmax(6em,32%) minmax(0,1fr);gap:8px;border:0;
  border-top:1px solid #eaeef2;text-align:left;white-space:normal;min-width:0}
 table.cards td:first-child{border-top:0;font-weight:600}
 table.cards td::before{content:attr(data-label);color:#59636e;font-weight:400}
 table.cards td:empty{display:none}
 table:not(.cards){font-size:.85em}table:not(.cards) th,table:not(.cards) td{padding:3px 4px}
}
"""


class Markup(str):
    """HTML made here from escaped parts (a review cell's commands): a table cell puts it in as it is."""


def _e(value: Any) -> str:
    if isinstance(value, Markup):
        return value
    return escape("" if value is None else str(value), quote=True)


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Sequence[int] = (),
           wrap: Sequence[int] = (), cards: bool = True) -> str:
    """A table of the column's width: `wrap` columns hold identifiers that may break anywhere; `cards` stacks rows
    on a phone (keep it for any table with more than a few short columns)."""
    def cell(i: int, header: str, value: Any) -> str:
        kind = ' class="num"' if i in numeric else ' class="wrap"' if i in wrap else ""
        text = _e(value)
        return f'<td data-label="{_e(header)}"{kind}>{text}</td>' if cards else f"<td{kind}>{text}</td>"

    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(cell(i, headers[i], v) for i, v in enumerate(row)) + "</tr>" for row in rows)
    kind = ' class="cards"' if cards else ""
    return f'<div class="scroll"><table{kind}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _section(title: str, anchor: str, content: str) -> str:
    return f'<section id="{anchor}"><h2>{_e(title)}</h2>{content}</section>'


def _none(text: str = "none") -> str:
    return f'<p class="none">{_e(text)}</p>'


# --- charts: hand-written SVG, a bar per day --------------------------------------------------------------


def bar_chart(title: str, values: Sequence[Optional[float]], days: Sequence[date], *, colour: str,
              as_share: bool = False, overlay: Optional[Sequence[Optional[float]]] = None,
              overlay_colour: str = "#cf222e") -> str:
    """One bar per day in `days`, oldest left; a missing day is a grey stub; overlay bars (e.g. failed jobs) on top."""
    def text(x: float, y: float, label: str, anchor: str) -> str:
        return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{CHART_FONT}" text-anchor="{anchor}" '
                f'fill="#59636e">{_e(label)}</text>')

    def fmt(value: float) -> str:
        return f"{value:.1%}" if as_share else f"{value:g}"

    count = max(len(values), 1)
    top = max([v for v in values if v is not None] + [0.0])
    base = CHART_H - CHART_BOTTOM
    scale = (base - CHART_TOP) / top if top > 0 else 0.0
    slot = (CHART_W - 2 * CHART_SIDE) / count
    width = min(slot * 0.7, BAR_MAX)
    centres = [CHART_SIDE + slot * (i + 0.5) for i in range(count)]
    parts = [f'<svg viewBox="0 0 {CHART_W} {CHART_H}" role="img" aria-label="{_e(title)}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{_e(title)}</title>',
             f'<line x1="{CHART_SIDE}" y1="{base}" x2="{CHART_W - CHART_SIDE}" y2="{base}" stroke="#8c959f" '
             'stroke-width="1"/>']
    for i, value in enumerate(values):
        x = centres[i] - width / 2
        if value is None:
            parts.append(f'<rect x="{x:.1f}" y="{base - 2}" width="{width:.1f}" height="2" fill="#d0d7de"/>')
            continue
        height = max(value * scale, 1.0)  # a day with a report and a zero still shows, as a 1-px line
        parts.append(f'<rect x="{x:.1f}" y="{base - height:.1f}" width="{width:.1f}" height="{height:.1f}" '
                     f'fill="{colour}"><title>{_e(fmt(value))}</title></rect>')
        extra = overlay[i] if overlay is not None else None
        if extra:
            h2 = extra * scale
            parts.append(f'<rect x="{x:.1f}" y="{base - h2:.1f}" width="{width:.1f}" height="{h2:.1f}" '
                         f'fill="{overlay_colour}"><title>{_e(f"{extra:g}")}</title></rect>')
        if len(values) <= VALUE_LABELS:
            parts.append(text(centres[i], base - height - 5, fmt(value), "middle"))
    if len(values) > VALUE_LABELS:
        parts.append(text(CHART_SIDE, CHART_TOP - 7, f"max {fmt(top)}", "start"))
    dated = range(len(days)) if len(days) <= DATE_LABELS else (0, len(days) - 1)
    for i in dated:
        # The outermost dates are pinned to the chart's edges so a long axis never cuts them off.
        anchor = "middle" if len(days) <= DATE_LABELS else ("start" if i == 0 else "end")
        x = centres[i] if anchor == "middle" else (CHART_SIDE if i == 0 else CHART_W - CHART_SIDE)
        parts.append(text(x, CHART_H - 5, f"{days[i]:%m-%d}", anchor))
    parts.append("</svg>")
    return "".join(parts)


def _spend_charts(spend: Optional[Spend]) -> List[Tuple[str, str]]:
    """Objects sent and their estimate per day, from the ledger: (caption, svg) to sit beside the report's charts."""
    if spend is None or not spend.days:
        return []
    days = [d.day for d in spend.days]
    span = f"{days[0]:%m-%d} → {days[-1]:%m-%d}" if len(days) > 1 else f"{days[0]:%m-%d}, the first day on the ledger"
    return [(f"Objects sent per day (spend ledger), {span}",
             bar_chart("objects sent per day", [float(d.objects) for d in spend.days], days, colour="#1a7f37")),
            (f"Estimate per day, {spend.currency}, {span}",
             bar_chart(f"estimate per day in {spend.currency}", [float(d.cost) for d in spend.days], days,
                       colour="#bf8700"))]


def _figures(figures: Sequence[Tuple[str, str]]) -> str:
    return '<div class="charts">' + "".join(
        f"<figure>{svg}<figcaption>{_e(caption)}</figcaption></figure>" for caption, svg in figures) + "</div>"


def _charts(trend: Trend, extra: Sequence[Tuple[str, str]] = ()) -> str:
    days = chart_days(trend)
    by_day = {p.day: p for p in trend.recent}

    def series(figure: Callable[[TrendPoint], float]) -> List[Optional[float]]:
        return [figure(by_day[d]) if d in by_day else None for d in days]

    span = f"{days[0]:%m-%d} → {days[-1]:%m-%d}" if len(days) > 1 else f"{days[0]:%m-%d}, the first report"
    if any(d not in by_day for d in days):
        span += " (grey stub: no report)"
    figures = [
        ("Jobs per day (red: failed)", bar_chart("jobs per day", series(lambda p: p.total_jobs), days,
                                                 colour="#0969da",
                                                 overlay=series(lambda p: p.by_state.get("Failed", 0)))),
        ("Failed share", bar_chart("failed share", series(lambda p: p.failed_share), days, colour="#cf222e",
                                   as_share=True)),
        ("Images flagged (dark: acted on)", bar_chart("images flagged", series(lambda p: p.flagged), days,
                                                      colour="#d4a72c", overlay=series(lambda p: p.acted),
                                                      overlay_colour="#7d4e00")),
        ("Images inspected", bar_chart("images inspected", series(lambda p: p.inspected), days, colour="#8250df")),
    ]
    return _figures([(f"{caption}, {span}", svg) for caption, svg in figures] + list(extra))


def _trend(trend: Optional[Trend], extra: Sequence[Tuple[str, str]] = ()) -> str:
    if trend is None:
        return _none("no trend: the history index was not read")
    if not trend.has_history:
        return _none(f"No earlier report in the last {COMPARE_DAYS} days to compare with yet.") + _charts(trend, extra)
    table = _table(TREND_HEADERS, trend_table(trend), numeric=(1, 2, 3, 4, 5), wrap=(0,), cards=False)
    note = (f"<p>Against yesterday and the mean of the {plural(trend.days_compared, 'day')} with a report in the last "
            f"{COMPARE_DAYS}.</p>")
    return note + _charts(trend, extra) + table


def _spend(spend: Optional[Spend], charts: str) -> str:
    """Today and the month against the caps, the price, held plans with their commands, decisions, largest jobs."""
    if spend is None:
        return ""
    facts = [figures_text(f, spend.currency) for f in (spend.today, spend.month) if f is not None]
    if spend.today is None:
        facts.append("the ledger could not be read (see the notes)")
    facts += [price_text(spend), window_jobs_text(spend)]
    parts = ["<ul>" + "".join(f"<li>{_e(f)}</li>" for f in facts) + "</ul>", charts,
             f"<h3>Held plans waiting for confirmation ({spend.held_total})</h3>"]
    if spend.held:
        parts.append(_table(PLAN_HEADERS, plan_rows(spend), wrap=(1, 4, 7)))
        if spend.held_total > len(spend.held):
            parts.append(f"<p>… and {spend.held_total - len(spend.held)} more</p>")
        parts.append(f"<p>{plans_footer(spend, lambda text: f'<code>{_e(text)}</code>')}</p>")
    else:
        parts.append(_none())
    if spend.decisions:
        parts.append("<h3>Plans decided</h3><ul>" + "".join(f"<li>{_e(decision_text(p))}</li>"
                                                           for p in spend.decisions) + "</ul>")
    if spend.largest:
        parts.append("<h3>Largest jobs of the window</h3>"
                     + _table(SPEND_JOB_HEADERS, job_spend_rows(spend.largest), numeric=(3,), wrap=(0, 1)))
    return _section("Spend", "spend", "".join(parts))


def _jobs(lines: Sequence[Any], total: int) -> str:
    if not lines:
        return _none()
    counted = any(j.spend for j in lines)  # the ledger's count, where it has the job
    table = _table(("Job", "Name", "Type", "State", "Created", "Age", "Code", "Message")
                   + (("Count, estimate",) if counted else ()),
                   [(j.job_id, j.name, j.type, j.state, utc(j.created), age_text(j.age_seconds), j.code, j.message)
                    + ((job_spend_text(j),) if counted else ()) for j in lines], wrap=(0, 1, 7))
    more = f"<p>… and {total - len(lines)} more</p>" if total > len(lines) else ""
    return table + more


def _review_cell(line: ObjectLine) -> Markup:
    """A flagged image's review status and the commands that decide it; empty for an object that only failed.

    Each command is shell-quoted (render.review_command) before it is HTML-escaped; a key's line breaks stay
    visible (pre-wrap) so what is copied is the command that names it."""
    if not line.suspicious:
        return Markup("")
    commands = "".join(f'<code class="cmd">{_e(review_command(verb, line.key))}</code>' for verb in REVIEW_VERBS)
    # One element: a phone's card lays a cell out as two grid columns, its label and one value.
    return Markup(f"<div>{_e(line.review or 'unknown')}{commands}</div>")


def _objects(summary: ReportSummary) -> str:
    o = summary.objects
    facts = (f"<p>{o.inspected} inspected, {o.suspicious} flagged, {o.acted} acted on; "
             f"{plural(o.jobs_without_results, 'job')} without per-object results.</p>")
    if summary.review is not None:
        facts += f"<p>{_e(review_text(summary.review))}: <code>{_e(FLAGGED_LIST)}</code></p>"
    lines = [(job, x) for job in summary.jobs_with_objects for x in job.objects]
    if not lines:
        return facts + _none("no flagged or failed objects")
    # The key first: on a phone it is what is read before the table scrolls sideways; the review next to what CI did.
    flagged = any(x.suspicious for _, x in lines)
    review = ("Review",) if flagged else ()
    rows = [(x.key, x.suspicious_type, offsets_text(x), x.suspicious_size, action_text(x))
            + ((_review_cell(x),) if flagged else ()) + (x.state, x.error, f"{job.name} ({job.job_id})")
            for job, x in lines]
    return facts + _table(("Object", "Type", "Offsets", "Size", "Action") + review + ("State", "Error", "Job"), rows,
                          numeric=(2, 3), wrap=(0, 4, 5, 7, 8) if flagged else (0, 4, 6, 7))


def _uploads(summary: ReportSummary) -> str:
    if summary.uploads is None:
        return ""
    rows = batch_rows(summary)
    content = f"<p>{_e(uploads_line(summary))}</p>" + (_table(BATCH_HEADERS, rows, numeric=(1, 4), wrap=(2, 5)) if rows
                                                       else _none("no batch jobs"))
    return _section("Coalesced uploads", "uploads", content)


def _inventories(summary: ReportSummary) -> str:
    if not summary.inventories:
        return ""
    return _section("Inventory", "inventory", _table(INVENTORY_HEADERS, inventory_rows(summary), numeric=(3, 4),
                                                     wrap=(0, 1, 5, 6, 7)))


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
                    [(r.type, r.group, r.state, r.count) for r in summary.counts], numeric=(3,), wrap=(1,)) \
        if summary.counts else _none()
    rules = _table(("Rule", "Next window starts", "Last job"),
                   [(c.rule, utc(c.next_window_start), c.last_job_id) for c in summary.checkpoints], wrap=(0, 2)) \
        if summary.checkpoints else _none("no checkpoints")
    notes = all_notes(summary, trend)
    spend_charts = _spend_charts(summary.spend)  # beside the trend's charts; in the spend section without a trend
    body = [
        f"<h1>{_e(TITLE)}</h1>",
        f'<p class="verdict" style="background:{STATUS_COLOURS[status]}">{_e(verdict)}</p>',
        f'<p class="warning">{_e(summary.irreversible)}</p>' if summary.irreversible else "",
        "<dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts) + "</dl>",
        _section("Trend", "trend", _trend(trend, spend_charts)),
        _spend(summary.spend, _figures(spend_charts) if trend is None and spend_charts else ""),
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
