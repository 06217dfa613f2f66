"""HTML report pages that stress the layout: every section, each table holding its longest kind of value.

The page and CSS checks (tests/lib/test_report_page_layout.py) and the browser's (test_report_page_in_browser.py)
render these, so both look at the same worst case.
"""
from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser
from typing import Dict, List, Optional, Tuple

from lib.report.models import (
    InventoryLine,
    JobLine,
    JobObjects,
    ObjectLine,
    ReportSummary,
    UploadBatchLine,
    UploadsSummary,
)
from lib.report.trends import Trend, compare, point_of
from tests.support.reports import END, sample_summary

# Keys and ids as COS and CI allow them: no spaces to break at, CJK, a job name with its window in it.
LONG_KEY = "uploads/" + "very-long-folder-name-without-spaces_" * 4 + "20261128T150000Z-0123456789abcdef.png"
CJK_KEY = "相册/二〇二六年十一月/" + "旅行照片" * 12 + ".jpg"
LONG_JOB_ID = "b" + "0123456789abcdef" * 2
LONG_NAME = "autopilot-hourly-inspect-uploads-photos-20261128T150000Z-20261128T160000Z"
LONG_MESSAGE = "ImageInspect failed: " + "the input object could not be read from the source bucket; " * 3


def crowded_summary() -> ReportSummary:
    """The sample report with long keys, ids, names and messages in every table, coalesced uploads and inventories."""
    objects = [ObjectLine(key=key, state="Success", suspicious=True, suspicious_type="MPEG-TS", begin_byte=1234567,
                          end_byte=98765432, suspicious_size=97530865, action=f"Success moved to backup/{key}",
                          review="pending") for key in (LONG_KEY, CJK_KEY)]
    objects.append(ObjectLine(key=LONG_KEY.replace(".png", "-2.png"), state="Failed", error=LONG_MESSAGE))
    job = JobObjects(job_id=LONG_JOB_ID, name=LONG_NAME, kind="ImageInspect", by_state={"Success": 2, "Failed": 1},
                     suspicious=2, acted=2, objects=objects)
    failed = JobLine(job_id=LONG_JOB_ID, name=LONG_NAME, type="Workflow", group="w" + "0123456789abcdef" * 2,
                     state="Failed", code="InvalidArgument.InputObjectNotExist", message=LONG_MESSAGE,
                     created=END - timedelta(hours=16), age_seconds=57600)
    batches = [UploadBatchLine(job_id=LONG_JOB_ID, name=LONG_NAME, state="Running", slot=END - timedelta(minutes=5),
                               batch=12, uploads=1000, keys=[LONG_KEY, CJK_KEY], more_keys=998)]
    uploads = UploadsSummary(batch_jobs=1, batches=batches, pending=3, oldest_pending_slot=END)
    inventory = InventoryLine(inventory_id="nightly-" + "inventory-of-the-photos-bucket" * 2, status="late",
                              day="20261127", listed=1204000, kept=1180000, dropped={"outside INPUT_PREFIX": 24000},
                              jobs=20, job_names=[f"{LONG_NAME}-{n}" for n in range(20)],
                              processed_at=END - timedelta(days=1), newest="20261128", problem=LONG_MESSAGE)
    sample = sample_summary()
    checkpoints = [c.model_copy(update={"rule": LONG_NAME, "last_job_id": LONG_JOB_ID}) for c in sample.checkpoints]
    return sample_summary(failed=[failed], stuck=[failed.model_copy(update={"state": "Running"})],
                          jobs_with_objects=[job], uploads=uploads, inventories=[inventory], checkpoints=checkpoints,
                          notes=[LONG_MESSAGE + LONG_KEY])


def first_day_trend() -> Trend:
    """The trend on the day of the first report: nothing earlier to compare with."""
    return compare([], point_of(sample_summary()))


class PageParts(HTMLParser):
    """A page's start tags with their attributes, its text, and each table cell's attributes with its text."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: List[Tuple[str, Dict[str, Optional[str]]]] = []
        self.text: List[str] = []
        self.cells: List[Tuple[Dict[str, Optional[str]], str]] = []
        self._cell: Optional[List[str]] = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "td":
            self._cell = []
            self.cells.append((dict(attrs), ""))

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.cells[-1] = (self.cells[-1][0], "".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def named(self, tag: str) -> List[Dict[str, Optional[str]]]:
        return [attrs for name, attrs in self.tags if name == tag]
