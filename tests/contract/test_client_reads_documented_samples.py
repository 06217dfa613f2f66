"""Client side of issue 12: every documented response parses into the right models, and the report shows it.

Each test drives the report handler the way SCF does (timer event -> handler -> official SDK -> HTTP), with the
documented sample (tests/contract/samples/*, each with its source and the date it was read) on the wire."""
from __future__ import annotations

import pytest
from qcloud_cos.cos_comm import format_dict, xml_to_dict

from handlers.report import main_handler
from lib.client import JobDetail, parse_execution_page, pick_queue_id
from tests.contract.support import documented_params, sample
from tests.support.events import REPORT_TIMER, timer_event

CONTEXT = {"request_id": "req-c1", "function_name": "report", "time_limit_in_ms": 60000}
# The samples' jobs were created 2022-06-27T15:23:10+0800; this tick's one-day window holds them.
TICK = timer_event("2022-06-28T00:00:00Z", name=REPORT_TIMER)
JOB_ID = "b8f3a1c62f84911ec9cb15254008618d9"  # inventorytriggerjob-get.job.xml
WORKFLOW_JOB_ID = "b3deffea2f84911ec9cb15254008618d9"  # inventorytriggerjob-get.workflow.xml
EXECUTION_SAMPLES = ["workflowexecution-list.api-page.xml", "workflowexecution-list.python-sdk.xml",
                     "workflowexecution-list.go-sdk.xml"]


def sdk_dict(name: str, *lists: str) -> dict:
    """What the official SDK hands the client for a sample (xml_to_dict, then the SDK's own format_dict)."""
    return format_dict(xml_to_dict(sample(name)), list(lists))


def summary(result: dict) -> dict:
    return result["summary"]


# --- point 2: workflow executions ------------------------------------------------------------------------------
# The API page and the Go SDK name each listed execution WorkflowExecutionList, the Python SDK WorkflowExecution,
# and the Go SDK's time field is CreationTime: every published variant is accepted.

@pytest.mark.parametrize("name", EXECUTION_SAMPLES)
def test_every_published_execution_list_parses_into_two_executions(name):
    page = parse_execution_page(sdk_dict(name, "WorkflowExecution"))
    assert [(e.RunId, e.Object, e.State) for e in page.items] == [
        ("i166ee19017b011eda8a5525400c540df", "wk-test/game.mp4", "Success"),
        ("i769bd26517af11ed917f525400a3c59f", "wk-test/game.mp4", "Success")]
    assert [e.CreateTime for e in page.items] == ["2022-08-09T14:54:17+08:00", "2022-08-09T14:49:49+08:00"]
    assert (page.next_token, page.unrecognised) == ("115716", ())


@pytest.mark.parametrize("name", EXECUTION_SAMPLES)
def test_the_report_counts_the_documented_executions_of_a_workflow_job(sample_wire, name):
    sample_wire.lists["Workflow"] = sample("inventorytriggerjob-get.workflow.xml")
    sample_wire.executions = sample(name).replace(b"<NextToken>115716</NextToken>", b"")
    result = summary(main_handler(TICK, CONTEXT))
    assert result["objects"]["workflow_executions"] == {"Success": 2}
    assert result["complete"] is True and result["notes"] == []
    (query,) = sample_wire.queries("/workflowexecution")
    assert (query["jobId"], query["workflowId"]) == (WORKFLOW_JOB_ID, "w7476ff3564ee45b7b490d64bccaba6cc")


def test_an_execution_element_the_client_does_not_know_is_a_note_not_a_silent_zero(sample_wire):
    sample_wire.lists["Workflow"] = sample("inventorytriggerjob-get.workflow.xml")
    sample_wire.executions = (sample("workflowexecution-list.api-page.xml")
                              .replace(b"WorkflowExecutionList", b"WorkflowExecutionItem")
                              .replace(b"<NextToken>115716</NextToken>", b""))
    result = summary(main_handler(TICK, CONTEXT))
    assert result["complete"] is False
    assert any("WorkflowExecutionItem" in note and "does not read" in note for note in result["notes"])


# --- point 3: per-object results decided from what the job is ----------------------------------------------

def test_the_documented_job_type_detail_has_no_tag_yet_is_an_image_inspect_job():
    (raw,) = sdk_dict("inventorytriggerjob-get.job.xml", "JobsDetail")["JobsDetail"]
    assert "Tag" not in raw and "Tag" not in raw["Operation"]
    assert JobDetail.model_validate(raw).per_object_kind == "ImageInspect"


@pytest.mark.parametrize(("name", "kind"), [("inventorytriggerjob-get.job.xml", "ImageInspect"),
                                            ("inventorytriggerjob-get.workflow.xml", "Workflow")])
def test_each_documented_batch_job_is_known_for_what_it_is(name, kind):
    (raw,) = sdk_dict(name, "JobsDetail")["JobsDetail"]
    assert JobDetail.model_validate(raw).per_object_kind == kind


def test_the_report_shows_per_object_results_of_the_documented_job_type_sample(sample_wire):
    sample_wire.lists["Job"] = sample("inventorytriggerjob-get.job.xml")
    sample_wire.media[JOB_ID] = sample("media-jobs.imageinspect.xml")
    result = main_handler(TICK, CONTEXT)
    totals = summary(result)["objects"]
    assert (totals["inspected"], totals["suspicious"], totals["acted"]) == (1, 1, 1)
    assert summary(result)["counts"] == [{"type": "Job", "group": "ImageInspect", "state": "Success", "count": 1}]
    (query,) = sample_wire.queries("/jobs")
    assert (query["tag"], query["inventoryTriggerJobId"]) == ("ImageInspect", JOB_ID)


# --- point 4: the bucket's queue, found once through the documented queue API ------------------------------

def test_the_first_active_transcoding_queue_of_the_documented_list_is_picked():
    assert pick_queue_id(sdk_dict("queue-list.xml", "QueueList")) == "p4a17eeea29334bf499b7e20e2fbfd99d"


def test_get_jobs_sends_the_queue_id_found_once_per_invocation(sample_wire):
    sample_wire.lists["Job"] = (sample("inventorytriggerjob-get.job.xml")
                                .replace(b"</JobsDetail>", b"</JobsDetail>" + _second_job()))
    sample_wire.media[JOB_ID] = sample("media-jobs.imageinspect.xml")
    main_handler(TICK, CONTEXT)
    assert len(sample_wire.calls("GET", "/queue")) == 1
    assert [q["queueId"] for q in sample_wire.queries("/jobs")] == ["p4a17eeea29334bf499b7e20e2fbfd99d"] * 2


def test_get_jobs_sends_only_documented_parameters_and_every_required_one(sample_wire):
    documented = documented_params("media-jobs.request.txt")
    sample_wire.lists["Job"] = sample("inventorytriggerjob-get.job.xml")
    main_handler(TICK, CONTEXT)
    (query,) = sample_wire.queries("/jobs")
    assert set(query) <= set(documented)
    assert {p for p, required in documented.items() if required} <= set(query)


@pytest.mark.parametrize("refusal", [(403, "AccessDenied"), (400, "InvalidArgument")])
def test_a_refused_queue_lookup_keeps_todays_call_without_queue_id(sample_wire, refusal):
    sample_wire.queue_error = refusal
    sample_wire.lists["Job"] = sample("inventorytriggerjob-get.job.xml")
    sample_wire.media[JOB_ID] = sample("media-jobs.imageinspect.xml")
    result = summary(main_handler(TICK, CONTEXT))
    assert "queueId" not in sample_wire.queries("/jobs")[0]
    assert result["objects"]["inspected"] == 1


def test_an_empty_queue_list_keeps_todays_call_without_queue_id(sample_wire):
    sample_wire.queues = (b"<Response><TotalCount>0</TotalCount><PageNumber>1</PageNumber><PageSize>10</PageSize>"
                          b"</Response>")
    sample_wire.lists["Job"] = sample("inventorytriggerjob-get.job.xml")
    main_handler(TICK, CONTEXT)
    assert "queueId" not in sample_wire.queries("/jobs")[0]


def _second_job() -> bytes:
    """A second Type=Job detail like the sample's, so one run lists per-object results of two jobs."""
    body = sample("inventorytriggerjob-get.job.xml").decode()
    detail = body[body.index("<JobsDetail>"):body.index("</JobsDetail>") + len("</JobsDetail>")]
    return detail.replace(JOB_ID, "b" + "1" * 32).encode()
