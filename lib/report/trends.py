"""Trends: a rolling 90-day history of daily report figures kept in COS, and today compared with it.

The history is one small JSON index, written as numbered generations under `{STATE_PREFIX}trends/` with
`x-cos-forbid-overwrite`: two reports that overlap both read generation N, one writes N+1, the other is refused
(409), reads N+1 again and writes N+2, so neither report's figures are lost and nothing is overwritten blindly.
"""
from __future__ import annotations

import json
import logging
import re
from datetime import date, datetime, timedelta
from typing import Callable, Dict, List, Optional, Tuple

from pydantic import BaseModel, ConfigDict, ValidationError

from lib.client import CiClient
from lib.errors import AppError, CloudApiError
from lib.report.models import ReportSummary, SpendDay
from lib.spend import DayTotal
from lib.windows import as_utc

logger = logging.getLogger(__name__)

INDEX_KIND = "cos-batch-autopilot/trend-index"
INDEX_VERSION = 1
KEEP_DAYS = 90  # points older than this many days (counted from the newest report) are dropped
COMPARE_DAYS = 30
WRITE_ATTEMPTS = 3  # one refused write per overlapping report; three covers a redelivered timer and a manual run
_INDEX_NAME = re.compile(r"^index-(\d{9})\.json$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TrendPoint(_Strict):
    """One day's figures: those of the report whose window ended last on that UTC day."""

    day: date
    window_end: datetime
    total_jobs: int
    by_state: Dict[str, int] = {}
    failed_share: float = 0.0
    inspected: int = 0
    flagged: int = 0
    acted: int = 0


class TrendIndex(_Strict):
    """The stored history; `kind` and `version` let a reader tell our index from anything else at that key."""

    kind: str = INDEX_KIND
    version: int = INDEX_VERSION
    points: List[TrendPoint] = []


class TrendRow(_Strict):
    """One figure today, yesterday and as the mean of the last 30 days (None when there is no such report)."""

    metric: str
    today: float
    yesterday: Optional[float] = None
    mean: Optional[float] = None
    share: bool = False  # a fraction shown as a percentage, its changes in percentage points

    @property
    def vs_yesterday(self) -> Optional[float]:
        return None if self.yesterday is None else self.today - self.yesterday

    @property
    def vs_mean(self) -> Optional[float]:
        return None if self.mean is None else self.today - self.mean


class Trend(_Strict):
    """Today against yesterday and the last 30 days, the daily points behind it, and what went wrong keeping it."""

    today: TrendPoint
    rows: List[TrendRow]
    days_compared: int  # days in the last 30 (before today) that had a report
    recent: List[TrendPoint]  # the last 30 days and today, oldest first, for charts
    notes: List[str] = []

    @property
    def has_history(self) -> bool:
        return self.days_compared > 0


def point_of(summary: ReportSummary) -> TrendPoint:
    """The figures a report adds to the history, dated by the UTC day its window ends."""
    end = as_utc(summary.window_end)
    by_state: Dict[str, int] = {}
    for row in summary.counts:
        by_state[row.state] = by_state.get(row.state, 0) + row.count
    objects = summary.objects
    return TrendPoint(day=end.date(), window_end=end, total_jobs=summary.total_jobs,
                      by_state=dict(sorted(by_state.items())), failed_share=summary.failed_share,
                      inspected=objects.inspected, flagged=objects.suspicious, acted=objects.acted)


def merge(points: List[TrendPoint], new: TrendPoint, keep_days: int = KEEP_DAYS) -> List[TrendPoint]:
    """One point per day (the later window end wins), only the last keep_days days, oldest first."""
    by_day: Dict[date, TrendPoint] = {}
    for point in list(points) + [new]:
        kept = by_day.get(point.day)
        if kept is None or point.window_end >= kept.window_end:
            by_day[point.day] = point
    newest = max(by_day)
    return [by_day[d] for d in sorted(by_day) if (newest - d).days < keep_days]


def compare(points: List[TrendPoint], today: TrendPoint, days: int = COMPARE_DAYS) -> Trend:
    """Today's figures with yesterday's and the mean of the days (up to `days` back) that had a report."""
    earlier = [p for p in points if 0 < (today.day - p.day).days <= days]
    yesterday = next((p for p in earlier if (today.day - p.day).days == 1), None)
    states = sorted(set(today.by_state).union(*(p.by_state for p in earlier)))
    figures: List[Tuple[str, bool, Callable[[TrendPoint], float]]] = [("jobs", False, lambda p: p.total_jobs)]
    figures += [(state, False, lambda p, s=state: p.by_state.get(s, 0)) for state in states]
    figures += [("failed share", True, lambda p: p.failed_share), ("inspected", False, lambda p: p.inspected),
                ("flagged", False, lambda p: p.flagged), ("acted on", False, lambda p: p.acted)]
    rows = [TrendRow(metric=name, today=get(today), share=share, yesterday=None if yesterday is None else get(yesterday),
                     mean=sum(get(p) for p in earlier) / len(earlier) if earlier else None)
            for name, share, get in figures]
    return Trend(today=today, rows=rows, days_compared=len(earlier), recent=earlier + [today])


def chart_days(trend: Trend) -> List[date]:
    """The days a chart shows, oldest first: from the first day with a report (at most COMPARE_DAYS back) to today.

    A first report is one bar, not one bar among 30 empty days; the axis grows as the history does.
    """
    today = trend.today.day
    first = max(min((p.day for p in trend.recent), default=today), today - timedelta(days=COMPARE_DAYS))
    return [first + timedelta(days=n) for n in range((today - first).days + 1)]


def spend_trend_days(today: date, days: int = COMPARE_DAYS) -> List[date]:
    """The days the spend trend reads from the ledger: the last `days` and today, oldest first."""
    return [today - timedelta(days=n) for n in range(days, -1, -1)]


def spend_trend(totals: Dict[str, DayTotal], today: date, days: int = COMPARE_DAYS) -> List[SpendDay]:
    """Objects sent and their estimate per UTC day, from the first day the ledger has a job (at most `days` back)
    to today: a first day is one bar, as in chart_days; a day without jobs inside the span is a zero."""
    span = spend_trend_days(today, days)
    read = [totals.get(d.isoformat()) or DayTotal(day=d.isoformat()) for d in span]
    first = next((i for i, total in enumerate(read) if total.jobs), len(span) - 1)
    return [SpendDay(day=d, jobs=t.jobs, objects=t.objects, cost=t.cost) for d, t in zip(span[first:], read[first:])]


# --- the index in COS ----------------------------------------------------------------------------------


class _Foreign(Exception):
    """The newest index object is valid JSON but not an index this version wrote: leave it alone."""


def index_prefix(state_prefix: str) -> str:
    return f"{state_prefix}trends/"


def index_key(state_prefix: str, generation: int) -> str:
    return f"{index_prefix(state_prefix)}index-{generation:09d}.json"


def parse_index(raw: bytes, key: str, notes: List[str]) -> List[TrendPoint]:
    """The points of a stored index; unreadable points are dropped with a note, a foreign index raises _Foreign."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        notes.append(f"trend index {key} is not JSON; it was skipped and the index rebuilt from what else was readable")
        return []
    if not isinstance(data, dict) or data.get("kind") != INDEX_KIND or data.get("version") != INDEX_VERSION:
        found = data.get("kind") if isinstance(data, dict) else type(data).__name__
        raise _Foreign(f"trend index {key} is not a version-{INDEX_VERSION} {INDEX_KIND} (found {found!r}); "
                       "trends are skipped and it is left as it is: move it away, or set STATE_PREFIX to another "
                       "folder")
    points: List[TrendPoint] = []
    raw_points = data.get("points")
    bad = 0
    for item in raw_points if isinstance(raw_points, list) else []:
        try:
            points.append(TrendPoint.model_validate(item))
        except ValidationError:
            bad += 1
    if bad or not isinstance(raw_points, list):
        notes.append(f"trend index {key}: {bad or 'all'} unreadable point(s) dropped; the rest are kept")
    return points


def _generations(client: CiClient, state_prefix: str) -> List[int]:
    prefix = index_prefix(state_prefix)
    found = (_INDEX_NAME.match(k[len(prefix):]) for k in client.list_keys(prefix) if k.startswith(prefix))
    return sorted(int(m.group(1)) for m in found if m)


def _load(client: CiClient, state_prefix: str, generations: List[int], notes: List[str]) -> List[TrendPoint]:
    """The newest readable generation's points; a corrupt newest falls back to the one before it, once."""
    for generation in generations[::-1][:2]:
        key = index_key(state_prefix, generation)
        raw = client.get_object(key)
        if raw is None:
            continue  # removed by an overlapping report after our listing; the next one down is older but whole
        before = len(notes)
        points = parse_index(raw, key, notes)
        if points or len(notes) == before:
            return points
    return []


def update_trends(client: CiClient, state_prefix: str, summary: ReportSummary, *,
                  attempts: int = WRITE_ATTEMPTS) -> Trend:
    """Add this report to the history in COS and compare it; never raises: what went wrong becomes a note."""
    today = point_of(summary)
    notes: List[str] = []
    for _ in range(attempts):
        try:
            generations = _generations(client, state_prefix)
            points = _load(client, state_prefix, generations, notes)
        except _Foreign as exc:
            return compare([], today).model_copy(update={"notes": notes + [str(exc)]})
        except AppError as exc:
            return compare([], today).model_copy(
                update={"notes": notes + [f"trend index under {index_prefix(state_prefix)} could not be read: {exc}"]})
        merged = merge(points, today)
        latest = generations[-1] if generations else 0
        body = TrendIndex(points=merged).model_dump_json().encode("utf-8")
        try:
            client.put_object(index_key(state_prefix, latest + 1), body, "application/json", if_absent=True)
        except CloudApiError as exc:
            if exc.status == 409:
                notes.clear()  # another report wrote first: read again, its notes will be ours again if they apply
                continue
            return _unsaved(merged, today, notes, exc)
        except AppError as exc:
            return _unsaved(merged, today, notes, exc)
        _prune(client, state_prefix, [g for g in generations if g < latest])
        return compare(merged, today).model_copy(update={"notes": notes})
    return _unsaved(points, today, notes, f"{attempts} overlapping reports wrote it first")


def _unsaved(points: List[TrendPoint], today: TrendPoint, notes: List[str], why: object) -> Trend:
    trend = compare(merge(points, today), today)
    return trend.model_copy(update={"notes": notes + [f"trend index not updated: {why}; the next report adds "
                                                      "its own day"]})


def _prune(client: CiClient, state_prefix: str, generations: List[int]) -> None:
    """Delete generations older than the one just read: the newest two stay, so a reader mid-way finds one."""
    for generation in generations:
        try:
            client.delete_object(index_key(state_prefix, generation))
        except AppError as exc:  # a leftover generation costs a few KB and is removed by the next report
            logger.debug("trend index generation %s not removed: %s", generation, exc)

