"""What the report reads tolerates the SDK's shapes: one JobsDetail or many, str or list ids, empty and `-` values."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import responses

from lib.client import InspectObjectResult, JobDetail, WorkflowExecutionItem
from lib.report.classify import age_of, group_of
from tests.support.wires import CI_HOST

END = datetime(2026, 11, 28, 16, 0, tzinfo=timezone.utc)


def test_a_page_with_a_single_jobs_detail_gives_one_job(report_wire, ci_client):
    report_wire.add_job("b1")
    jobs, token = ci_client.list_jobs_page("Job")
    assert [j.JobId for j in jobs] == ["b1"] and token == ""


def test_a_page_with_several_jobs_details_gives_them_in_order(report_wire, ci_client):
    report_wire.add_job("b1")
    report_wire.add_job("b2")
    jobs, _ = ci_client.list_jobs_page("Job")
    assert [j.JobId for j in jobs] == ["b1", "b2"]


@pytest.mark.parametrize("ids, expected", [
    ("wabcdef0123", ("wabcdef0123",)),
    ("wabcdef0123,wabcdef4567", ("wabcdef0123", "wabcdef4567")),
    (["wabcdef0123", "wabcdef4567"], ("wabcdef0123", "wabcdef4567")),
    (None, ()),
])
def test_workflow_ids_may_be_a_string_a_comma_list_or_a_list(ids, expected):
    job = JobDetail.model_validate({"JobId": "b1", "Type": "Workflow", "Operation": {"WorkflowIds": ids}})
    assert job.workflow_ids == expected
    assert group_of(job) == (",".join(expected) or "-")


def test_an_empty_message_element_reads_as_empty_text():
    job = JobDetail.model_validate({"JobId": "b1", "Message": None, "Code": None})
    assert (job.Message, job.Code) == ("", "")


@pytest.mark.parametrize("created", ["-", "", None])
def test_a_job_without_a_creation_time_has_no_age(created):
    job = JobDetail.model_validate({"JobId": "b1", "CreationTime": created, "State": "Running"})
    assert age_of(job, END) is None


def test_a_job_id_ci_does_not_know_reads_as_none(ci_client):
    with responses.RequestsMock() as rsps:
        rsps.get(f"{CI_HOST}/inventorytriggerjob/bmissing",
                 body="<Response><RequestId>cmVx</RequestId><NonExistJobIds>bmissing</NonExistJobIds></Response>")
        assert ci_client.get_job("bmissing") is None


def test_a_clean_inspect_result_has_no_suspicious_fields():
    detail = {"JobId": "j1", "State": "Success", "Input": {"Object": "a.png"},
              "Operation": {"ImageInspectResult": {"ProcessResult": {"Suspicious": "false"}}}}
    result = InspectObjectResult.from_detail(detail)
    assert (result.key, result.suspicious, result.begin_byte, result.action_code) == ("a.png", False, None, "")


def test_an_inspect_result_without_operation_or_input_falls_back_to_the_input_object_name():
    detail = {"JobId": "j1", "State": "Failed", "Code": "Failed", "Message": None, "Input": None,
              "Operation": {"ImageInspectResult": {"InputObjectName": "b.png"}}}
    result = InspectObjectResult.from_detail(detail)
    assert (result.key, result.state, result.code, result.message) == ("b.png", "Failed", "Failed", "")


def test_an_inspect_result_with_no_operation_at_all_is_still_read():
    result = InspectObjectResult.from_detail({"JobId": "j1", "State": "Running", "Operation": None})
    assert (result.key, result.suspicious) == ("", False)


def test_suspicious_offsets_given_as_text_become_numbers():
    detail = {"JobId": "j1", "State": "Success", "Operation": {"ImageInspectResult": {"ProcessResult": {
        "Suspicious": "true", "SuspiciousBeginByte": "120", "SuspiciousEndByte": "900", "SuspiciousSize": "781",
        "SuspiciousType": "MPEG-TS", "AutoProcessResult": {"Code": "Success", "Message": None}}}}}
    result = InspectObjectResult.from_detail(detail)
    assert (result.begin_byte, result.end_byte, result.suspicious_size) == (120, 900, 781)
    assert (result.action_code, result.action_message) == ("Success", "")


def test_a_workflow_execution_with_empty_elements_reads_as_empty_text():
    item = WorkflowExecutionItem.model_validate({"RunId": "r1", "State": None, "Object": None, "Extra": "x"})
    assert (item.RunId, item.State, item.Object) == ("r1", "", "")
