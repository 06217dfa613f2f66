"""The SDK's four batch-job calls against the emulator: parsed results and wire format."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
import requests
from qcloud_cos import CosServiceError

from tests.emulator.factories import job_body, workflow_job_body
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator

FIXED = datetime(2023, 5, 10, 2, 0, 0, tzinfo=timezone.utc)
DETAIL_ORDER = ["Code", "Message", "JobId", "Tag", "State", "CreationTime", "StartTime", "EndTime", "QueueId",
                "Name", "Type", "Input", "Operation"]


def test_create_job_type_returns_submitted_job_echoing_the_request(sdk_client, bucket, emulator):
    emulator.backend.set_clock(lambda: FIXED)
    body = job_body(start="2023-05-01T00:00:00+0800", end="2023-06-01T00:00:00+0800")
    detail = sdk_client.ci_create_inventory_trigger_jobs(Bucket=bucket, JobBody=body)["JobsDetail"][0]
    assert re.match(r"^b[0-9a-f]{32}$", detail["JobId"])
    assert {k: detail[k] for k in ("Code", "Tag", "State", "CreationTime", "StartTime", "EndTime", "QueueId",
                                   "Name", "Type")} == {
        "Code": "Success", "Tag": "ImageInspect", "State": "Submitted", "CreationTime": "2023-05-10T10:00:00+0800",
        "StartTime": "-", "EndTime": "-", "QueueId": "-", "Name": "inspect-all", "Type": "Job"}
    assert detail["Input"] == {"Prefix": "/"}
    assert detail["Operation"] == body["Operation"]


def test_create_workflow_type_echoes_workflow_ids(sdk_client, bucket):
    body = workflow_job_body("w2504f47ad46e4c3a9d6b0f0e1c2d3e4f")
    detail = sdk_client.ci_create_inventory_trigger_jobs(Bucket=bucket, JobBody=body)["JobsDetail"][0]
    assert (detail["Tag"], detail["Type"]) == ("Workflow", "Workflow")
    assert detail["Operation"]["WorkflowIds"] == "w2504f47ad46e4c3a9d6b0f0e1c2d3e4f"


def test_response_elements_follow_the_documented_order(sdk_client, bucket, emulator):
    job_id = sdk_client.ci_create_inventory_trigger_jobs(Bucket=bucket, JobBody=job_body())["JobsDetail"][0]["JobId"]
    url = sdk_client._conf.uri(bucket=bucket, path=f"inventorytriggerjob/{job_id}",
                               endpoint=sdk_client._conf._endpoint_ci)
    from qcloud_cos.cos_auth import CosS3Auth

    raw = sdk_client.send_request(method="GET", url=url, bucket=bucket, headers={}, ci_request=True,
                                  auth=CosS3Auth(sdk_client._conf, f"/inventorytriggerjob/{job_id}")).text
    assert raw.index("<RequestId>") < raw.index("<JobsDetail>")
    positions = [raw.index(f"<{tag}") for tag in DETAIL_ORDER]
    assert positions == sorted(positions)


def test_get_returns_the_job(sdk_client, bucket):
    job_id = sdk_client.ci_create_inventory_trigger_jobs(Bucket=bucket, JobBody=job_body())["JobsDetail"][0]["JobId"]
    got = sdk_client.ci_get_inventory_trigger_jobs(Bucket=bucket, JobID=job_id)
    assert [d["JobId"] for d in got["JobsDetail"]] == [job_id]
    assert "NonExistJobIds" not in got


def test_get_unknown_id_is_200_with_non_exist_job_ids(sdk_client, bucket):
    got = sdk_client.ci_get_inventory_trigger_jobs(Bucket=bucket, JobID="b00000000000000000000000000000000")
    assert got["NonExistJobIds"] == "b00000000000000000000000000000000"
    assert "JobsDetail" not in got


def test_get_job_of_another_bucket_is_non_existent(sdk_client, bucket, emulator):
    emulator.backend.create_bucket("other-1250000000")
    job_id = sdk_client.ci_create_inventory_trigger_jobs(Bucket="other-1250000000",
                                                         JobBody=job_body())["JobsDetail"][0]["JobId"]
    assert sdk_client.ci_get_inventory_trigger_jobs(Bucket=bucket, JobID=job_id)["NonExistJobIds"] == job_id


def test_list_with_sdk_defaults_returns_workflow_jobs_only(sdk_client, bucket):
    sdk_client.ci_create_inventory_trigger_jobs(Bucket=bucket, JobBody=job_body())
    wf = sdk_client.ci_create_inventory_trigger_jobs(Bucket=bucket, JobBody=workflow_job_body("w123"))
    listed = sdk_client.ci_list_inventory_trigger_jobs(Bucket=bucket)
    assert [d["JobId"] for d in listed["JobsDetail"]] == [wf["JobsDetail"][0]["JobId"]]
    assert "NextToken" not in listed


def test_cancel_returns_200_with_empty_body_and_cancels(sdk_client, bucket, emulator):
    job_id = sdk_client.ci_create_inventory_trigger_jobs(Bucket=bucket, JobBody=job_body())["JobsDetail"][0]["JobId"]
    response = sdk_client.ci_delete_inventory_trigger_jobs(Bucket=bucket, JobId=job_id)
    assert (response.status_code, response.content) == (200, b"")
    assert response.headers["x-ci-request-id"]
    detail = sdk_client.ci_get_inventory_trigger_jobs(Bucket=bucket, JobID=job_id)["JobsDetail"][0]
    assert detail["State"] == "Cancel"
    assert detail["EndTime"] != "-"


def test_cancel_twice_is_a_no_op(sdk_client, bucket):
    job_id = sdk_client.ci_create_inventory_trigger_jobs(Bucket=bucket, JobBody=job_body())["JobsDetail"][0]["JobId"]
    sdk_client.ci_delete_inventory_trigger_jobs(Bucket=bucket, JobId=job_id)
    assert sdk_client.ci_delete_inventory_trigger_jobs(Bucket=bucket, JobId=job_id).status_code == 200


def test_cancel_finished_job_is_400_invalid_argument(sdk_client, bucket, emulator):
    job_id = sdk_client.ci_create_inventory_trigger_jobs(Bucket=bucket, JobBody=job_body())["JobsDetail"][0]["JobId"]
    emulator.backend.run_pending()
    with pytest.raises(CosServiceError) as err:
        sdk_client.ci_delete_inventory_trigger_jobs(Bucket=bucket, JobId=job_id)
    assert err.value.get_status_code() == 400
    assert "<Code>InvalidArgument</Code>" in err.value.get_origin_msg()


def test_cancel_unknown_job_is_404_no_such_job(sdk_client, bucket):
    with pytest.raises(CosServiceError) as err:
        sdk_client.ci_delete_inventory_trigger_jobs(Bucket=bucket, JobId="b00000000000000000000000000000000")
    assert err.value.get_status_code() == 404


def test_ci_error_body_has_documented_fields_and_no_resource(sdk_client, bucket):
    with pytest.raises(CosServiceError) as err:
        sdk_client.ci_create_inventory_trigger_jobs(Bucket=bucket, JobBody={"Type": "Job"})
    body = err.value.get_origin_msg()
    assert re.search(r"<Error><Code>InvalidArgument</Code><Message>[^<]+</Message><RequestId>[^<]+</RequestId>"
                     r"<TraceId>[^<]+</TraceId></Error>", body)
    assert "<Resource>" not in body


def test_batch_job_on_missing_bucket_is_404(sdk_client, emulator):
    with pytest.raises(CosServiceError) as err:
        sdk_client.ci_create_inventory_trigger_jobs(Bucket=BUCKET, JobBody=job_body())
    assert err.value.get_status_code() == 404
    assert emulator.backend.jobs == {}


def test_unknown_ci_route_is_501_not_implemented(sdk_client, bucket):
    with pytest.raises(CosServiceError) as err:
        sdk_client.ci_list_media_jobs(Bucket=bucket, Tag="Transcode", Path="/nothing")
    assert err.value.get_status_code() == 501


def test_origin_form_request_with_real_host_header_is_served(emulator, bucket):
    response = requests.post(emulator.url + "/inventorytriggerjob", data=b"<Request/>",
                             headers={"Host": f"{bucket}.ci.ap-guangzhou.myqcloud.com"}, timeout=5)
    assert response.status_code == 401  # routed to the CI service, which wants a signature (CI: 401)
    assert "<Code>AccessDenied</Code>" in response.text


def test_unknown_host_is_400_invalid_host(emulator):
    response = requests.get(emulator.url + "/", timeout=5)
    assert response.status_code == 400
    assert "<Code>InvalidHost</Code>" in response.text
