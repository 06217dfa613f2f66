"""What handlers take from SCF's context."""
from __future__ import annotations

import pytest

from lib.invocation import WORK_SHARE, invocation_of


def test_deadline_leaves_part_of_the_time_limit_for_wrapping_up():
    invocation = invocation_of({"request_id": "r-1", "time_limit_in_ms": 60000}, monotonic=lambda: 100.0)
    assert invocation.request_id == "r-1"
    assert invocation.deadline == pytest.approx(100.0 + WORK_SHARE * 60)


@pytest.mark.parametrize("context", [None, "ctx", {}, {"time_limit_in_ms": "900000"}, {"time_limit_in_ms": True},
                                     {"time_limit_in_ms": -1}])
def test_a_context_without_a_usable_time_limit_sets_no_deadline(context):
    assert invocation_of(context).deadline is None
