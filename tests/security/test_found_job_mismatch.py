"""Issue 22, point 3: a job found by its name is compared with the body this run would send. Running the same
trigger and Time again with another INPUT_PREFIX (or process type, or AutoProcess) used to answer
`created: false, input: Prefix=<new prefix>` while the only job scanned the old prefix: the result said covered,
the new prefix was never scanned. Now a mismatch raises JobMismatchError naming each field, both values and the
fix; a match reports the input CI holds for the found job.

What is compared, and why those fields: the DescribeInventoryTriggerJob(s) answers echo Input and Operation
(API page cloud.tencent.com.cn/document/product/436/76890, its verbatim Workflow sample in
tests/contract/samples/inventorytriggerjob-get.workflow.xml; the Go SDK's InventoryTriggerJobDetail carries
`Input *InventoryTriggerJobInput` {Manifest, UrlFile, Prefix, Object} and `Operation *InventoryTriggerJobOperation`
{WorkflowIds, TimeInterval, Tag, JobParam.ImageInspect, ...}, cos-go-sdk-v5 ci_media.go; the Python SDK's
ci_get_inventory_trigger_jobs / ci_list_inventory_trigger_jobs return xml_to_dict of that body unchanged). The
emulator echoes the request's Input and Operation verbatim (emulator/ci.py batch_job_nodes). Tag and JobParam are
`omitempty` in the Go struct and absent from the documented samples' Type=Job shape, so they are compared only
where the answer carries them."""
from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.submit import main_handler
from lib.errors import JobMismatchError
from tests.reliability.support import examples
from tests.security.timer_support import TICK, tick, windows
from tests.support.emulator import EMULATOR_NOW, fresh_bucket
from tests.support.events import cos_event

pytestmark = pytest.mark.emulator


@pytest.fixture
def lookback(emulator_bucket, monkeypatch):
    """WINDOW=1h keeps no checkpoint, so the second run of the same Time looks its job up by name."""
    monkeypatch.setenv("WINDOW", "1h")
    monkeypatch.setenv("INPUT_PREFIX", "uploads/")
    return emulator_bucket


CHANGES = [
    ("INPUT_PREFIX", "other/", "Input.Prefix is 'uploads/' there, 'other/' here"),
    ("INSPECT_PROCESS_TYPE", "SwitchObjectToPrivate",
     "Operation.JobParam.ImageInspect.ProcessType is 'BackupObject' there, 'SwitchObjectToPrivate' here"),
    ("INSPECT_AUTO_PROCESS", "true", "Operation.JobParam.ImageInspect.AutoProcess is 'false' there, 'true' here"),
]


@pytest.mark.parametrize("variable, value, difference", CHANGES, ids=[c[0] for c in CHANGES])
def test_a_timer_job_found_by_name_with_another_body_is_a_clear_error(emulator, lookback, monkeypatch, variable,
                                                                      value, difference):
    first = tick()["jobs"][0]
    monkeypatch.setenv(variable, value)
    with pytest.raises(JobMismatchError) as caught:
        tick(request_id="again")
    message = str(caught.value)
    assert difference in message and first["job_id"] in message
    assert "the work this run means is NOT done by it" in message and "RULE_NAME" in message
    assert len(windows(emulator)) == 1  # nothing created over it either


W1, W2, W3 = ("w" + c * 32 for c in "123")


@pytest.mark.parametrize("before, after", [(W1, W2), (W1, f"{W1},{W2}"), (f"{W1},{W2}", f"{W2},{W3}")],
                         ids=["another-workflow", "one-more-workflow", "other-workflows"])
def test_a_workflow_job_found_by_name_with_other_workflow_ids_is_a_clear_error(emulator, lookback, monkeypatch,
                                                                               before, after):
    monkeypatch.setenv("JOB_TYPE", "Workflow")
    monkeypatch.setenv("WORKFLOW_IDS", before)
    tick()
    monkeypatch.setenv("WORKFLOW_IDS", after)
    with pytest.raises(JobMismatchError, match=f"Operation.WorkflowIds is '{before}' there, '{after}' here"):
        tick(request_id="again")


def test_an_upload_job_found_by_name_with_another_process_type_is_a_clear_error(emulator, emulator_bucket, monkeypatch):
    event = cos_event(["uploads/a.png"])
    main_handler(event, {"request_id": "upload"})
    monkeypatch.setenv("INSPECT_PROCESS_TYPE", "SwitchObjectToPrivate")
    with pytest.raises(JobMismatchError, match="ProcessType is 'BackupObject' there, 'SwitchObjectToPrivate' here"):
        main_handler(event, {"request_id": "redelivery"})


PREFIXES = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=8).map(lambda s: s + "/")


@given(before=PREFIXES, after=PREFIXES | st.just("/"))
@examples(default=8, soak=200)
def test_a_found_job_is_reported_with_its_own_input_or_refused(emulator, lookback, monkeypatch, before, after):
    fresh_bucket(emulator, clock=lambda: EMULATOR_NOW)
    monkeypatch.setenv("INPUT_PREFIX", before)
    first = tick()["jobs"][0]
    monkeypatch.setenv("INPUT_PREFIX", after)
    if before == after:
        again = tick(request_id="again")["jobs"][0]
        assert (again["created"], again["job_id"], again["input"]) == (False, first["job_id"], f"Prefix={before}")
        return
    with pytest.raises(JobMismatchError, match=f"Input.Prefix is '{before}' there, '{after}' here"):
        tick(request_id="again")
    assert len(windows(emulator)) == 1 and windows(emulator)[0][1] == TICK


# --- what CI may normalise is not a mismatch (exact wire control: tests.support.wires.FakeWire answers the lookup) -

OURS = "autopilot-hourly-20261128T150000Z-20261128T160000Z"
INTERVAL = ("<TimeInterval><Start>2026-11-28T23:00:00+0800</Start><End>2026-11-29T00:00:00+0800</End>"
            "</TimeInterval>")
INSPECT = "<JobParam><ImageInspect><AutoProcess>false</AutoProcess><ProcessType>BackupObject</ProcessType>" \
          "</ImageInspect></JobParam>"
ANSWERS = {
    # The documented Type=Job shape (tests/contract/samples/inventorytriggerjob-get.job.xml): no Tag, plus QueueId.
    "documented-shape-without-tag": ("<Prefix>uploads/</Prefix>", f"{INTERVAL}<QueueId>p1</QueueId>{INSPECT}", None),
    "interval-in-utc": ("<Prefix>uploads/</Prefix>",
                        "<TimeInterval><Start>2026-11-28T15:00:00Z</Start><End>2026-11-28T16:00:00+00:00</End>"
                        f"</TimeInterval><Tag>ImageInspect</Tag>{INSPECT}", None),
    "autoprocess-capitalised": ("<Prefix>uploads/</Prefix>", f"{INTERVAL}<Tag>ImageInspect</Tag>"
                                + INSPECT.replace(">false<", ">False<"), None),
    "another-window": ("<Prefix>uploads/</Prefix>", INTERVAL.replace("23:00:00", "22:00:00") + INSPECT,
                       "Operation.TimeInterval"),
    "another-kind-of-input": ("<Object>uploads/a.png</Object>", INTERVAL + INSPECT, "Input.Prefix"),
    "auto-process-on": ("<Prefix>uploads/</Prefix>", INTERVAL + INSPECT.replace(">false<", ">true<"),
                        "Operation.JobParam.ImageInspect.AutoProcess"),
}


@pytest.mark.parametrize("job_input, operation, differs", ANSWERS.values(), ids=ANSWERS.keys())
def test_a_found_job_in_cis_own_form_is_compared_by_meaning(env, ci_wire, monkeypatch, job_input, operation, differs):
    monkeypatch.setenv("WINDOW", "1h")
    monkeypatch.setenv("INPUT_PREFIX", "uploads/")
    ci_wire.jobs.append({"JobId": "b" + "7" * 32, "Name": OURS, "Type": "Job", "Tag": "ImageInspect",
                         "State": "Running", "Input": f"<Input>{job_input}</Input>",
                         "Operation": f"<Operation>{operation}</Operation>"})
    if differs:
        with pytest.raises(JobMismatchError, match=differs):
            tick()
        return
    (job,) = tick()["jobs"]
    assert (job["created"], job["input"]) == (False, "Prefix=uploads/") and ci_wire.created_bodies == []
