"""The HTML report laid out by a real browser (headless Chromium) at a phone's and a desktop's width, as a person sees
it: no page wider than the window, no table that scrolls sideways, chart text big enough to read, and `make visual`'s
PNGs of the whole page. Skipped where Chromium is not installed (tests/lib/test_report_page_layout.py then still
checks the CSS rules behind each of these)."""
from __future__ import annotations

import struct
from pathlib import Path
from typing import Any, Callable, Dict, Tuple

import pytest

from emulator.visual import FIRST_HEIGHT, Chromium, find_chromium, shoot
from lib.report.html import render_html
from tests.support.pages import crowded_summary, first_day_trend
from tests.support.reports import sample_summary, sample_trend

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on PATH (apt-get install chromium): the page "
                                "was not laid out in a browser; test_report_page_layout.py checked its CSS rules")

PAGES = {"crowded, 30 days of trend": lambda: render_html(crowded_summary(), sample_trend()),
         "first report": lambda: render_html(sample_summary(), first_day_trend())}
WIDTHS = (390, 1280)
CASES = [(name, width) for name in PAGES for width in WIDTHS]
READABLE_PX = 12  # the smallest chart text, in CSS px, a person reads without zooming


@pytest.fixture(scope="module")
def browser():
    with Chromium(CHROMIUM) as chromium:
        yield chromium


@pytest.fixture(scope="module")
def page_files(tmp_path_factory) -> Dict[str, Path]:
    folder = tmp_path_factory.mktemp("pages")
    files = {}
    for n, (name, render) in enumerate(PAGES.items()):
        files[name] = folder / f"page-{n}.html"
        files[name].write_text(render(), encoding="utf-8")
    return files


@pytest.fixture(scope="module")
def measured(browser, page_files) -> Callable[[str, int], Dict[str, Any]]:
    seen: Dict[Tuple[str, int], Dict[str, Any]] = {}

    def measure(name: str, width: int) -> Dict[str, Any]:
        if (name, width) not in seen:
            seen[name, width] = browser.measure(browser.open(page_files[name].as_uri(), width))
        return seen[name, width]
    return measure


def png_size(path: Path) -> Tuple[int, int]:
    width, height = struct.unpack(">II", path.read_bytes()[16:24])  # the IHDR chunk follows the 8-byte signature
    return width, height


@pytest.mark.parametrize(("name", "width"), CASES)
def test_the_page_is_no_wider_than_the_window(measured, name, width):
    seen = measured(name, width)
    assert seen["innerWidth"] == width
    assert seen["scrollWidth"] <= seen["innerWidth"]


@pytest.mark.parametrize(("name", "width"), CASES)
def test_no_table_scrolls_sideways_long_keys_and_job_ids_wrap_instead(measured, name, width):
    assert measured(name, width)["sideways"] == []


@pytest.mark.parametrize(("name", "width"), CASES)
def test_chart_text_is_drawn_big_enough_to_read(measured, name, width):
    assert measured(name, width)["chartText"] >= READABLE_PX


def test_make_visual_writes_the_whole_page_at_phone_and_desktop_width(page_files, measured, tmp_path):
    name = "crowded, 30 days of trend"
    lines = shoot(page_files[name], tmp_path, CHROMIUM)
    sizes = {path.name: png_size(path) for path in sorted(tmp_path.glob("*.png"))}
    assert sizes == {"report-desktop.png": (1280, measured(name, 1280)["height"]),
                     "report-phone.png": (390, measured(name, 390)["height"])}
    assert min(height for _, height in sizes.values()) > FIRST_HEIGHT  # taller than the window it was loaded in
    assert not any("OVERFLOWS" in line or "sideways" in line for line in lines)
