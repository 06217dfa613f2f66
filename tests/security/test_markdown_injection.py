"""Issue 22 point 6: the `.md` report cannot be forged through an object key or CI's message.

The report handler runs against the emulator; the Markdown object it writes is read back and checked the way a
CommonMark/GFM renderer reads it (https://spec.commonmark.org/0.31.2/ §6.1 code spans: a run of N backticks is
closed only by a run of exactly N, so a longer fence holds any shorter run; §2.4 backslash escapes; §6.5 raw HTML;
https://github.github.com/gfm/ §4.10 tables: an unescaped `|` splits a cell, `\\|` does not, even in a code span;
§6.9 extended autolinks `https://…`, `www.…`).
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import List

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.report import main_handler
from lib import escape
from tests.reliability.support import examples
from tests.security.hostile_jobs import FAKE_HEADLINE, HOSTILE_KEYS, HOSTILE_MESSAGE, REPORT_TIME, seed_job
from tests.support.emulator import EMULATOR_NOW, fresh_bucket
from tests.support.events import timer_event
from tests.support.settings import BUCKET

MD_KEY = "autopilot/reports/2026/11/28/report-160000Z.md"
OBJECT_COLUMNS = 8  # Object | State | Type | Offsets | Size | Action | Error | Review (every key here is flagged)
JOB_COLUMNS = 8  # Job | Name | Type | State | Created | Age | Code | Message


def written_report(emulator) -> str:
    time = datetime.fromisoformat(REPORT_TIME.replace("Z", "+00:00"))
    main_handler(timer_event(time, name="daily-report"), {"request_id": "md"})
    return emulator.backend.get_object(BUCKET, MD_KEY).data.decode("utf-8")


def _unescaped(text: str, pos: int) -> bool:
    backslashes = len(text[:pos]) - len(text[:pos].rstrip("\\"))
    return backslashes % 2 == 0


def split_code_spans(line: str) -> tuple:
    """(the line with each code span replaced by `C`, the spans' contents), per CommonMark §6.1."""
    out, spans, i = [], [], 0
    while i < len(line):
        if line[i] == "`" and _unescaped(line, i):
            run = len(line[i:]) - len(line[i:].lstrip("`"))
            close = re.compile(r"(?<!`)" + "`" * run + r"(?!`)")
            found = close.search(line, i + run)
            if found:
                spans.append(line[i + run:found.start()])
                out.append("C")
                i = found.end()
                continue
            out.append(line[i:i + run])
            i += run
            continue
        out.append(line[i])
        i += 1
    return "".join(out), spans


def cells(row: str) -> List[str]:
    """A GFM table row's cells: GFM splits on every unescaped pipe, inside code spans too."""
    inner = row.strip()[1:-1]
    parts, start = [], 0
    for i, char in enumerate(inner):
        if char == "|" and _unescaped(inner, i):
            parts.append(inner[start:i])
            start = i + 1
    return parts + [inner[start:]]


def live_markup(text: str) -> List[str]:
    """Links, images, raw HTML and autolinks a renderer would make of the text outside code spans."""
    found: List[str] = []
    for line in text.split("\n"):
        plain, _ = split_code_spans(line)
        for pattern in (r"!?\[[^\]]*\]\([^)]*\)", r"<[A-Za-z/!?@][^>]*>", r"(?i)https?://\S+", r"(?i)(?<![\w.])www\.\S+"):
            found += [m.group(0) for m in re.finditer(pattern, plain) if _unescaped(plain, m.start())]
    return found


def assert_rows_hold(text: str, marker: str, columns: int) -> None:
    rows = [line for line in text.split("\n") if marker in line]
    assert len(rows) == 1, rows
    assert rows[0].startswith("| ") and len(cells(rows[0])) == columns, rows[0]


def test_hostile_keys_stay_in_their_code_span_row_and_cell(emulator_bucket, emulator):
    seed_job(emulator, HOSTILE_KEYS)
    text = written_report(emulator)
    assert live_markup(text) == []
    for key in HOSTILE_KEYS:
        assert_rows_hold(text, key.split("\n")[0][:9], OBJECT_COLUMNS)
    assert not any(line.startswith(FAKE_HEADLINE) for line in text.split("\n"))


def test_a_key_with_a_backtick_run_gets_a_longer_fence_and_reads_back_whole(emulator_bucket, emulator):
    key = "uploads/a``b`c.png"
    seed_job(emulator, [key])
    row = next(line for line in written_report(emulator).split("\n") if "uploads/a" in line)
    _, spans = split_code_spans(cells(row)[0])
    assert spans == [key]


def test_a_failed_jobs_message_stays_in_its_cell(emulator_bucket, emulator):
    seed_job(emulator, (), state="Failed", message=HOSTILE_MESSAGE)
    text = written_report(emulator)
    assert live_markup(text) == []
    assert_rows_hold(text, "boom", JOB_COLUMNS)


FRAGMENTS = ["`", "``", "```", "[", "]", "(", ")", "<", ">", "<b>", "|", "\\", "\\|", "*", "_", "#", "!", "&",
             "&amp;", "\n", "\r", "\t", "\u2028", " ", "https://", "evil.example", "www.", "x", "照片"]


@examples(default=15, soak=300)
@given(middle=st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=12).map("".join))
def test_generated_keys_add_no_markup_row_or_cell(emulator_bucket, emulator, middle):
    fresh_bucket(emulator, lambda: EMULATOR_NOW)
    seed_job(emulator, [f"uploads/g{middle}.png"])
    text = written_report(emulator)
    assert live_markup(text) == []
    assert_rows_hold(text, "uploads/g", OBJECT_COLUMNS)


@pytest.mark.parametrize("key", ["uploads/plain.png", "uploads/照片 1.png"])
def test_an_ordinary_key_reads_as_itself(emulator_bucket, emulator, key):
    seed_job(emulator, [key])
    row = next(line for line in written_report(emulator).split("\n") if "uploads/" in line)
    assert cells(row)[0].strip() == f"`{key}`"


@pytest.mark.parametrize("text, shown", [
    ("[x](https://e.x)", "\\[x\\](https\\://e.x)"), ("<b>", "\\<b\\>"), ("a|b", "a\\|b"), ("*x* _y_", "\\*x\\* \\_y\\_"),
    ("&amp;", "\\&amp;"), ("a\nb", "a\\nb"), ("- item", "\\- item"), ("1. item", "1\\. item"), ("# h", "\\# h"),
    ("www.e.x", "www\\.e.x"), ("a`b", "a\\`b"), ("autopilot-hourly-20261128T000000Z", "autopilot-hourly-20261128T000000Z"),
])
def test_markdown_text_escapes_inline_markup(text, shown):
    assert escape.markdown_text(text) == shown


@pytest.mark.parametrize("text, shown", [
    ("uploads/cat.png", "`uploads/cat.png`"), ("a`b", "``a`b``"), ("a``b`c", "```a``b`c```"), ("`a", "`` `a ``"),
    ("a|b", "`a\\|b`"), ("a\nb", "`a\\nb`"),
])
def test_markdown_code_fences_longer_than_any_backtick_run(text, shown):
    assert escape.markdown_code(text) == shown


def test_the_html_page_beside_it_keeps_every_hostile_key_escaped(emulator_bucket, emulator):
    """lib/report/html.py escapes with html.escape and forbids scripts by CSP; a guard that it stays so (it passed
    before this change too)."""
    from html import escape as html_escape

    seed_job(emulator, HOSTILE_KEYS)
    written_report(emulator)
    page = emulator.backend.get_object(BUCKET, MD_KEY[:-3] + ".html").data.decode("utf-8")
    assert "<script" not in page and 'href="https://evil' not in page and "<at " not in page
    assert all(html_escape(key, quote=True) in page for key in HOSTILE_KEYS)
