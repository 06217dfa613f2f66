"""The report's coalesced-uploads section: which uploads went into which batch job, and what still waits.

Everything runs over the emulator through the official SDK: uploads go through lib.submit in coalescing mode
(UPLOAD_BATCH_SECONDS), the flush makes the batch job, and the report reads the batch ledgers back."""
from __future__ import annotations

from datetime import timedelta

import pytest

from lib import upload_state
from lib.events import parse_event
from lib.report.build import build_report
from lib.report.html import render_html
from lib.report.render import render_markdown, render_message
from lib.report.uploads import PENDING_TOO_LONG
from lib.submit.timer import submit_timer
from lib.submit.uploads import submit_upload
from tests.reliability.coalesce_support import T0, Clock, Upload, coalesce_settings, instance, upload_event
from tests.support.emulator import emulator_settings, fast_client
from tests.support.events import timer_event

pytestmark = pytest.mark.emulator
DUE = T0 + timedelta(seconds=60) + upload_state.GRACE
KEYS = [f"photos/{i:02d}.png" for i in range(5)]


@pytest.fixture
def clock():
    return Clock(T0 + timedelta(seconds=5))


@pytest.fixture
def clocked_bucket(emulator_with_bucket, clock):
    """The emulator with a fresh BUCKET, its clock the test's `clock`."""
    emulator_with_bucket.backend.set_clock(clock)
    return emulator_with_bucket


def upload(settings, deps, keys):
    submit_upload(settings, parse_event(upload_event([Upload(k, T0, i) for i, k in enumerate(keys)])), deps)


def report(settings, end):
    return build_report(settings, fast_client(settings), end, lookback=timedelta(hours=6))


def test_each_batch_job_is_listed_with_the_uploads_its_ledger_holds(clocked_bucket, clock):
    settings = coalesce_settings(clocked_bucket)
    deps = instance(settings, clock)
    upload(settings, deps, KEYS)
    clock.now = DUE
    submit_timer(settings, parse_event(timer_event(clock())), deps)  # the flush: one batch job for the slot
    summary = report(settings, DUE + timedelta(minutes=1))
    assert summary.uploads is not None
    (line,) = summary.uploads.batches
    assert (summary.uploads.batch_jobs, line.slot, line.batch, line.uploads) == (1, T0, 0, 5)
    assert line.keys == KEYS[:3] and line.more_keys == 2
    assert line.name == f"autopilot-upload-batch-{T0:%Y%m%dT%H%M%SZ}-0" and line.job_id
    assert summary.uploads.pending == 0 and not summary.problem


def test_uploads_still_waiting_are_counted_with_their_oldest_slot(clocked_bucket, clock):
    settings = coalesce_settings(clocked_bucket)
    upload(settings, instance(settings, clock), KEYS[:2])  # recorded; no event or tick since, so no flush
    summary = report(settings, T0 + timedelta(minutes=10))
    assert summary.uploads is not None
    assert (summary.uploads.batch_jobs, summary.uploads.pending, summary.uploads.oldest_pending_slot) == (0, 2, T0)
    assert not summary.problem


def test_uploads_waiting_longer_than_an_hour_make_the_report_a_problem_and_say_why(clocked_bucket, clock):
    settings = coalesce_settings(clocked_bucket)
    upload(settings, instance(settings, clock), KEYS[:1])
    summary = report(settings, T0 + PENDING_TOO_LONG + timedelta(minutes=2))
    assert summary.problem
    assert any("waited for a batch job since" in n and "submit timer" in n for n in summary.notes)


def test_per_event_mode_without_batch_jobs_has_no_uploads_section_and_makes_no_extra_calls(clocked_bucket):
    settings = emulator_settings(clocked_bucket)
    clocked_bucket.request_log.clear()
    summary = report(settings, T0 + timedelta(hours=1))
    assert summary.uploads is None
    assert summary.api_calls == len(clocked_bucket.request_log.snapshot())


def test_the_section_is_in_the_markdown_the_page_and_the_chat_message(clocked_bucket, clock):
    settings = coalesce_settings(clocked_bucket)
    deps = instance(settings, clock)
    upload(settings, deps, KEYS[:2])
    clock.now = DUE
    submit_timer(settings, parse_event(timer_event(clock())), deps)
    summary = report(settings, DUE + timedelta(minutes=1))
    line = "coalesced uploads: 1 batch job in the window; 0 uploaded keys waiting for one"
    markdown = render_markdown(summary)
    assert "## Coalesced uploads" in markdown and line in markdown and "photos/00.png, photos/01.png" in markdown
    assert 'id="uploads"' in render_html(summary) and line in render_html(summary)
    assert line in render_message(summary)
