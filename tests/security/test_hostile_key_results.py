"""Issue 22 point 5: one hostile key never hides a job's findings; one unreadable result costs that result only.

What CI returns for a key XML 1.0 cannot carry is not published (inference): a raw control character in the text
(what the emulator sends) and a character reference such as `&#1;` are both not well-formed XML 1.0
(https://www.w3.org/TR/xml/ §2.2 Char; §4.1 WFC: Legal Character), and a raw CR in text reads as LF (§2.11). The
client reads both forms and keeps the key exactly; a result that still cannot be read is counted as unreadable."""
from __future__ import annotations

import json
import os
from typing import Dict, List

import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

import handlers.report
from handlers.submit import main_handler
from lib.config import load_settings
from lib.report.objects import read_job_objects
from tests.emulator.factories import png, suspicious_png
from tests.reliability.support import examples
from tests.support.emulator import EMULATOR_NOW, fast_client
from tests.support.events import cos_event, timer_event
from tests.support.settings import BUCKET
from tests.support.wires import execution_xml, inspect_result_xml

CONTEXT = {"request_id": "r-report", "function_name": "report", "time_limit_in_ms": 60000}
REPORT_AT = EMULATOR_NOW.replace(minute=0).replace(hour=16)
JSON_KEY = "autopilot/reports/2026/11/28/report-160000Z.json"


def upload_job(backend, uploads: Dict[str, bytes]) -> str:
    """Upload the objects, submit them as one job (a UrlFile manifest) and let the emulator run it."""
    for key, data in uploads.items():
        backend.put_object(BUCKET, key, data, content_type="image/png")
    result = main_handler(cos_event(list(uploads)), {"request_id": "r-upload"})
    backend.run_pending()
    return result["jobs"][0]["job_id"]


def flagged_keys(report: dict) -> List[str]:
    return sorted(o["key"] for job in report["jobs_with_objects"] for o in job["objects"] if o["suspicious"])


HOSTILE = {"uploads/a\x01.png": suspicious_png(1), "uploads/b.png": suspicious_png(2),
           "uploads/c\r.png": suspicious_png(3), "uploads/d.png": png(seed=4)}


@pytest.mark.emulator
def test_a_control_character_in_one_key_leaves_the_jobs_flagged_images_counted(emulator_bucket):
    upload_job(emulator_bucket, HOSTILE)
    summary = handlers.report.main_handler(timer_event(REPORT_AT), CONTEXT)["summary"]
    assert (summary["objects"]["inspected"], summary["objects"]["suspicious"]) == (4, 3)
    assert summary["complete"] and summary["problem"]


@pytest.mark.emulator
def test_flagged_keys_with_control_characters_are_reported_exactly(emulator_bucket):
    upload_job(emulator_bucket, HOSTILE)
    handlers.report.main_handler(timer_event(REPORT_AT), CONTEXT)
    report = json.loads(emulator_bucket.get_object(BUCKET, JSON_KEY).data)
    assert flagged_keys(report) == ["uploads/a\x01.png", "uploads/b.png", "uploads/c\r.png"]


# Any Unicode but surrogates: the hostile key is flagged beside an ordinary flagged image.
KEY_TEXT = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12)


@pytest.mark.emulator
@examples(default=15, soak=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(middle=KEY_TEXT)
def test_any_flagged_key_is_read_back_exactly_beside_the_others(emulator_bucket, middle):
    hostile = f"uploads/{middle}.png"
    if hostile == "uploads/ok.png":
        return
    job_id = upload_job(emulator_bucket, {hostile: suspicious_png(5), "uploads/ok.png": suspicious_png(6)})
    client = fast_client(load_settings(dict(os.environ)))
    job = client.get_job(job_id)
    objects, notes = read_job_objects(client, job)
    assert sorted(o.key for o in objects.objects if o.suspicious) == sorted([hostile, "uploads/ok.png"]), notes
    assert objects.suspicious == 2


# --- exact wire control: the other form CI might send, and a result that cannot be read at all ---------------

def report_over(report_wire) -> dict:
    result = handlers.report.main_handler(timer_event(REPORT_AT), CONTEXT)
    body = next(c.request.body for c in report_wire.rsps.calls if c.request.method == "PUT" and c.request.url.endswith(JSON_KEY))
    return {"summary": result["summary"], "report": json.loads(body)}


def test_a_key_sent_as_a_character_reference_is_read_exactly(env, report_wire):
    report_wire.add_job("b1")
    report_wire.inspect_results["b1"] = [inspect_result_xml("b1", 0, "uploads/a&#1;&#x1F;.png", suspicious=True),
                                         inspect_result_xml("b1", 1, "uploads/b&#xD;.png", suspicious=True)]
    run = report_over(report_wire)
    assert flagged_keys(run["report"]) == ["uploads/a\x01\x1f.png", "uploads/b\r.png"]
    assert run["summary"]["complete"]


def test_a_result_that_cannot_be_read_costs_only_itself(env, report_wire):
    report_wire.add_job("b1")
    broken = inspect_result_xml("b1", 1, "uploads/x.png", suspicious=True).replace("</Input>", "", 1)
    report_wire.inspect_results["b1"] = [inspect_result_xml("b1", 0, "uploads/a.png", suspicious=True), broken,
                                         inspect_result_xml("b1", 2, "uploads/c.png", suspicious=True)]
    run = report_over(report_wire)
    summary = run["summary"]
    assert (summary["objects"]["inspected"], summary["objects"]["suspicious"]) == (2, 2)
    assert not summary["complete"] and summary["problem"]
    assert any("1 per-object result(s) could not be read" in n and "b1" in n for n in summary["notes"])


def test_a_control_character_in_a_workflow_execution_key_leaves_the_others_counted(env, report_wire):
    report_wire.add_job("bw1", job_type="Workflow", workflow_ids="w2504f47ad46e4a1b9c0d1e2f3a4b5c6d")
    wid = "w2504f47ad46e4a1b9c0d1e2f3a4b5c6d"
    report_wire.executions["bw1"] = [execution_xml("i1", wid, "uploads/a\x01.png", "Failed"),
                                     execution_xml("i2", wid, "uploads/b.png", "Success"),
                                     execution_xml("i3", wid, "uploads/c.png", "Failed")]
    run = report_over(report_wire)
    assert run["summary"]["objects"]["workflow_executions"] == {"Failed": 2, "Success": 1}
    failed = sorted(o["key"] for job in run["report"]["jobs_with_objects"] for o in job["objects"])
    assert failed == ["uploads/a\x01.png", "uploads/c.png"] and run["summary"]["complete"]
