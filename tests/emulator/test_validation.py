"""Batch-job bodies are validated like the service: 400 with the right Code, and nothing is created."""
from __future__ import annotations

import copy

import pytest
from qcloud_cos import CosServiceError
from qcloud_cos.cos_auth import CosS3Auth

from tests.emulator.factories import job_body, workflow_job_body

pytestmark = pytest.mark.emulator


def _without(body, *path):
    body = copy.deepcopy(body)
    target = body
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]
    return body


def _with(body, value, *path):
    body = copy.deepcopy(body)
    target = body
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return body


JOB = job_body()
WORKFLOW = workflow_job_body("w2504f47ad46e4c3a9d6b0f0e1c2d3e4f")
INVALID_BODIES = {
    "missing Name": _without(JOB, "Name"),
    "empty Name": _with(JOB, "", "Name"),
    "Name over 128 chars": _with(JOB, "n" * 129, "Name"),
    "Name with a space": _with(JOB, "two words", "Name"),
    "Name with a slash": _with(JOB, "a/b", "Name"),
    "unknown Type": _with(JOB, "Batch", "Type"),
    "missing Input": _without(JOB, "Input"),
    "Input with no kind": _with(JOB, {}, "Input"),
    "Input with two kinds": _with(JOB, {"Prefix": "a/", "Object": "a.png"}, "Input"),
    "empty Input.Object": _with(JOB, {"Object": ""}, "Input"),
    "empty Input.UrlFile": _with(JOB, {"UrlFile": ""}, "Input"),
    "missing Operation": _without(JOB, "Operation"),
    "Job without Tag": _without(JOB, "Operation", "Tag"),
    "Job with unsupported Tag": _with(JOB, "Transcode", "Operation", "Tag"),
    "unknown ProcessType": _with(JOB, "Quarantine", "Operation", "JobParam", "ImageInspect", "ProcessType"),
    "AutoProcess not a boolean": _with(JOB, "yes", "Operation", "JobParam", "ImageInspect", "AutoProcess"),
    "TimeInterval.Start without zone": _with(JOB, {"Start": "2023-05-01T00:00:00"}, "Operation", "TimeInterval"),
    "TimeInterval.End as a date": _with(JOB, {"End": "2023-06-01"}, "Operation", "TimeInterval"),
    "TimeInterval.End before Start": _with(JOB, {"Start": "2023-06-01T00:00:00+0800",
                                                 "End": "2023-05-01T00:00:00+0800"}, "Operation", "TimeInterval"),
    "Workflow without WorkflowIds": _without(WORKFLOW, "Operation", "WorkflowIds"),
    "Workflow with malformed WorkflowIds": _with(WORKFLOW, "not a workflow", "Operation", "WorkflowIds"),
}


@pytest.mark.parametrize("body", INVALID_BODIES.values(), ids=INVALID_BODIES.keys())
def test_invalid_body_field_is_400_invalid_argument_and_creates_nothing(sdk_client, bucket, emulator, body):
    with pytest.raises(CosServiceError) as err:
        sdk_client.ci_create_inventory_trigger_jobs(Bucket=bucket, JobBody=body)
    assert err.value.get_status_code() == 400
    assert "<Code>InvalidArgument</Code>" in err.value.get_origin_msg()
    assert emulator.backend.jobs == {}


RAW_BODIES = {
    "not XML": (b"{\"Name\": \"json\"}", "MalformedXML"),
    "unclosed element": (b"<Request><Name>x</Request>", "MalformedXML"),
    "wrong root": (b"<Job><Name>x</Name></Job>", "MalformedXML"),
    "DTD": (b'<!DOCTYPE r [<!ENTITY a "b">]><Request><Name>&a;</Name></Request>', "MalformedXML"),
    "empty": (b"", "MalformedXML"),
    "over 1 MB": (b"<Request><Name>" + b"x" * (1024 * 1024) + b"</Name></Request>", "InvalidArgument"),
}


@pytest.mark.parametrize("raw, code", RAW_BODIES.values(), ids=RAW_BODIES.keys())
def test_unparseable_body_is_400_and_creates_nothing(sdk_client, bucket, emulator, raw, code):
    url = sdk_client._conf.uri(bucket=bucket, path="inventorytriggerjob", endpoint=sdk_client._conf._endpoint_ci)
    with pytest.raises(CosServiceError) as err:
        sdk_client.send_request(method="POST", url=url, bucket=bucket, data=raw, headers={}, ci_request=True,
                                auth=CosS3Auth(sdk_client._conf, "/inventorytriggerjob"))
    assert err.value.get_status_code() == 400
    assert f"<Code>{code}</Code>" in err.value.get_origin_msg()
    assert emulator.backend.jobs == {}


@pytest.mark.parametrize("name", ["图片检测-批量_01", "a" * 128, "A-b_9"])
def test_valid_names_are_accepted(sdk_client, bucket, name):
    body = _with(JOB, name, "Name")
    assert sdk_client.ci_create_inventory_trigger_jobs(Bucket=bucket, JobBody=body)["JobsDetail"][0]["Name"] == name


@pytest.mark.parametrize("prefix", ["/", "", "photos/"])
def test_prefix_input_accepts_slash_empty_and_literal(sdk_client, bucket, prefix):
    detail = sdk_client.ci_create_inventory_trigger_jobs(Bucket=bucket, JobBody=job_body(prefix=prefix))
    assert detail["JobsDetail"][0]["State"] == "Submitted"


@pytest.mark.parametrize("method", ["PATCH", "OPTIONS", "TRACE"])
def test_an_unknown_method_gets_the_services_xml_error(emulator, method):
    import requests

    response = requests.request(method, f"{emulator.url}/inventorytriggerjob", timeout=5,
                                headers={"Host": "examplebucket-1250000000.ci.ap-guangzhou.myqcloud.com"})
    assert response.status_code >= 400
    assert response.text.lstrip().startswith("<?xml") and "<Error>" in response.text
