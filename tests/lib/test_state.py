"""Leases: one conditional create in the usual case; takeovers keep the window; release touches only our claims."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from lib.client import make_client
from lib.config import load_settings
from lib.errors import LeaseHeldError
from lib.state import Lease, StateStore
from tests.support.settings import ENV

NOW = datetime(2026, 11, 28, 16, 0, tzinfo=timezone.utc)
DIR = "autopilot/leases/rule@first/"


def store():
    settings = load_settings(ENV)
    return StateStore(make_client(settings, sleep=lambda s: None), settings.state_prefix, lambda: NOW)


def proposal(owner="me", job_name="job-new"):
    return Lease(lease_id="rule@first", owner=owner, generation=0, expires_at=NOW, job_name=job_name,
                 window_start=NOW - timedelta(hours=1), window_end=NOW)


def claim(ci_wire, generation, expires, owner="other", job_name="job-old"):
    ci_wire.objects[f"{DIR}g{generation:06d}.json"] = json.dumps({
        "lease_id": "rule@first", "owner": owner, "generation": generation, "expires_at": expires.isoformat(),
        "window_start": "2026-11-28T13:00:00+00:00", "window_end": "2026-11-28T14:00:00+00:00",
        "job_name": job_name}).encode()


def test_an_unclaimed_lease_costs_one_conditional_create_and_one_listing(ci_wire):
    lease = store().acquire(proposal(), timedelta(minutes=5))
    assert (lease.generation, lease.owner, lease.expires_at) == (0, "me", NOW + timedelta(minutes=5))
    assert [c.request.method for c in ci_wire.rsps.calls] == ["PUT", "GET"]


# The deploy's lifecycle rule (deploy/lifecycle.py) deletes claim files under leases/ by age, oldest first, so
# g000000 can be gone while a newer generation is still held: re-creating g000000 must not win the claim.
def test_a_live_newer_generation_behind_an_expired_away_first_file_keeps_the_claim(ci_wire):
    claim(ci_wire, 3, NOW + timedelta(minutes=1), owner="alive")
    with pytest.raises(LeaseHeldError, match="held by run alive"):
        store().acquire(proposal(), timedelta(minutes=5))
    assert sorted(k for k in ci_wire.objects if k.startswith(DIR)) == [f"{DIR}g000003.json"]


def test_a_lapsed_newer_generation_behind_an_expired_away_first_file_is_taken_over_after_it(ci_wire):
    claim(ci_wire, 3, NOW - timedelta(seconds=1), job_name="job-old")
    lease = store().acquire(proposal(), timedelta(minutes=5))
    assert (lease.generation, lease.job_name) == (4, "job-old")
    assert sorted(k for k in ci_wire.objects if k.startswith(DIR)) == [f"{DIR}g000003.json", f"{DIR}g000004.json"]


def test_a_live_claim_is_refused(ci_wire):
    claim(ci_wire, 0, NOW + timedelta(minutes=1))
    with pytest.raises(LeaseHeldError, match="held by run other"):
        store().acquire(proposal(), timedelta(minutes=5))


def test_an_expired_claim_is_taken_over_with_its_window_and_job_name(ci_wire):
    claim(ci_wire, 0, NOW - timedelta(seconds=1))
    lease = store().acquire(proposal(), timedelta(minutes=5))
    assert (lease.generation, lease.owner, lease.job_name) == (1, "me", "job-old")
    assert f"{DIR}g000001.json" in ci_wire.objects


def test_release_keeps_a_newer_claim_of_a_run_that_took_over(ci_wire):
    claim(ci_wire, 0, NOW - timedelta(seconds=1))
    mine = store().acquire(proposal(), timedelta(minutes=5))  # generation 1
    claim(ci_wire, 2, NOW + timedelta(minutes=9), owner="successor")
    store().release(mine)
    assert sorted(k for k in ci_wire.objects if k.startswith(DIR)) == [f"{DIR}g000002.json"]


def test_a_lapsed_claim_left_by_a_killed_run_is_cleared_with_all_its_generations(ci_wire):
    claim(ci_wire, 0, NOW - timedelta(minutes=9))
    claim(ci_wire, 1, NOW - timedelta(seconds=1))
    assert store().clear_expired("rule@first") == 2
    assert [k for k in ci_wire.objects if k.startswith(DIR)] == []


def test_a_live_claim_is_not_cleared(ci_wire):
    claim(ci_wire, 0, NOW - timedelta(minutes=9))
    claim(ci_wire, 1, NOW + timedelta(seconds=1), owner="alive")
    assert store().clear_expired("rule@first") == 0
    assert len([k for k in ci_wire.objects if k.startswith(DIR)]) == 2


def test_clearing_where_no_claim_is_left_costs_one_listing(ci_wire):
    assert store().clear_expired("rule@first") == 0
    assert [c.request.method for c in ci_wire.rsps.calls] == ["GET"]
