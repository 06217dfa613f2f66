"""The trend in the chat message and the Markdown report: golden files for the new lines, sparklines, changes.

Regenerate the golden files after an intended change with `UPDATE_GOLDEN=1 pytest tests/lib/test_render_trends.py`
and review the diff.
"""
from __future__ import annotations

import json

import pytest

from lib.config import WEBHOOK_FORMATS
from lib.report.render import (
    MESSAGE_LIMIT_BYTES,
    fmt_change,
    render_markdown,
    render_message,
    sparkline,
    trend_lines,
    webhook_payload,
)
from lib.report.trends import TrendRow, compare, point_of
from tests.support.reports import check_golden, sample_summary, sample_trend

LINK = ("https://console.cloud.tencent.com/cos/bucket?bucket=examplebucket-1250000000&region=ap-guangzhou"
        "&path=%252Fautopilot%252Freports%252F2026%252F11%252F28%252F")


@pytest.mark.parametrize("fmt", WEBHOOK_FORMATS)
def test_webhook_with_trend_and_link_matches_its_golden_file(fmt):
    payload = webhook_payload(fmt, sample_summary(), trend=sample_trend(), link=LINK)
    check_golden(f"webhook-{fmt}-trend.json", json.dumps(payload, indent=2, ensure_ascii=False) + "\n")


def test_markdown_with_trend_matches_its_golden_file():
    check_golden("report-trend.md", render_markdown(sample_summary(), sample_trend()))


# Link syntax, read 2026-12-01: WeCom group-bot markdown `[text](url)` (https://developer.work.weixin.qq.com/document/
# path/91770) and DingTalk robot markdown the same (https://open.dingtalk.com/document/development/robot-message-type);
# Slack mrkdwn `<url|text>` (https://docs.slack.dev/messaging/formatting-message-text/). Feishu's text message has no
# link syntax: the bare URL, which its client makes clickable (inferred, no page says so).
@pytest.mark.parametrize("style, line", [
    ("markdown", f"[open the full report]({LINK})"),
    ("mrkdwn", f"<{LINK}|open the full report>"),
    ("text", f"full report: {LINK}"),
])
def test_the_link_is_the_last_line_in_each_platforms_syntax(style, line):
    assert render_message(sample_summary(), style=style, link=LINK).splitlines()[-1] == line


def test_a_first_report_says_there_is_nothing_to_compare_with():
    first = compare([], point_of(sample_summary()))
    assert trend_lines(first) == ["trend: no earlier report in the last 30 days to compare with yet"]


@pytest.mark.parametrize("values, line", [
    ([0, 1, 2, 3, 4, 5, 6, 7], "▁▂▃▄▅▆▇█"),
    ([0.0, 0.0, 0.0], "▁▁▁"),
    ([1, None, 1], "█·█"),
    ([], ""),
])
def test_a_sparkline_scales_from_zero_to_the_largest_and_shows_gaps(values, line):
    assert sparkline(values) == line


@pytest.mark.parametrize("share, change, text", [
    (False, 3, "+3"), (False, -1.5, "-1.5"), (False, 0, "±0"), (False, None, "-"),
    (True, 0.083, "+8.3 pp"), (True, -0.0004, "±0 pp"),
])
def test_changes_are_signed_and_shares_are_in_percentage_points(share, change, text):
    assert fmt_change(TrendRow(metric="m", today=0, share=share), change) == text


def test_the_trend_survives_a_message_cut_to_the_chat_limit():
    huge = sample_summary(notes=["x" * 3000, "y" * 3000])
    text = render_message(huge, trend=sample_trend(), link=LINK)
    assert len(text.encode("utf-8")) <= MESSAGE_LIMIT_BYTES
    assert "failed share, 30 days to today:" in text


def test_trend_notes_join_the_reports_notes():
    trend = compare([], point_of(sample_summary())).model_copy(update={"notes": ["trend index x is not JSON"]})
    assert "note: trend index x is not JSON" in render_message(sample_summary(), trend=trend)
    assert "- trend index x is not JSON" in render_markdown(sample_summary(), trend)
