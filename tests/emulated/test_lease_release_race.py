"""A claim released while a contender reads it: the contender must stop, never take a second generation beside the
run that claimed the claim afresh meanwhile (found by the spend ledger's concurrency test, issue 25)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from lib.errors import LeaseHeldError
from lib.state import Lease, StateStore
from tests.support.emulator import emulator_settings, fast_client

pytestmark = pytest.mark.emulator
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)
TTL = timedelta(seconds=60)


def proposal(owner: str) -> Lease:
    return Lease(lease_id="spend@2026-12-07", owner=owner, generation=0, expires_at=NOW, job_name="spend-2026-12-07")


class ReleasedMidRead:
    """Our client, except that A releases just before the contender reads g000000, and C claims afresh just before
    the contender writes its next generation."""

    def __init__(self, client, before_read, before_next_generation):
        self._client = client
        self._before_read = before_read
        self._before_write = before_next_generation

    def __getattr__(self, name):
        return getattr(self._client, name)

    def get_object(self, key):
        if key.endswith("/g000000.json") and self._before_read is not None:
            hook, self._before_read = self._before_read, None
            hook()
        return self._client.get_object(key)

    def put_object(self, key, *args, **kwargs):
        if key.endswith("/g000001.json") and self._before_write is not None:
            hook, self._before_write = self._before_write, None
            hook()
        return self._client.put_object(key, *args, **kwargs)


def test_a_contender_reading_a_claim_released_meanwhile_stops_instead_of_holding_beside_the_new_holder(
        emulator_with_bucket):
    settings = emulator_settings(emulator_with_bucket)
    client = fast_client(settings)
    a = StateStore(client, settings.state_prefix, lambda: NOW)
    c = StateStore(client, settings.state_prefix, lambda: NOW)
    held = a.acquire(proposal("a"), TTL)
    taken = []

    b = StateStore(ReleasedMidRead(client, lambda: a.release(held),
                                   lambda: taken.append(c.acquire(proposal("c"), TTL))),
                   settings.state_prefix, lambda: NOW)
    with pytest.raises(LeaseHeldError, match="changed while this run read it"):
        b.acquire(proposal("b"), TTL)
    assert not any(k.endswith("/g000001.json") for k in client.list_keys(f"{settings.state_prefix}leases/"))
