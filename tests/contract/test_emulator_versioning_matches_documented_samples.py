"""Emulator side of issue 26's versioning: GET Bucket versioning and GET Bucket ?versions answer the documented
element trees (tests/contract/samples/versioning-get.enabled.xml, list-versions.go-sdk.xml; each names its source)."""
from __future__ import annotations

import pytest
from qcloud_cos.cos_auth import CosS3Auth

from tests.contract.support import Tree, sample
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator
# Elements the emulator sends beyond the Go SDK's sample, each named by a published source:
LIST_VERSIONS_EXTRAS = {
    "ListVersionsResult/EncodingType",  # the SDK sends encoding-type=url; Go SDK BucketGetObjectVersionsResult
    "ListVersionsResult/NextKeyMarker",  # truncated pages only; 436/35521 and the Go SDK result type
    "ListVersionsResult/NextVersionIdMarker",
}


def cos_raw(sdk_client, params) -> bytes:
    """A signed COS GET on the bucket, as the SDK sends it; the raw XML bytes."""
    return sdk_client.send_request(method="GET", url=sdk_client._conf.uri(bucket=BUCKET), bucket=BUCKET,
                                   auth=CosS3Auth(sdk_client._conf, params=params), params=params,
                                   headers={}).content


@pytest.fixture
def bucket(emulator):
    emulator.backend.create_bucket(BUCKET)
    return BUCKET


def test_get_versioning_has_the_documented_tree(sdk_client, bucket):
    sdk_client.put_bucket_versioning(Bucket=bucket, Status="Enabled")
    assert Tree(cos_raw(sdk_client, {"versioning": ""})).paths == Tree(sample("versioning-get.enabled.xml")).paths


def test_get_versioning_of_a_bucket_that_never_had_it_is_the_empty_element(sdk_client, bucket):
    # 436/19888 prints the body as <VersioningConfiguration/>
    assert cos_raw(sdk_client, {"versioning": ""}).endswith(b"<VersioningConfiguration/>")


def test_list_versions_has_the_documented_tree(sdk_client, emulator, bucket):
    emulator.backend.set_versioning(bucket, "Enabled")
    # the sample's shape: two common prefixes, then one key whose latest version is newer than its delete marker
    for key in ("example-folder-1/a.jpg", "example-folder-2/b.jpg"):
        emulator.backend.put_object(bucket, key, b"x" * 30)
    first = emulator.backend.put_object(bucket, "example-object-1.jpg", b"x" * 30).version_id
    emulator.backend.delete_object(bucket, "example-object-1.jpg")
    emulator.backend.put_object(bucket, "example-object-1.jpg", b"y" * 30)
    emulator.backend.delete_key(bucket, "example-object-1.jpg", first)
    served = Tree(cos_raw(sdk_client, {"versions": "", "delimiter": "/", "encoding-type": "url"}))
    documented = Tree(sample("list-versions.go-sdk.xml"))
    assert served.paths - documented.paths <= LIST_VERSIONS_EXTRAS
    assert documented.paths <= served.paths
    assert served.repeated == documented.repeated == {"ListVersionsResult/CommonPrefixes"}
