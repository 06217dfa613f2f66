"""The HTML report, parsed: its structure, no scripts or remote assets, and hostile keys shown as text, never markup."""
from __future__ import annotations

from html.parser import HTMLParser
from typing import Dict, List, Optional, Tuple

import pytest

from lib.report.html import render_html
from lib.report.models import JobObjects, ObjectLine
from lib.report.trends import compare, point_of
from tests.support.reports import sample_summary, sample_trend

HOSTILE = ["<script>alert(1)</script>.png", '"><img src=x onerror=alert(1)>.jpg', "a&b</td></table>.gif",
           "photos/<svg onload=alert(1)>.webp", "javascript:alert(1)//.png"]


class Page(HTMLParser):
    """Every start tag with its attributes and the text of the page, in order."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: List[Tuple[str, Dict[str, Optional[str]]]] = []
        self.text: List[str] = []
        self.open: List[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def named(self, tag: str) -> List[Dict[str, Optional[str]]]:
        return [attrs for name, attrs in self.tags if name == tag]

    @property
    def all_text(self) -> str:
        return "".join(self.text)


def hostile_summary():
    objects = [ObjectLine(key=key, state="Success", suspicious=True, suspicious_type="ZIP", begin_byte=10,
                          end_byte=20, action="Success BackupObject") for key in HOSTILE]
    job = JobObjects(job_id="b0000000000000000000000000000000x", name="<b>job</b>", kind="ImageInspect",
                     by_state={"Success": len(objects)}, suspicious=len(objects), acted=len(objects),
                     objects=objects)
    failed = sample_summary().failed[0].model_copy(update={"message": "<iframe src=//evil>boom</iframe>"})
    return sample_summary(jobs_with_objects=[job], failed=[failed], notes=["note with <style>x</style>"])


def test_the_page_has_every_section_in_order():
    page = Page(render_html(sample_summary(), sample_trend()))
    assert [a["id"] for a in page.named("section")] == ["trend", "failed", "stuck", "objects", "counts", "rules"]
    assert page.named("meta")[1] == {"name": "viewport", "content": "width=device-width, initial-scale=1"}
    assert len(page.named("svg")) == 4  # jobs, failed share, flagged, inspected


def test_the_page_loads_nothing_and_runs_nothing():
    page = Page(render_html(hostile_summary(), sample_trend()))
    assert not page.named("script") and not page.named("link") and not page.named("img")
    assert not page.named("iframe") and not page.named("a")
    assert all(not k.startswith("on") for _, attrs in page.tags for k in attrs)
    assert all(not (attrs.get("src") or attrs.get("href")) for _, attrs in page.tags)
    csp = next(a for a in page.named("meta") if a.get("http-equiv") == "Content-Security-Policy")
    assert csp["content"].startswith("default-src 'none'")


@pytest.mark.parametrize("key", HOSTILE)
def test_a_hostile_object_key_is_shown_as_text(key):
    page = Page(render_html(hostile_summary()))
    assert key in page.all_text


def test_hostile_names_messages_and_notes_are_text_too():
    page = Page(render_html(hostile_summary()))
    for text in ("<b>job</b>", "<iframe src=//evil>boom</iframe>", "note with <style>x</style>"):
        assert text in page.all_text
    assert len(page.named("style")) == 1  # only the page's own


def test_flagged_images_are_listed_with_their_offsets_and_actions():
    page = Page(render_html(sample_summary()))
    assert "uploads/cat.png" in page.all_text
    assert "bytes 120-1097475" in page.all_text and "Success BackupObject" in page.all_text


def test_each_object_row_starts_with_its_key_then_type_and_offsets():
    html = render_html(sample_summary())
    section = html[html.index('<section id="objects">'):html.index('<section id="counts">')]
    cells = [t for t in Page(section).text if t.strip()]
    row = cells[cells.index("uploads/cat.png"):][:4]
    assert row == ["uploads/cat.png", "MPEG-TS", "bytes 120-1097475", "1097356"]


def test_a_day_without_a_report_is_a_stub_not_a_bar():
    trend = sample_trend()  # no report 3 and 4 days ago
    page = Page(render_html(sample_summary(), trend))
    stubs = [a for a in page.named("rect") if a["height"] == "2" and a["fill"] == "#d0d7de"]
    assert len(stubs) == 2 * 4  # two missing days in each of the four charts


def test_a_first_report_says_so_and_still_draws_todays_bar():
    page = Page(render_html(sample_summary(), compare([], point_of(sample_summary()))))
    assert "No earlier report in the last 30 days" in page.all_text
    assert len(page.named("svg")) == 4


def test_the_verdict_is_the_first_thing_after_the_title():
    page = Page(render_html(sample_summary(failing=True, fail_above=0.05)))
    assert page.tags[page.tags.index(("h1", {})) + 1][0] == "p"
    assert "FAILING: 12 jobs, 1 failed" in page.all_text
