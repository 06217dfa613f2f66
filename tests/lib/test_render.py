"""Rendering: webhook payloads and the Markdown report against golden files; chat messages fit their limits.

Regenerate the golden files after an intended change with `UPDATE_GOLDEN=1 pytest tests/lib/test_render.py`
and review the diff.
"""
from __future__ import annotations

import json

import pytest

from lib.config import WEBHOOK_FORMATS
from lib.report.models import ObjectTotals
from lib.report.render import (
    MESSAGE_LIMIT_BYTES,
    render_markdown,
    render_message,
    render_summary_table,
    webhook_payload,
)
from tests.support.reports import check_golden, sample_summary

REPORT_KEY = "autopilot/reports/2026/11/28/report-160000Z.md"


@pytest.mark.parametrize("fmt", WEBHOOK_FORMATS)
def test_webhook_payload_matches_its_golden_file(fmt):
    payload = webhook_payload(fmt, sample_summary(), report_key=REPORT_KEY)
    check_golden(f"webhook-{fmt}.json", json.dumps(payload, indent=2, ensure_ascii=False) + "\n")


@pytest.mark.parametrize("fmt, path", [
    ("wecom", ("markdown", "content")), ("dingtalk", ("markdown", "text")), ("feishu", ("content", "text")),
    ("slack", ("text",)),
])
def test_each_chat_payload_names_the_failed_job_and_the_flagged_image(fmt, path):
    text = webhook_payload(fmt, sample_summary())
    for key in path:
        text = text[key]
    assert "b00000000000000000000000000000001" in text and "uploads/cat.png" in text


def test_the_json_payload_is_the_summary_itself():
    assert webhook_payload("json", sample_summary()) == sample_summary().model_dump(mode="json")


def test_markdown_report_matches_its_golden_file():
    check_golden("report.md", render_markdown(sample_summary()))


def test_terminal_table_matches_its_golden_file():
    check_golden("report-table.txt", render_summary_table(sample_summary()))


def test_a_failing_report_says_so_in_the_message():
    text = render_message(sample_summary(failing=True, fail_above=0.05))
    assert text.startswith("**cos-batch-autopilot report: FAILING:")
    assert "failed share 8.3% is above REPORT_FAIL_ABOVE 5.0%" in text


def test_a_clean_report_says_ok():
    clean = sample_summary(failed_total=0, failed=[], stuck_total=0, stuck=[], problem=False,
                           objects=ObjectTotals(inspected=3, by_state={"Success": 3}), jobs_with_objects=[])
    assert render_message(clean).startswith("**cos-batch-autopilot report: OK: 12 jobs, 0 failed, 0 stuck")


@pytest.mark.parametrize("style", ["markdown", "mrkdwn", "text"])
def test_a_long_message_is_cut_to_the_chat_limit_keeping_the_verdict(style):
    huge = sample_summary(notes=["x" * 3000, "y" * 3000, "z" * 3000])
    text = render_message(huge, style=style)
    assert len(text.encode("utf-8")) <= MESSAGE_LIMIT_BYTES
    assert "PROBLEM: 12 jobs, 1 failed, 1 stuck" in text.splitlines()[0]
    assert text.endswith("see the full report)")


def test_a_message_names_at_most_five_failed_jobs_and_counts_the_rest():
    lines = [sample_summary().failed[0].model_copy(update={"job_id": f"b{i}"}) for i in range(8)]
    text = render_message(sample_summary(failed=lines, failed_total=8))
    assert "b4" in text and "b5" not in text and "… and 3 more" in text
