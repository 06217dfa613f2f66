"""The client counts every request where it is sent, in its requests session (lib.client.count_requests): each
attempt of a retried read, per client, pooled or not."""
from __future__ import annotations

import pytest
import responses

from lib.client import make_client, shared_pool_session
from lib.config import load_settings
from tests.support.settings import ENV
from tests.support.wires import CI_ERROR, COS_HOST

OBJECT = {"body": b"{}", "headers": {"Content-Length": "2"}}


@pytest.fixture
def rsps():
    with responses.RequestsMock() as mock:
        yield mock


def test_a_read_the_client_retried_counts_each_attempt(rsps):
    for status in (503, 500):
        rsps.add(responses.GET, f"{COS_HOST}/state.json", status=status,
                 body=CI_ERROR.format(code="ServiceUnavailable", message="try again"))
    rsps.add(responses.GET, f"{COS_HOST}/state.json", **OBJECT)
    client = make_client(load_settings(ENV), sleep=lambda _s: None)
    assert client.get_object("state.json") == b"{}"
    assert client.calls == 3 == len(rsps.calls)


@pytest.mark.parametrize("pool_size", [None, 4])
def test_each_client_counts_only_its_own_requests(rsps, pool_size):
    rsps.add(responses.GET, f"{COS_HOST}/state.json", **OBJECT)
    settings = load_settings(ENV)
    first, second = (make_client(settings, pool_size=pool_size) for _ in range(2))
    first.get_object("state.json")
    second.get_object("state.json")
    first.get_object("state.json")
    assert (first.calls, second.calls) == (2, 1)


def test_clients_without_a_pool_of_their_own_share_the_process_connections():
    # As the SDK's built-in session did: a warm function keeps its connections from one invocation to the next.
    assert shared_pool_session().get_adapter("https://x") is shared_pool_session().get_adapter("https://x")
