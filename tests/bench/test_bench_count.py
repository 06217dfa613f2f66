"""The counting benchmark's machinery on small inputs: what it seeds, counts and checks. Behaviour only, never
timings."""
from __future__ import annotations

import pytest

from bench import count

pytestmark = pytest.mark.emulator


def test_the_seeded_prefix_is_counted_in_ceil_n_over_1000_calls_one_object_in_ten_inside_the_window(emulator):
    inside = count.seed(emulator, 2500)

    run = count.run_one(emulator, 2500, inside, limit=2500)

    assert (run["calls"], run["logged_calls"], run["counted"], run["complete"]) == (3, 3, 250, True)
    assert count._ok(run)


def test_past_the_bound_the_run_lists_the_bounds_pages_and_reports_at_least(emulator):
    inside = count.seed(emulator, 2500)

    run = count.run_one(emulator, 2500, inside, limit=1000)

    assert (run["calls"], run["counted"], run["complete"]) == (1, 100, False)
    assert count._ok(run)


def test_a_run_that_counts_wrong_is_not_ok():
    run = {"objects": 2500, "inside": 250, "limit": 2500, "calls": 3, "logged_calls": 3, "counted": 249,
           "complete": True}
    assert not count._ok(run)
