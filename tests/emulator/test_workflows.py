"""Workflows with ImageInspect nodes, Workflow-type batch jobs, and their workflow executions, via the SDK."""
from __future__ import annotations

import pytest
from qcloud_cos import CosServiceError

from tests.emulator.factories import png, suspicious_png, workflow_body, workflow_job_body
from tests.support.emulator import inspect_jobs
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator


def make_workflow(sdk_client, **kwargs) -> str:
    return sdk_client.ci_create_workflow(Bucket=BUCKET, Body=workflow_body(**kwargs))["MediaWorkflow"]["WorkflowId"]


def run_batch(sdk_client, emulator, workflow_id: str) -> str:
    job_id = sdk_client.ci_create_inventory_trigger_jobs(Bucket=BUCKET, JobBody=workflow_job_body(workflow_id))[
        "JobsDetail"][0]["JobId"]
    emulator.backend.run_pending()
    return job_id


def test_create_workflow_returns_id_and_echoes_topology(sdk_client, bucket):
    created = sdk_client.ci_create_workflow(Bucket=bucket, Body=workflow_body())["MediaWorkflow"]
    assert created["WorkflowId"].startswith("w")
    assert (created["Name"], created["State"], created["BucketId"]) == ("inspect-flow", "Active", bucket)
    assert created["Topology"]["Nodes"]["ImageInspectNode"]["Operation"]["ImageInspect"] == {
        "AutoProcess": "true", "ProcessType": "BackupObject"}


def test_get_workflow_by_id_and_reports_unknown_ids(sdk_client, bucket):
    wid = make_workflow(sdk_client)
    got = sdk_client.ci_get_workflow(Bucket=bucket, Ids=f"{wid},wmissing")
    assert [w["WorkflowId"] for w in got["MediaWorkflowList"]] == [wid]
    assert got["NonExistIDs"] == "wmissing"


def test_workflow_with_unsupported_node_type_is_400(sdk_client, bucket, emulator):
    body = workflow_body()
    body["MediaWorkflow"]["Topology"]["Nodes"]["ImageInspectNode"]["Type"] = "Transcode"
    with pytest.raises(CosServiceError) as err:
        sdk_client.ci_create_workflow(Bucket=bucket, Body=body)
    assert err.value.get_status_code() == 400
    assert emulator.backend.workflows == {}


def test_paused_then_active_workflow_state_is_updated(sdk_client, bucket):
    wid = make_workflow(sdk_client)
    sdk_client.ci_update_workflow_state(Bucket=bucket, WorkflowId=wid, UpdateState="paused")
    assert sdk_client.ci_get_workflow(Bucket=bucket, Ids=wid)["MediaWorkflowList"][0]["State"] == "Paused"
    sdk_client.ci_update_workflow_state(Bucket=bucket, WorkflowId=wid, UpdateState="active")
    assert sdk_client.ci_get_workflow(Bucket=bucket, Ids=wid)["MediaWorkflowList"][0]["State"] == "Active"


def test_workflow_batch_job_runs_the_inspect_node_on_each_object(sdk_client, bucket, emulator):
    emulator.backend.put_object(bucket, "bad.png", suspicious_png())
    emulator.backend.put_object(bucket, "ok.png", png())
    wid = make_workflow(sdk_client, process_type="BackupObject")
    job_id = run_batch(sdk_client, emulator, wid)
    assert sdk_client.ci_get_inventory_trigger_jobs(Bucket=bucket, JobID=job_id)["JobsDetail"][0]["State"] == "Success"
    assert emulator.backend.list_keys(bucket) == ["abnormal_images_backup/bad.png", "ok.png"]


def test_workflow_executions_are_listed_by_batch_job_id(sdk_client, bucket, emulator):
    for key in ("a.png", "b.png"):
        emulator.backend.put_object(bucket, key, png())
    wid = make_workflow(sdk_client)
    job_id = run_batch(sdk_client, emulator, wid)
    listed = sdk_client.ci_list_workflowexecution(Bucket=bucket, WorkflowId=wid, BatchJobId=job_id, OrderByTime="Asc")
    # WorkflowExecutionList as documented (436/80048); the Python SDK leaves that name as xmltodict gives it.
    runs = listed["WorkflowExecutionList"]
    assert [(r["Object"], r["State"], r["WorkflowId"]) for r in runs] == [
        ("a.png", "Success", wid), ("b.png", "Success", wid)]
    assert inspect_jobs(sdk_client, job_id) == []  # Workflow-type results live under the executions


def test_workflow_execution_detail_carries_the_inspect_task(sdk_client, bucket, emulator):
    emulator.backend.put_object(bucket, "bad.png", suspicious_png())
    wid = make_workflow(sdk_client, auto="false")
    job_id = run_batch(sdk_client, emulator, wid)
    run_id = sdk_client.ci_list_workflowexecution(Bucket=bucket, WorkflowId=wid, BatchJobId=job_id)[
        "WorkflowExecutionList"]["RunId"]  # one execution: xmltodict gives a dict
    detail = sdk_client.ci_get_workflowexecution(Bucket=bucket, RunId=run_id)["WorkflowExecution"][0]
    assert (detail["Object"], detail["State"]) == ("bad.png", "Success")
    task = detail["Tasks"]
    assert (task["Type"], task["State"], task["Name"]) == ("ImageInspect", "Success", "ImageInspectNode")
    media = sdk_client.ci_get_media_jobs(Bucket=bucket, JobIDs=task["JobId"])["JobsDetail"][0]
    assert media["Operation"]["ImageInspectResult"]["ProcessResult"]["SuspiciousType"] == "MPEG-TS"


def test_unknown_workflow_id_fails_the_batch_job(sdk_client, bucket, emulator):
    job_id = run_batch(sdk_client, emulator, "w0123456789abcdef0123456789abcdef")
    detail = sdk_client.ci_get_inventory_trigger_jobs(Bucket=bucket, JobID=job_id)["JobsDetail"][0]
    assert (detail["State"], detail["Code"]) == ("Failed", "InvalidInput")
    assert "workflow not found" in detail["Message"]


def test_paused_workflow_fails_the_batch_job(sdk_client, bucket, emulator):
    wid = make_workflow(sdk_client, state="Paused")
    job_id = run_batch(sdk_client, emulator, wid)
    assert sdk_client.ci_get_inventory_trigger_jobs(Bucket=bucket, JobID=job_id)["JobsDetail"][0]["State"] == "Failed"
