"""Fault injection: the next N matching requests fail, stall, reset, or are carried out with the response lost."""
from __future__ import annotations

import json
import time
import types

import pytest
import requests
from qcloud_cos import CosClientError, CosServiceError

from tests.emulator.factories import job_body
from tests.support.settings import BUCKET, REGION

pytestmark = pytest.mark.emulator


@pytest.mark.parametrize("status", [500, 503])
def test_status_fault_answers_the_error_and_creates_nothing(emulator, bucket, sdk_client, status):
    emulator.faults.add(action="status", status=status)
    with pytest.raises(CosServiceError) as err:
        sdk_client.ci_create_inventory_trigger_jobs(Bucket=bucket, JobBody=job_body())
    assert err.value.get_status_code() == status
    assert emulator.backend.jobs == {}


def test_fault_applies_to_the_next_count_requests_only(emulator, bucket, sdk_client):
    emulator.faults.add(action="status", status=500, count=2)
    for _ in range(2):
        with pytest.raises(CosServiceError):
            sdk_client.ci_create_inventory_trigger_jobs(Bucket=bucket, JobBody=job_body())
    sdk_client.ci_create_inventory_trigger_jobs(Bucket=bucket, JobBody=job_body())
    assert len(emulator.backend.jobs) == 1


def test_fault_only_matches_its_method_path_and_service(emulator, bucket, sdk_client):
    emulator.faults.add(method="GET", path_regex=r"^/inventorytriggerjob$", service="ci", action="status")
    sdk_client.ci_create_inventory_trigger_jobs(Bucket=bucket, JobBody=job_body())
    sdk_client.put_object(Bucket=bucket, Key="inventorytriggerjob", Body=b"x")
    with pytest.raises(CosServiceError):
        sdk_client.ci_list_inventory_trigger_jobs(Bucket=bucket)


def test_sdk_retries_through_a_transient_fault(emulator, bucket, monkeypatch):
    monkeypatch.setattr("qcloud_cos.cos_client.time", types.SimpleNamespace(sleep=lambda s: None, time=time.time))
    emulator.faults.add(action="status", status=503, count=1)
    sdk_client = emulator.client(region=REGION, retry=1)
    sdk_client.ci_create_inventory_trigger_jobs(Bucket=bucket, JobBody=job_body())
    creates = emulator.request_log.filter(method="POST", path="/inventorytriggerjob")
    assert [r.status for r in creates] == [503, 200]


def test_slow_fault_times_out_the_client_but_still_carries_the_request_out(emulator, bucket):
    emulator.faults.add(action="slow", delay=0.5)
    sdk_client = emulator.client(region=REGION, Timeout=0.1)
    with pytest.raises(CosClientError):
        sdk_client.ci_create_inventory_trigger_jobs(Bucket=bucket, JobBody=job_body())
    assert emulator.request_log.wait_for(timeout=5, method="POST", fault="slow")
    assert len(emulator.backend.jobs) == 1


def test_reset_fault_closes_the_connection_and_creates_nothing(emulator, bucket, sdk_client):
    emulator.faults.add(action="reset")
    with pytest.raises(CosClientError):
        sdk_client.ci_create_inventory_trigger_jobs(Bucket=bucket, JobBody=job_body())
    assert emulator.backend.jobs == {}
    assert emulator.request_log.filter(fault="reset")[0].status == 0


def test_drop_response_fault_creates_the_job_but_the_client_sees_an_error(emulator, bucket, sdk_client):
    emulator.faults.add(action="drop_response")
    with pytest.raises(CosClientError):
        sdk_client.ci_create_inventory_trigger_jobs(Bucket=bucket, JobBody=job_body())
    assert len(emulator.backend.jobs) == 1
    listed = sdk_client.ci_list_inventory_trigger_jobs(Bucket=bucket, Type="Job")
    assert len(listed["JobsDetail"]) == 1


def test_faults_can_be_added_over_the_control_endpoint(emulator, bucket, sdk_client):
    response = requests.post(emulator.url + "/_emulator/faults", timeout=5,
                             data=json.dumps({"method": "PUT", "path_regex": "^/a.png$", "service": "cos",
                                              "action": "status", "status": 500}))
    assert response.status_code == 201
    with pytest.raises(CosServiceError):
        sdk_client.put_object(Bucket=bucket, Key="a.png", Body=b"x")
    assert emulator.backend.list_keys(bucket) == []


def test_bad_fault_spec_is_400(emulator):
    response = requests.post(emulator.url + "/_emulator/faults", data=json.dumps({"action": "explode"}), timeout=5)
    assert response.status_code == 400


def test_the_target_bucket_fault_filter_is_respected(emulator, bucket, sdk_client):
    emulator.backend.create_bucket("other-1250000000")
    emulator.faults.add(method="PUT", path_regex=".", service="cos", bucket="other-1250000000")
    sdk_client.put_object(Bucket=BUCKET, Key="k", Body=b"x")
    with pytest.raises(CosServiceError):
        sdk_client.put_object(Bucket="other-1250000000", Key="k", Body=b"x")
