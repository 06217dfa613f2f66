"""count_objects on the wire, pinned to the published GET Bucket page (cloud.tencent.com/document/api/436/7734):
query parameters prefix, marker (listing starts after it, exclusive) and max-keys (default and most 1000); the
response's IsTruncated, NextMarker and each Contents' LastModified, shaped as the Go SDK's own sample
(cos-go-sdk-v5 bucket_test.go TestBucketService_Get: `<NextMarker>` on a truncated page without a delimiter,
`<LastModified>2017-06-09T16:32:25.000Z</LastModified>`)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import List, Optional
from urllib.parse import parse_qs, urlparse

import pytest
import responses

from lib.errors import PaginationError
from tests.support.wires import COS_HOST

START = datetime(2017, 6, 9, tzinfo=timezone.utc)
END = datetime(2017, 6, 18, tzinfo=timezone.utc)


def page(keys: List[str], truncated: bool, next_marker: Optional[str] = None) -> str:
    contents = "".join(f"<Contents><Key>{k}</Key><LastModified>2017-06-17T15:09:26.000Z</LastModified>"
                       "<ETag>&quot;5b7236085f08b3818bfa40b03c946dcc&quot;</ETag><Size>8</Size>"
                       "<Owner><ID>1253846586</ID></Owner><StorageClass>STANDARD</StorageClass></Contents>"
                       for k in keys)
    marker = f"<NextMarker>{next_marker}</NextMarker>" if next_marker is not None else ""
    return (f"<?xml version='1.0' encoding='utf-8' ?><ListBucketResult><Name>b</Name><Prefix>test/</Prefix>"
            f"<Marker/><MaxKeys>1000</MaxKeys><IsTruncated>{str(truncated).lower()}</IsTruncated>{marker}"
            f"{contents}</ListBucketResult>")


def queries(rsps: responses.RequestsMock) -> List[dict]:
    return [{k: v[0] for k, v in parse_qs(urlparse(c.request.url).query, keep_blank_values=True).items()}
            for c in rsps.calls]


def test_each_page_asks_for_the_prefix_1000_keys_and_the_marker_the_previous_page_gave(ci_client):
    with responses.RequestsMock() as rsps:
        rsps.get(COS_HOST + "/", body=page(["test/a.go", "test/b.go"], truncated=True, next_marker="test/b.go"))
        rsps.get(COS_HOST + "/", body=page(["test/c.go"], truncated=False))

        count = ci_client.count_objects("test/", START, END, limit=5000)

        sent = queries(rsps)
    assert [(q["prefix"], q["max-keys"], q["marker"]) for q in sent] == [("test/", "1000", ""),
                                                                        ("test/", "1000", "test/b.go")]
    assert (count.objects, count.complete, count.calls) == (3, True, 2)


def test_a_truncated_page_without_next_marker_continues_after_its_last_key(ci_client):
    with responses.RequestsMock() as rsps:
        rsps.get(COS_HOST + "/", body=page(["test/a.go", "test/b.go"], truncated=True))
        rsps.get(COS_HOST + "/", body=page([], truncated=False))

        ci_client.count_objects("test/", START, END, limit=5000)

        assert queries(rsps)[1]["marker"] == "test/b.go"


def test_the_whole_bucket_is_listed_with_an_empty_prefix(ci_client):
    with responses.RequestsMock() as rsps:
        rsps.get(COS_HOST + "/", body=page(["a.png"], truncated=False))

        ci_client.count_objects("/", START, END, limit=1000)

        assert queries(rsps)[0]["prefix"] == ""


def test_a_truncated_page_that_repeats_the_marker_stops_the_count_with_an_error(ci_client):
    with responses.RequestsMock() as rsps:
        rsps.get(COS_HOST + "/", body=page(["test/a.go"], truncated=True, next_marker="test/a.go"))
        rsps.get(COS_HOST + "/", body=page(["test/a.go"], truncated=True, next_marker="test/a.go"))

        with pytest.raises(PaginationError, match="IsTruncated=true but gave no new marker"):
            ci_client.count_objects("test/", START, END, limit=5000)


def test_an_unreadable_last_modified_is_counted_since_it_may_lie_in_the_window(ci_client):
    body = page(["test/a.go"], truncated=False).replace("2017-06-17T15:09:26.000Z", "yesterday")
    with responses.RequestsMock() as rsps:
        rsps.get(COS_HOST + "/", body=body)

        assert ci_client.count_objects("test/", START, END, limit=1000).objects == 1
