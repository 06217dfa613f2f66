"""Issue 22 point 8: README's claim about keys under STATE_PREFIX, REPORT_PREFIX and abnormal_images_backup/ says what
happens. The sentence is read from README.md and each part is checked against the handlers on the emulator.

- Upload events: lib/upload_rules.py skips those prefixes (Settings.skip_prefixes), so no job names them.
- Timer scans: the job's Input is `Prefix=<INPUT_PREFIX>` and a prefix cannot exclude folders (the create-job page
  documents Input.Prefix only as a prefix, cloud.tencent.com/document/api/436/76888), so with `/` CI lists our state
  too. ImageInspect is documented for JPG/JPEG, PNG, BMP, WebP, GIF and MPEG-TS streams under any name (436/75996);
  what the service does with a JSON or HTML object in a batch job is not published. The emulator inspects every
  selected key with the real detector, so the planted image below is inspected and, with DeleteObject, deleted.
  The emulator also never inspects keys under abnormal_images_backup/; that rule is not sourced (inference), so no
  test here relies on it.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import handlers.submit
from tests.reliability.support import examples
from tests.support.emulator import EMULATOR_NOW
from tests.support.events import cos_event, timer_event
from tests.support.settings import BUCKET, REGION

ROOT = Path(__file__).resolve().parents[2]
HIDDEN = (ROOT / "events" / "images" / "hidden.png").read_bytes()
PLANTED = "autopilot/checkpoints/planted.png"  # an image a bucket writer put under STATE_PREFIX


def readme_claim() -> str:
    """The 'Nothing deleted by mistake' bullet of README.md, joined into one line."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    bullet = re.search(r"- \*\*Nothing deleted by mistake\.\*\*(.*?)\n- \*\*", text, re.S)
    assert bullet, "README.md lost its 'Nothing deleted by mistake' bullet"
    return " ".join(bullet.group(1).split())


def inspected(backend, job_id: str) -> set:
    return {j.key for j in backend.inspect_jobs_by_batch.get(job_id, [])}


@pytest.fixture
def function_env(emulator_bucket, monkeypatch):
    monkeypatch.setenv("COS_BUCKET", BUCKET)
    monkeypatch.setenv("COS_REGION", REGION)
    monkeypatch.setenv("WINDOW", "all")
    emulator_bucket.put_object(BUCKET, PLANTED, HIDDEN)
    emulator_bucket.put_object(BUCKET, "uploads/photo.png", HIDDEN)
    return emulator_bucket


UPLOAD_CLAIM = "Upload events for keys under `STATE_PREFIX`, `REPORT_PREFIX` and `abnormal_images_backup/` are skipped"


def test_readme_does_not_claim_state_keys_are_never_processed():
    assert "are never processed" not in readme_claim()


def test_upload_events_for_state_report_and_backup_keys_make_no_job_as_the_readme_says(function_env):
    # The behaviour held before issue 22; the README sentence it checks is new.
    assert UPLOAD_CLAIM in readme_claim()
    keys = ["autopilot/checkpoints/hourly.json", "autopilot/reports/2026/11/28/report.png",
            "abnormal_images_backup/uploads/old.png", PLANTED]
    result = handlers.submit.main_handler(cos_event(keys), None)
    assert result["jobs"] == [] and function_env.jobs == {}
    assert {s["key"] for s in result["skipped"]} == set(keys)


def test_a_whole_bucket_timer_scan_inspects_an_image_planted_under_state_prefix_as_the_readme_says(function_env,
                                                                                                  monkeypatch):
    claim = readme_claim()
    assert "with the default `/` CI lists our state and report objects too" in claim
    assert "an image placed under those prefixes is inspected, and acted on, like any other" in claim
    monkeypatch.setenv("INSPECT_AUTO_PROCESS", "true")
    monkeypatch.setenv("INSPECT_PROCESS_TYPE", "DeleteObject")
    monkeypatch.setenv("ALLOW_IRREVERSIBLE_DELETE", "true")  # deleted for good: the worst case for a wrong key
    monkeypatch.setenv("ALLOW_DELETE_WHOLE_BUCKET", "true")
    (job,) = handlers.submit.main_handler(timer_event(EMULATOR_NOW), None)["jobs"]
    assert job["input"] == "Prefix=/"
    function_env.run_pending()
    assert PLANTED in inspected(function_env, job["job_id"])
    assert PLANTED not in function_env.list_keys(BUCKET, prefix="autopilot/")


def test_a_timer_rule_with_an_input_prefix_leaves_state_alone_as_the_readme_advises(function_env, monkeypatch):
    assert "Set `INPUT_PREFIX` (e.g. `uploads/`) to keep scans out of them" in readme_claim()
    monkeypatch.setenv("INPUT_PREFIX", "uploads/")
    (job,) = handlers.submit.main_handler(timer_event(EMULATOR_NOW), None)["jobs"]
    function_env.run_pending()
    assert job["input"] == "Prefix=uploads/"
    assert inspected(function_env, job["job_id"]) == {"uploads/photo.png"}


own_keys = st.tuples(st.sampled_from(["autopilot/", "autopilot/reports/", "abnormal_images_backup/"]),
                     st.text(st.sampled_from("abc/._-0"), min_size=1, max_size=12),
                     st.sampled_from([".png", ".jpg", ".json", ".html", ""])).map("".join)


@examples(default=15, soak=300)
@given(keys=st.lists(own_keys, min_size=1, max_size=5, unique=True))
def test_generated_upload_events_under_our_own_prefixes_make_no_job(function_env, keys):
    assert UPLOAD_CLAIM in readme_claim()
    before = len(function_env.jobs)
    result = handlers.submit.main_handler(cos_event(keys), None)
    assert result["jobs"] == [] and len(function_env.jobs) == before
    assert {s["key"] for s in result["skipped"]} == set(keys)
