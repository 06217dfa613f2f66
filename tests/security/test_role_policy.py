"""Issue 22 point 8: the role's CAM policy (`python -m deploy.policy`) grants every call the functions make, on the
keys they make it on, and refuses a STATE_PREFIX or REPORT_PREFIX that CAM would read as a pattern.

The calls are not listed by hand: the submit and report handlers run against the emulator and every request it served
is mapped to its CAM action (COS: access policy language 436/18023 and policy guide 436/30580; POST ?delete is checked
as cos:DeleteObject per key, 436/8289; CI: authorisation granularity 460/41741, and ci:DescribeMediaQueues for
GET /queue, tencentcloud.com/document/product/1045/72939 "Authorization Description"). A request the map does not
know fails the test, so a new call cannot ship without its grant.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Dict, List, Optional, Tuple
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

import handlers.report
import handlers.submit
from deploy.policy import main as render_policy
from tests.reliability.support import examples
from tests.support.emulator import EMULATOR_NOW
from tests.support.events import cos_event, timer_event
from tests.support.settings import BUCKET, REGION

ROOT = Path(__file__).resolve().parents[2]
APPID = BUCKET.rsplit("-", 1)[1]
COS_OBJECT = {"GET": "name/cos:GetObject", "PUT": "name/cos:PutObject", "DELETE": "name/cos:DeleteObject",
              "HEAD": "name/cos:HeadObject"}
CI = {("POST", "/inventorytriggerjob"): "name/ci:CreateInventoryTriggerJob",
      ("GET", "/inventorytriggerjob"): "name/ci:DescribeInventoryTriggerJobs",
      ("GET", "/jobs"): "name/ci:DescribeMediaJobs",
      ("GET", "/queue"): "name/ci:DescribeMediaQueues",
      ("GET", "/workflowexecution"): "name/ci:DescribeMediaWorkflowExecutions"}


def cam_actions(service: str, method: str, path: str, query: Dict[str, str],
                deleted: List[str]) -> List[Tuple[str, str, Optional[str]]]:
    """[(action, resource, listed prefix)] of one request the emulator served; `deleted` holds the keys POST ?delete
    sent (its body, which the request log does not keep)."""
    if service == "ci":
        if re.fullmatch(r"/inventorytriggerjob/[^/]+", path):
            action = "name/ci:CancelInventoryTriggerJob" if "cancel" in query else "name/ci:DescribeInventoryTriggerJob"
        else:
            action = CI.get((method, path), "")
        assert action, f"the functions made a CI call the role policy map does not know: {method} {path}"
        return [(action, f"qcs::ci:{REGION}:uid/{APPID}:bucket/{BUCKET}/job", None)]
    bucket_resource = f"qcs::cos:{REGION}:uid/{APPID}:{BUCKET}/"
    if path == "/" and method == "GET" and not set(query) - {"prefix", "delimiter", "marker", "max-keys", "encoding-type"}:
        return [("name/cos:GetBucket", bucket_resource, query.get("prefix", ""))]
    if path == "/" and method == "POST" and "delete" in query:
        assert deleted, "a POST ?delete whose keys were not recorded"
        return [("name/cos:DeleteObject", f"{bucket_resource}{key}", None) for key in deleted]
    assert path != "/" and method in COS_OBJECT and not query, f"unmapped COS call: {method} {path} {query}"
    return [(COS_OBJECT[method], f"{bucket_resource}{path[1:]}", None)]


def glob(pattern: str, text: str) -> bool:
    return re.fullmatch(".*".join(re.escape(p) for p in pattern.split("*")), text) is not None


def granted(policy: dict, action: str, resource: str, prefix: Optional[str]) -> bool:
    for statement in policy["statement"]:
        if statement["effect"] != "allow" or action not in statement["action"]:
            continue
        if not any(glob(r, resource) for r in statement["resource"]):
            continue
        allowed = (statement.get("condition") or {}).get("string_like", {}).get("cos:prefix")
        if allowed is None or any(glob(p, prefix or "") or glob(p, quote(prefix or "", safe="")) for p in allowed):
            return True
    return False


def rendered(tmp_path, *extra: str) -> dict:
    out = tmp_path / "policy.json"
    assert render_policy(["--bucket", BUCKET, "--region", REGION, *extra, "--out", str(out)]) == 0
    return json.loads(out.read_text(encoding="utf-8"))


def run_every_path(emulator_bucket, emulator, monkeypatch) -> List[Tuple[str, str, Optional[str]]]:
    """A timer tick, a multi-object upload, a coalesced upload and its flush, and a report over their finished jobs."""
    from qcloud_cos import CosS3Client

    deleted: List[str] = []
    delete_objects = CosS3Client.delete_objects

    def recording(self, Bucket, Delete, **kwargs):  # noqa: N803 - the SDK's argument names
        deleted.extend(o["Key"] for o in Delete["Object"])
        return delete_objects(self, Bucket=Bucket, Delete=Delete, **kwargs)

    monkeypatch.setattr(CosS3Client, "delete_objects", recording)
    image = (ROOT / "events" / "images" / "hidden.png").read_bytes()
    monkeypatch.setenv("COS_BUCKET", BUCKET)
    monkeypatch.setenv("COS_REGION", REGION)
    monkeypatch.setenv("INPUT_PREFIX", "uploads/")
    for key in ("uploads/a.png", "uploads/b.png"):
        emulator_bucket.put_object(BUCKET, key, image)
    handlers.submit.main_handler(timer_event(EMULATOR_NOW), None)
    handlers.submit.main_handler(cos_event(["uploads/a.png", "uploads/b.png"]), None)
    # The flush takes a record only if it is recent by the function's own (real) clock and COS wrote the object
    # near its slot, so the coalesced upload happens minutes before now, on both clocks.
    recent = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=5)
    emulator.backend.set_clock(lambda: recent)
    emulator_bucket.put_object(BUCKET, "uploads/c.png", image)
    upload = cos_event(["uploads/c.png"])
    upload["Records"][0]["event"]["eventTime"] = int(recent.timestamp())
    monkeypatch.setenv("UPLOAD_BATCH_SECONDS", "60")
    handlers.submit.main_handler(upload, None)
    emulator.backend.set_clock(lambda: recent + timedelta(minutes=5))
    handlers.submit.main_handler(timer_event(recent + timedelta(minutes=5), "flush"), None)
    batches = [job for job in emulator_bucket.jobs.values() if job.name.startswith("autopilot-upload-batch-")]
    assert batches, "no batch was flushed"
    emulator.backend.set_clock(lambda: EMULATOR_NOW)
    emulator_bucket.run_pending()  # the jobs finish, so the report reads their per-object results
    handlers.report.main_handler(timer_event(EMULATOR_NOW.replace(hour=EMULATOR_NOW.hour + 1), "report-daily"), None)
    return [call for r in emulator.request_log.snapshot()
            for call in cam_actions(r.service, r.method, r.path, r.query, deleted)]


def test_every_request_the_functions_make_is_granted_by_the_role_policy(emulator_bucket, emulator, monkeypatch,
                                                                        tmp_path):
    calls = run_every_path(emulator_bucket, emulator, monkeypatch)
    policy = rendered(tmp_path)
    assert {"name/ci:DescribeMediaQueues", "name/ci:DescribeMediaJobs", "name/cos:GetBucket",
            "name/cos:HeadObject"} <= {a for a, _, _ in calls}
    refused = sorted({c for c in calls if not granted(policy, *c)})
    assert refused == []


def test_the_flush_s_object_check_is_granted_only_under_the_watched_prefixes(tmp_path):
    # HEAD Object (lib/upload_state.py's object check) needs cos:HeadObject (436/18023) on the uploaded key only.
    policy = rendered(tmp_path, "--upload-prefixes", "uploads/,avatars/")
    head = f"qcs::cos:{REGION}:uid/{APPID}:{BUCKET}/"
    assert granted(policy, "name/cos:HeadObject", f"{head}avatars/cat.png", None)
    assert not granted(policy, "name/cos:HeadObject", f"{head}private/ledger.xlsx", None)


def test_the_report_s_media_queue_lookup_is_granted_on_the_bucket(tmp_path):
    # GET /queue (lib/client.py media_queue_id -> ci_get_media_queue) needs ci:DescribeMediaQueues (1045/72939).
    policy = rendered(tmp_path)
    assert granted(policy, "name/ci:DescribeMediaQueues", f"qcs::ci:{REGION}:uid/{APPID}:bucket/{BUCKET}/queue", None)


@pytest.mark.parametrize("flag, variable", [("--state-prefix", "STATE_PREFIX"), ("--report-prefix", "REPORT_PREFIX")])
@pytest.mark.parametrize("value", ["*/", "auto*/", "state?/", "a/*/b/"])
def test_a_prefix_cam_would_read_as_a_pattern_is_refused_naming_variable_value_and_fix(tmp_path, capsys, flag,
                                                                                        variable, value):
    out = tmp_path / "policy.json"
    code = render_policy(["--bucket", BUCKET, "--region", REGION, flag, value, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert f"{variable}={value!r}" in err and "wildcard" in err and "plain folder name such as autopilot/" in err


folder = st.text(st.sampled_from("abc-_/.*?0"), min_size=1, max_size=12).map(lambda s: s.lstrip("/") + "/")


@examples(default=25, soak=500)
@given(state=folder)
def test_generated_state_prefixes_are_refused_exactly_when_they_hold_a_wildcard(tmp_path_factory, state):
    out = tmp_path_factory.mktemp("p") / "policy.json"
    code = render_policy(["--bucket", BUCKET, "--region", REGION, f"--state-prefix={state}", "--out", str(out)])
    if "*" in state or "?" in state:
        assert code == 2 and not out.exists()
    elif code == 0:  # the settings model may refuse it for its own reasons (a leading '/', a lone '/')
        resources = {r for s in json.loads(out.read_text())["statement"] for r in s["resource"]}
        assert f"qcs::cos:{REGION}:uid/{APPID}:{BUCKET}/{state}*" in resources
