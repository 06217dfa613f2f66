"""Listing batch jobs: every documented filter, both orders, and NextToken paging, over 260 jobs."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Dict, List

import pytest
from qcloud_cos import CosServiceError

from emulator.testing import run_emulator
from tests.emulator.factories import job_body, workflow_job_body
from tests.support.settings import BUCKET, REGION

pytestmark = pytest.mark.emulator

T0 = datetime(2023, 5, 1, 0, 0, 0, tzinfo=timezone.utc)
CST = timezone(timedelta(hours=8))
TOTAL = 260


def cst(value: datetime) -> str:
    return value.astimezone(CST).strftime("%Y-%m-%dT%H:%M:%S+0800")


@pytest.fixture(scope="module")
def world():
    """260 jobs, one a minute from T0: every 3rd is Workflow-type (w1/w2 alternating), the rest Job-type; names
    cycle batch-0..4; the first 200 ran (every 10th failed on a missing UrlFile, every 7th was cancelled first);
    of the last 60, every 7th is cancelled and the first one is Running."""
    now = {"t": T0}
    with run_emulator(clock=lambda: now["t"]) as emu:
        emu.backend.create_bucket(BUCKET)
        sdk_client = emu.client(region=REGION)
        jobs: List[Dict] = []

        def create(i: int) -> None:
            now["t"] = T0 + timedelta(minutes=i)
            if i % 3 == 0:
                body = workflow_job_body(f"w{1 + (i // 3) % 2}", name=f"batch-{i % 5}")
            elif i % 10 == 1:
                body = job_body(name=f"batch-{i % 5}", input_={"UrlFile": "missing.txt"})
            else:
                body = job_body(name=f"batch-{i % 5}", prefix="nothing/")
            detail = sdk_client.ci_create_inventory_trigger_jobs(Bucket=BUCKET, JobBody=body)["JobsDetail"][0]
            jobs.append({"i": i, "id": detail["JobId"], "type": body["Type"], "name": body["Name"],
                         "created": now["t"], "wf": body["Operation"].get("WorkflowIds")})
            if i % 7 == 0:
                sdk_client.ci_delete_inventory_trigger_jobs(Bucket=BUCKET, JobId=detail["JobId"])

        for i in range(200):
            create(i)
        emu.backend.run_pending()
        for i in range(200, TOTAL):
            create(i)
        emu.backend.step()
        for job in jobs:
            job["state"] = emu.backend.get_job(job["id"]).state
        yield sdk_client, jobs


def list_all(sdk_client, **kwargs) -> List[Dict]:
    """Follow NextToken to the end, checking each page's size."""
    out, token, size = [], "", kwargs.pop("Size", 100)
    while True:
        page = sdk_client.ci_list_inventory_trigger_jobs(Bucket=BUCKET, Size=size, NextToken=token, **kwargs)
        assert len(page.get("JobsDetail", [])) <= size
        out.extend(page.get("JobsDetail", []))
        token = page.get("NextToken") or ""
        if not token:
            return out


def ids(details) -> List[str]:
    return [d["JobId"] for d in details]


def expected(jobs, order="Desc", **match) -> List[str]:
    rows = [j for j in jobs if all(j[k] == v for k, v in match.items())]
    rows.sort(key=lambda j: j["i"], reverse=order == "Desc")
    return [j["id"] for j in rows]


def test_world_has_every_state(world):
    _, jobs = world
    assert {j["state"] for j in jobs} == {"Submitted", "Running", "Success", "Failed", "Cancel"}


@pytest.mark.parametrize("order", ["Desc", "Asc"])
@pytest.mark.parametrize("job_type", ["Job", "Workflow"])
def test_paging_to_the_end_returns_each_job_once_in_creation_order(world, order, job_type):
    sdk_client, jobs = world
    listed = list_all(sdk_client, Type=job_type, OrderByTime=order)
    assert ids(listed) == expected(jobs, order, type=job_type)


def test_default_size_is_ten_with_a_next_token(world):
    sdk_client, _ = world
    page = sdk_client.ci_list_inventory_trigger_jobs(Bucket=BUCKET, Type="Job")
    assert len(page["JobsDetail"]) == 10
    assert page["NextToken"]


@pytest.mark.parametrize("size", [1, 7, 100])
def test_every_page_size_tiles_the_list(world, size):
    sdk_client, jobs = world
    assert ids(list_all(sdk_client, Type="Job", Size=size)) == expected(jobs, type="Job")


@pytest.mark.parametrize("state", ["Submitted", "Running", "Success", "Failed", "Cancel"])
def test_states_filter_returns_only_that_state(world, state):
    sdk_client, jobs = world
    assert ids(list_all(sdk_client, Type="Job", States=state)) == expected(jobs, type="Job", state=state)


def test_states_filter_accepts_a_comma_separated_list(world):
    sdk_client, jobs = world
    listed = list_all(sdk_client, Type="Job", States="Success,Failed")
    assert sorted(ids(listed)) == sorted(expected(jobs, type="Job", state="Success")
                                         + expected(jobs, type="Job", state="Failed"))


def test_name_filter_is_exact(world):
    sdk_client, jobs = world
    assert ids(list_all(sdk_client, Type="Job", Name="batch-3")) == expected(jobs, type="Job", name="batch-3")


def test_job_id_filter_returns_that_job(world):
    sdk_client, jobs = world
    target = jobs[100]
    assert ids(list_all(sdk_client, Type=target["type"], JobId=target["id"])) == [target["id"]]


def test_workflow_id_filter_returns_jobs_of_that_workflow(world):
    sdk_client, jobs = world
    assert ids(list_all(sdk_client, Type="Workflow", WorkflowId="w2")) == expected(jobs, type="Workflow", wf="w2")


def test_creation_time_range_includes_both_bounds_as_documented(world):
    # 大于等于 / 小于等于: cloud.tencent.com/document/product/436/71518 (read 2026-12-01); boundaries in tests/contract.
    sdk_client, jobs = world
    start, end = T0 + timedelta(minutes=50), T0 + timedelta(minutes=120)
    listed = list_all(sdk_client, Type="Job", StartCreationTime=cst(start), EndCreationTime=cst(end), OrderByTime="Asc")
    want = [j["id"] for j in jobs if j["type"] == "Job" and start <= j["created"] <= end]
    assert ids(listed) == want
    assert listed[0]["CreationTime"] == cst(start) or jobs[50]["type"] != "Job"


def test_filters_combine(world):
    sdk_client, jobs = world
    listed = list_all(sdk_client, Type="Job", States="Success", Name="batch-2", OrderByTime="Asc")
    assert ids(listed) == expected(jobs, "Asc", type="Job", state="Success", name="batch-2")


INVALID_QUERIES = {
    "size over 100": {"Size": 101},
    "size zero": {"Size": 0},
    "unknown order": {"OrderByTime": "Sideways"},
    "unknown state": {"States": "Done"},
    "bad token": {"NextToken": "not-a-token"},
    "unknown type": {"Type": "Batch"},
    "bad start time": {"StartCreationTime": "2023-05-01"},
}


@pytest.mark.parametrize("query", INVALID_QUERIES.values(), ids=INVALID_QUERIES.keys())
def test_invalid_list_query_is_400_invalid_argument(world, query):
    sdk_client, _ = world
    with pytest.raises(CosServiceError) as err:
        sdk_client.ci_list_inventory_trigger_jobs(Bucket=BUCKET, **{"Type": "Job", **query})
    assert err.value.get_status_code() == 400
    assert "<Code>InvalidArgument</Code>" in err.value.get_origin_msg()
