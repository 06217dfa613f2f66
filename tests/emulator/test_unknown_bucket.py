"""A bucket that does not exist is 404 NoSuchBucket on both hosts, through the unmodified SDK: never an empty answer.

COS: the error-code page https://cloud.tencent.com/document/api/436/7730 lists `404 NoSuchBucket` ("The specified
bucket does not exist"), and the SDK's ut/test.py `test_put_object_non_exist_bucket` (cos-python-sdk-v5 @cc3bdf0)
expects it. CI: its error-code page (https://cloud.tencent.com.cn/document/product/436/53983, intl 1045/43611) does
not list an unknown bucket in the excerpts read, so the same code and status in CI's error XML (no `<Resource>`) is
inference (docs/emulator.md's fidelity table): an answer that lists nothing would let a wrong COS_BUCKET read as
"0 jobs" (issue 27 point 1)."""
from __future__ import annotations

import pytest
from qcloud_cos import CosServiceError

from tests.support.emulator import ci_get

pytestmark = pytest.mark.emulator

MISSING = "missingbucket-1250000000"
NO_CACHE = {"CacheControl": "no-cache", "ResponseCacheControl": "no-cache"}


def _code(err: CosServiceError) -> str:
    """The <Code> of an error body (the SDK reports CI errors' code as 'Unknown')."""
    return err.get_origin_msg().split("<Code>", 1)[1].split("</Code>", 1)[0]


CI_CALLS = {
    "list batch jobs": lambda c: c.ci_list_inventory_trigger_jobs(Bucket=MISSING, Type="Job", **NO_CACHE),
    "get a batch job": lambda c: c.ci_get_inventory_trigger_jobs(Bucket=MISSING, JobID="b" + "0" * 32, **NO_CACHE),
    "create a batch job": lambda c: c.ci_create_inventory_trigger_jobs(
        Bucket=MISSING, ContentType="application/xml", JobBody={
            "Name": "n", "Type": "Job", "Input": {"Object": "a.png"},
            "Operation": {"Tag": "ImageInspect", "JobParam": {"ImageInspect": {"AutoProcess": "false"}}}}),
    "list per-object jobs": lambda c: c.ci_list_media_jobs(Bucket=MISSING, Tag="ImageInspect", **NO_CACHE),
    "list media queues": lambda c: c.ci_get_media_queue(Bucket=MISSING, **NO_CACHE),
    "list workflow executions": lambda c: ci_get(c, "/workflowexecution", {"workflowId": "w" + "0" * 32},
                                                 bucket=MISSING),
}


@pytest.mark.parametrize("call", list(CI_CALLS.values()), ids=list(CI_CALLS))
def test_a_ci_call_on_a_bucket_that_does_not_exist_is_404_no_such_bucket_in_ci_error_xml(sdk_client, call):
    with pytest.raises(CosServiceError) as err:
        call(sdk_client)
    assert (err.value.get_status_code(), _code(err.value)) == (404, "NoSuchBucket")
    assert "<Resource>" not in err.value.get_origin_msg()  # CI's error body has no Resource


def test_listing_a_bucket_that_does_not_exist_is_404_no_such_bucket(sdk_client):
    with pytest.raises(CosServiceError) as err:
        sdk_client.list_objects(Bucket=MISSING, Prefix="")
    assert (err.value.get_status_code(), err.value.get_error_code()) == (404, "NoSuchBucket")

