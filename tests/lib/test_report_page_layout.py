"""The report page's layout without a browser: the CSS rules that keep it within a phone's and a desktop's width,
identifier cells that may break anywhere, tables that become cards on a phone, and trend charts whose axis starts at
the first report with labels big enough to read. test_report_page_in_browser.py checks the same in Chromium."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from lib.report.html import CHART_FONT, CHART_W, STYLE, render_html
from lib.report.trends import chart_days, compare, point_of
from tests.support.pages import (
    CJK_KEY,
    LONG_JOB_ID,
    LONG_KEY,
    LONG_MESSAGE,
    LONG_NAME,
    PageParts,
    crowded_summary,
    first_day_trend,
)
from tests.support.reports import END, sample_summary, sample_trend

READABLE_PX = 12  # the smallest chart text, in CSS px, a person reads without zooming
FIGURE_INSET = 14  # a figure's padding and border, each side added up


def rule(selector: str, css: str = STYLE) -> str:
    """The declarations of the first rule for exactly this selector."""
    found = re.search(r"(?:^|[}\n])\s*" + re.escape(selector) + r"\{([^}]*)\}", css)
    assert found, f"no CSS rule for {selector}"
    return found.group(1)


def phone_css() -> str:
    return STYLE.split("@media (max-width:600px){", 1)[1]


def trend_with_reports_since(days_ago: int):
    points = [point_of(sample_summary(window_end=END - timedelta(days=d))) for d in range(days_ago, 0, -1)]
    return compare(points, point_of(sample_summary()))


def test_the_column_uses_a_desktops_width():
    assert int(re.search(r"max-width:(\d+)px", rule("main")).group(1)) >= 1200


def test_a_table_is_the_columns_width_never_wider():
    assert "width:100%" in rule("table") and "min-width" not in rule("table")
    assert "max-width:100%" in rule(".scroll")


def test_identifier_cells_break_anywhere_and_short_words_do_not():
    assert "overflow-wrap:anywhere" in rule("td.wrap")
    assert "anywhere" not in rule("td") and "white-space:nowrap" in rule("td.num")


@pytest.mark.parametrize("value", [LONG_KEY, CJK_KEY, LONG_JOB_ID, LONG_NAME, LONG_MESSAGE])
def test_every_cell_holding_a_long_key_id_name_or_message_may_break_anywhere(value):
    page = PageParts(render_html(crowded_summary(), sample_trend()))
    holding = [attrs for attrs, text in page.cells if value in text]
    assert holding and all(attrs.get("class") == "wrap" for attrs in holding)


def test_on_a_phone_a_card_table_shows_each_row_as_labelled_lines():
    phone = phone_css()
    assert "display:block" in rule("table.cards,table.cards tbody,table.cards tr,table.cards td", phone)
    assert "content:attr(data-label)" in rule("table.cards td::before", phone)


def test_every_table_wider_than_the_trend_is_a_card_table_and_each_cell_names_its_column():
    page = PageParts(render_html(crowded_summary(), sample_trend()))
    assert [t.get("class") for t in page.named("table")].count(None) == 1  # the trend's: short numbers, fits a phone
    labelled = [attrs["data-label"] for attrs, _ in page.cells if "data-label" in attrs]
    assert {"Object", "Job", "Keys", "Inventory", "Rule", "Tag / workflow"} <= set(labelled)


def test_long_words_in_paragraphs_and_notes_break_too():
    assert "overflow-wrap:anywhere" in rule("p,li")


@pytest.mark.parametrize(("days_ago", "days_shown"), [(0, 1), (5, 6), (30, 31)])
def test_the_chart_axis_starts_at_the_first_report(days_ago, days_shown):
    trend = trend_with_reports_since(days_ago) if days_ago else first_day_trend()
    days = chart_days(trend)
    assert len(days) == days_shown and days[-1] == END.date()


def test_a_first_days_charts_are_one_labelled_bar_each_and_no_stubs():
    page = PageParts(render_html(sample_summary(), first_day_trend()))
    assert len(page.named("rect")) == 4 + 2  # a bar per chart, and the overlays: a failed job, an image acted on
    assert not [a for a in page.named("rect") if a["fill"] == "#d0d7de"]
    assert {"12", "8.3%", "1", "240"} <= set(page.text) and page.text.count("11-28") == 4


def test_a_long_axis_names_its_maximum_and_its_first_and_last_day():
    page = PageParts(render_html(sample_summary(), sample_trend()))
    assert "max 13" in page.text and page.text.count("10-29") == 4 and page.text.count("11-28") == 4


def test_chart_text_stays_readable_in_the_narrowest_chart_column():
    narrowest = int(re.search(r"minmax\(min\(100%,(\d+)px\)", rule(".charts")).group(1)) - FIGURE_INSET
    assert CHART_FONT * narrowest / CHART_W >= READABLE_PX
