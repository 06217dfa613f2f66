"""Windows and CI timestamps."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from lib.client import JobDetail
from lib.config import load_settings
from lib.state import Checkpoint
from lib.submit.run import lease_ttl
from lib.submit.timer import plan_timer_window
from lib.windows import Window, format_ci_time, parse_ci_time, parse_duration
from tests.support.settings import ENV

T = datetime(2026, 11, 28, 16, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(("moment", "expected"), [
    (datetime(2026, 11, 28, 15, 59, 59, tzinfo=timezone.utc), "2026-11-28T23:59:59+0800"),
    (datetime(2026, 11, 28, 16, 0, 0, tzinfo=timezone.utc), "2026-11-29T00:00:00+0800"),
    (datetime(2026, 12, 31, 16, 0, 0, tzinfo=timezone.utc), "2027-01-01T00:00:00+0800"),
    (datetime(2026, 11, 28, 16, 0, 0), "2026-11-29T00:00:00+0800"),  # naive is UTC, like SCF's clock
])
def test_ci_time_is_beijing_time_across_day_and_year_boundaries(moment, expected):
    assert format_ci_time(moment) == expected


@pytest.mark.parametrize("text", ["2026-11-29T00:00:00+0800", "2026-11-28T16:00:00Z", "2026-11-29T00:00:00+08:00"])
def test_ci_time_parses_the_forms_ci_returns(text):
    assert parse_ci_time(text) == T


@pytest.mark.parametrize("text", ["-", "", "  "])
def test_dash_time_means_not_yet(text):
    assert parse_ci_time(text) is None


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("15m", 900), ("6h", 21600), ("1d", 86400),
                                               ("1h30m", 5400), ("1w", 604800)])
def test_durations(text, seconds):
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "6", "h", "1.5h", "-1h", "0s", "1y"])
def test_bad_durations_are_rejected(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def _settings(**extra):
    return load_settings({**ENV, **extra})


def test_first_incremental_run_looks_back_the_default_hour():
    assert plan_timer_window(_settings(), T, None) == Window(T - timedelta(hours=1), T)


def test_first_run_lookback_is_configurable():
    assert plan_timer_window(_settings(FIRST_RUN_LOOKBACK="1d"), T, None) == Window(T - timedelta(days=1), T)


def test_incremental_run_starts_at_the_checkpoint():
    checkpoint = Checkpoint(rule="r", end=T - timedelta(hours=3), job_id="b1", job_name="n")
    assert plan_timer_window(_settings(), T, checkpoint) == Window(T - timedelta(hours=3), T)


@pytest.mark.parametrize("offset", [timedelta(0), timedelta(minutes=5)])
def test_incremental_run_at_or_before_the_checkpoint_has_nothing_to_do(offset):
    checkpoint = Checkpoint(rule="r", end=T + offset, job_id="b1", job_name="n")
    assert plan_timer_window(_settings(), T, checkpoint) is None


def test_duration_window_is_a_fixed_lookback():
    assert plan_timer_window(_settings(WINDOW="6h"), T, None) == Window(T - timedelta(hours=6), T)


def test_all_window_has_no_start():
    assert plan_timer_window(_settings(WINDOW="all"), T, None) == Window(None, T)


@pytest.mark.parametrize(("ids", "expected"), [("w1abcdef", ("w1abcdef",)), (["w1", "w2"], ("w1", "w2")),
                                               ("w1,w2", ("w1", "w2")), (None, ())])
def test_job_detail_accepts_workflow_ids_as_str_or_list(ids, expected):
    job = JobDetail.model_validate({"JobId": "b1", "Operation": {"WorkflowIds": ids}, "Message": None})
    assert job.workflow_ids == expected
    assert job.Message == ""


@pytest.mark.parametrize(("lease_seconds", "time_limit", "expected"), [
    (None, 300.0, 330),   # follows the function: lapses before SCF's retry a minute after a kill
    (None, 900.0, 930),
    (None, None, 930),    # no context: the longest an event function may run, + 30 s
    ("120", 300.0, 120),  # an explicit LEASE_SECONDS wins
])
def test_lease_ttl_follows_the_function_time_limit_unless_set(lease_seconds, time_limit, expected):
    extra = {"LEASE_SECONDS": lease_seconds} if lease_seconds else {}
    assert lease_ttl(_settings(**extra), time_limit).total_seconds() == expected
