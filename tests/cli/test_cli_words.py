"""Issue 27, point 7: words that do not mislead, through `python -m ops` as a person runs it against the emulator.

- `uploads` with coalescing off said nothing of it (an empty table; `--key` said "in no batch" of a key a per-event
  job had inspected): it now says coalescing is off (UPLOAD_BATCH_SECONDS=0) and points to `jobs list`.
- `jobs get` on a cancelled or failed job said "no per-object results (yet)": it now says why there are none.
- a flagged image CI left in place read `left as is` in `jobs get` and blank in the report: one phrase in both.
- `submit --dry-run` printed its XML on one line (now indented), and under WINDOW=all with `--since` silently
  previewed a 6 h window the run never uses (now refused, saying why).
- `invoke report` logged the summary twice and nested `summary.summary` (now one `run_done` line, one summary)."""
from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import pytest

from lib.report.render import LEFT_IN_PLACE
from ops.cli import main
from tests.cli.support import BUCKET, ROOT, bucket_env, cli, credentials, no_traceback
from tests.support.events import cos_event, timer_event

pytestmark = pytest.mark.emulator
IMAGES = ROOT / "events" / "images"


def env_of(emu, **extra):
    return {**bucket_env(emu, **extra), **credentials()}


def event_file(tmp_path, event, name="event.json"):
    path = tmp_path / name
    path.write_text(json.dumps(event))
    return path


def tick_file(tmp_path, later: timedelta = timedelta(0)):
    """A timer event of the real clock (`later`: a report tick after the jobs just made, which its window holds)."""
    at = datetime.now(timezone.utc).replace(microsecond=0) + later
    return event_file(tmp_path, timer_event(at, "walk"), "tick.json")


def invoke(emu, tmp_path, function, path, **extra):
    out, err = io.StringIO(), io.StringIO()
    code = main(["invoke", function, str(path)], environ={**env_of(emu, **extra), "HOME": str(tmp_path)},
                stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def submitted_job(emu, tmp_path) -> str:
    """A batch job over uploads/ (a clean and a flagged image), created through the submit handler."""
    for image in ("clean.png", "hidden.png"):
        emu.backend.put_object(BUCKET, f"uploads/{image}", (IMAGES / image).read_bytes(), content_type="image/png")
    code, out, _ = invoke(emu, tmp_path, "submit", tick_file(tmp_path), INPUT_PREFIX="uploads/", WINDOW="all")
    assert code == 0
    return json.loads(out)["jobs"][0]["job_id"]


# --- uploads with coalescing off -------------------------------------------------------------------------------

def test_uploads_with_coalescing_off_says_so_and_points_to_jobs_list(held, tmp_path):
    ran = cli("uploads", env=env_of(held), home=tmp_path)
    assert ran.code == 0, ran
    assert "coalescing is off (UPLOAD_BATCH_SECONDS=0)" in ran.out and "python -m ops jobs list" in ran.out, ran
    assert "0 batches" not in ran.out


def test_uploads_key_with_coalescing_off_points_to_the_per_event_job_not_to_no_batch_alone(held, tmp_path):
    code, _, _ = invoke(held, tmp_path, "submit", event_file(tmp_path, cos_event(["uploads/cat.png"])))
    assert code == 0
    ran = cli("uploads", "--key", "uploads/cat.png", env=env_of(held), home=tmp_path)
    assert ran.code == 1 and no_traceback(ran), ran
    assert ran.out.startswith("uploads/cat.png: in no batch of this range and not pending: coalescing is off "
                              "(UPLOAD_BATCH_SECONDS=0)"), ran
    assert "python -m ops jobs list" in ran.out
    listed = cli("jobs", "list", env=env_of(held), home=tmp_path)
    assert "Object=uploads/cat.png" in listed.out, listed  # where the pointer leads: the job over that object


def test_uploads_json_with_coalescing_off_says_so(held, tmp_path):
    doc = cli("uploads", "--json", env=env_of(held), home=tmp_path).json()
    assert doc["coalescing"] is False and doc["note"].startswith("coalescing is off (UPLOAD_BATCH_SECONDS=0)")


# --- jobs get: why no per-object results -----------------------------------------------------------------------

def test_jobs_get_on_a_cancelled_job_says_it_was_cancelled_not_yet(held, tmp_path):
    job_id = submitted_job(held, tmp_path)
    assert cli("jobs", "cancel", job_id, "--yes", env=env_of(held), home=tmp_path).code == 0
    ran = cli("jobs", "get", job_id, env=env_of(held), home=tmp_path)
    assert "(yet)" not in ran.out, ran
    assert "no per-object results: the job was cancelled before reaching any object" in ran.out, ran


def test_jobs_get_on_a_failed_job_says_it_failed_not_yet(held, tmp_path):
    job_id = submitted_job(held, tmp_path)
    with held.backend.lock:
        job = held.backend.jobs[job_id]
        job.state, job.code, job.message = "Failed", "InternalError", "inventory unreadable"
    ran = cli("jobs", "get", job_id, env=env_of(held), home=tmp_path)
    assert ran.code == 1 and "(yet)" not in ran.out, ran
    assert "no per-object results: the job failed before reaching any object (see code and message)" in ran.out


def test_jobs_get_on_a_job_not_started_still_says_yet(held, tmp_path):
    ran = cli("jobs", "get", submitted_job(held, tmp_path), env=env_of(held), home=tmp_path)
    assert "no per-object results yet: the job has not started" in ran.out, ran


# --- a flagged image left in place: the same words everywhere ------------------------------------------------

def test_a_flagged_image_left_in_place_reads_the_same_in_jobs_get_and_the_report(live, tmp_path):
    job_id = submitted_job(live, tmp_path)  # INSPECT_AUTO_PROCESS unset: false
    live.backend.run_pending()
    shown = cli("jobs", "get", job_id, env=env_of(live), home=tmp_path)
    (row,) = [line for line in shown.out.splitlines() if line.startswith("uploads/hidden.png")]
    assert row.endswith(LEFT_IN_PLACE), shown
    reported = cli("report", env=env_of(live), home=tmp_path)
    (line,) = [line for line in reported.out.splitlines() if "uploads/hidden.png" in line]
    assert line.endswith(LEFT_IN_PLACE), reported
    assert LEFT_IN_PLACE == "flagged, left in place (CI took no action)"


def test_the_report_objects_in_every_format_say_left_in_place(live, tmp_path):
    submitted_job(live, tmp_path)
    live.backend.run_pending()
    code, _, err = invoke(live, tmp_path, "report", tick_file(tmp_path, later=timedelta(minutes=1)))
    assert code == 1, err  # a flagged image is a problem
    reports = [k for k in live.backend.list_keys(BUCKET) if k.startswith("autopilot/reports/")]
    pages = [k for k in reports if k.endswith((".md", ".html"))]
    assert len(pages) == 2, reports
    for key in pages:  # the Markdown report's Action column and the HTML page's: no blank beside a flagged image
        assert LEFT_IN_PLACE in live.backend.get_object(BUCKET, key).data.decode("utf-8"), key


# --- submit --dry-run ------------------------------------------------------------------------------------------

def test_submit_dry_run_prints_its_xml_indented_one_element_a_line(tmp_path):
    ran = cli("submit", "--dry-run", env={"COS_BUCKET": BUCKET, "COS_REGION": "ap-guangzhou"}, home=tmp_path)
    assert ran.code == 0, ran
    lines = ran.out.splitlines()
    assert "  <Input>" in lines and "    <Prefix>/</Prefix>" in lines, ran
    assert ET.fromstring(ran.out.split("\n", 1)[1]).findtext("Input/Prefix") == "/"


@pytest.mark.parametrize("window, says", [
    ("all", "--since 6h: WINDOW=all fixes this rule's window (every object, with no time interval)"),
    ("1d", "--since 6h: WINDOW=1d fixes this rule's window (the 1d before the tick)"),
])
def test_submit_dry_run_since_under_a_fixed_window_is_refused_saying_why(tmp_path, window, says):
    env = {"COS_BUCKET": BUCKET, "COS_REGION": "ap-guangzhou", "WINDOW": window}
    ran = cli("submit", "--dry-run", "--since", "6h", env=env, home=tmp_path)
    assert ran.code == 2 and says in ran.err and ran.out == "", ran
    assert "set WINDOW=incremental" in ran.err


def test_submit_dry_run_under_window_all_sends_no_time_interval(tmp_path):
    env = {"COS_BUCKET": BUCKET, "COS_REGION": "ap-guangzhou", "WINDOW": "all"}
    ran = cli("submit", "--dry-run", env=env, home=tmp_path)
    assert ran.code == 0 and "TimeInterval" not in ran.out, ran


# --- invoke report ----------------------------------------------------------------------------------------------

def test_invoke_report_logs_its_summary_once_and_never_nests_summary_in_summary(live, tmp_path):
    code, out, err = invoke(live, tmp_path, "report", tick_file(tmp_path))
    assert code == 0, err
    result = json.loads(out)
    assert "total_jobs" in result["summary"] and "summary" not in result["summary"]
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    with_summary = [line for line in lines if '"total_jobs"' in json.dumps(line)]
    assert [line["event"] for line in with_summary] == ["report"]  # the log channel's line, once
    (done,) = [line for line in lines if line["event"] == "run_done"]
    assert "summary" not in done and [d["channel"] for d in done["deliveries"]][:1] == ["log"], done
