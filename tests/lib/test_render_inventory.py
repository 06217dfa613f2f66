"""The inventory section in every rendering (golden files), and the headline naming an inventory problem.

Regenerate the golden files after an intended change with `UPDATE_GOLDEN=1 pytest tests/lib/test_render_inventory.py`
and review the diff."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from lib.report.html import render_html
from lib.report.models import InventoryLine, headline
from lib.report.render import render_markdown, render_message, render_summary_table, webhook_payload
from tests.support.reports import check_golden, sample_summary

REPORT_KEY = "autopilot/reports/2026/11/28/report-160000Z.md"
PROCESSED = datetime(2026, 11, 28, 1, 12, 5, tzinfo=timezone.utc)
LATE = ("inventory nightly is late: no report newer than 20261127 (processed 2026-11-27T01:12:05Z) for 1d14h47m, more "
        "than a Daily schedule allows (1d12h); check the configuration is enabled (GET Bucket inventory) and that COS "
        "may write to its destination")


def in_time(**changes) -> InventoryLine:
    line = InventoryLine(inventory_id="daily", status="ok", day="20261128", listed=1204, kept=1180,
                         dropped={"outside INPUT_PREFIX": 20, "suffix not in UPLOAD_SUFFIXES": 4}, jobs=1,
                         job_names=["autopilot-inv-daily-20261128-1"], processed_at=PROCESSED, newest="20261128")
    return line.model_copy(update=changes)


def late() -> InventoryLine:
    return InventoryLine(inventory_id="nightly", status="late", day="20261127", listed=7, kept=7, jobs=1,
                         job_names=["autopilot-inv-nightly-20261127-1"], processed_at=PROCESSED.replace(day=27),
                         newest="20261127", problem=LATE)


def with_inventories():
    return sample_summary(inventories=[in_time(), late()])


def test_the_markdown_report_has_an_inventory_section_as_its_golden_file():
    check_golden("report-inventory.md", render_markdown(with_inventories()))


def test_the_terminal_table_has_an_inventory_table_as_its_golden_file():
    check_golden("report-inventory-table.txt", render_summary_table(with_inventories()))


@pytest.mark.parametrize("fmt", ["wecom", "slack"])
def test_the_chat_payload_has_a_line_per_inventory_and_its_problem_as_its_golden_file(fmt):
    payload = webhook_payload(fmt, with_inventories(), report_key=REPORT_KEY)
    check_golden(f"webhook-{fmt}-inventory.json", json.dumps(payload, indent=2, ensure_ascii=False) + "\n")


def test_the_page_has_an_inventory_section_between_the_uploads_and_the_rules():
    page = render_html(with_inventories())
    assert page.index('id="objects"') < page.index('id="inventory"') < page.index('id="rules"')
    assert "1 outside INPUT_PREFIX" not in page and "20 outside INPUT_PREFIX; 4 suffix not in UPLOAD_SUFFIXES" in page


def test_a_report_without_inventory_rules_renders_no_inventory_section():
    summary = sample_summary()
    assert "Inventory" not in render_markdown(summary) and 'id="inventory"' not in render_html(summary)
    assert "inventory `" not in render_message(summary) and "INVENTORY" not in render_summary_table(summary)


@pytest.mark.parametrize("status, words", [("late", "inventory late"), ("none", "inventory no report processed yet"),
                                           ("ignored", "inventory stored state ignored"),
                                           ("missing", "inventory not configured"),
                                           ("unprocessed", "inventory report not processed"),
                                           ("unreadable", "inventory unreadable")])
def test_the_headline_says_why_an_inventory_is_a_problem(status, words):
    summary = sample_summary(inventories=[InventoryLine(inventory_id="daily", status=status, problem="why")])
    assert headline(summary)[1].endswith(f"1 object failed, {words} (last 1d)")


def test_an_inventory_in_time_adds_nothing_to_the_headline():
    assert headline(sample_summary(inventories=[in_time()])) == headline(sample_summary())


def test_many_job_names_are_cut_to_the_first_five_in_the_markdown_report():
    names = [f"autopilot-inv-daily-20261128-{n}" for n in range(1, 21)]
    text = render_markdown(sample_summary(inventories=[in_time(jobs=20, job_names=names)]))
    assert "autopilot-inv-daily-20261128-5 … and 15 more" in text and "20261128-6" not in text
