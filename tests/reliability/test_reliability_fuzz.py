"""Hostile input (issue 6, item 4): malformed timer and COS events, invalid JSON arguments, non-UTF-8 bytes, huge
and odd keys, and malformed settings → a clean skip (a dict) or an AppError, never another exception, never a
credential in the error, its traceback, the logs or the return value, and never a job submitted.

Every case runs inside a `responses.RequestsMock` with no URLs registered: any HTTP attempt fails at once (and
is visible in `rsps.calls`), so no create can reach anything."""
from __future__ import annotations

import copy
import json
import traceback
from collections import Counter
from typing import Any, Callable, Dict
from urllib.parse import quote

import pytest
import responses
from hypothesis import given
from hypothesis import strategies as st

from lib.errors import AppError
from tests.reliability.support import FAKE_AUTHORIZATION, FAKE_WEBHOOK, LogSink, canary_env, examples, leaked
from tests.support.entries import Entry, report_entry, submit_entry
from tests.support.events import timer_event
from tests.support.settings import REGION

STATS: Counter = Counter()
CONTEXT = {"request_id": "fuzz-req", "function_name": "fuzz", "time_limit_in_ms": 60000}

# --- strategies -------------------------------------------------------------------------------------------------
# Cheap to draw on purpose: valid shapes with a few fields removed or replaced, so thousands of cases stay fast.
ODD_TEXT = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["", " ", "\x00", "../../etc/passwd", "%2F%2e%2e", "a" * 5000, "照片/猫.png", "\ud800",
                     "key\nwith\nnewlines", "<Error>&amp;</Error>", "${TENCENTCLOUD_SECRETKEY}", "null", "%ZZ",
                     "a" * 100_000]),
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), ODD_TEXT)
JSONISH = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                        st.dictionaries(ODD_TEXT, inner, max_size=3)), max_leaves=4)
REPLACEMENTS = st.one_of(st.just(DELETE := object()), SCALARS, st.sampled_from([[], {}, [None], {"a": 1}]))
MESSAGES = st.sampled_from([
    "", '{"WINDOW": ', "[1, 2]", '{"REPORT_WEBHOOK_URL": "' + FAKE_WEBHOOK + '"', '{"INPUT_PREFIX": "/"}', "{}",
    '"just a string"', '{"WINDOW": "0h"}', '{"WINDOW": "6h", "INPUT_PREFIX": "videos/"}', '{"NOT_A_SETTING": 1}',
    '{"TENCENTCLOUD_SECRETKEY": "' + FAKE_WEBHOOK + '"}', '{"REPORT_WEBHOOK_URL": "not a url ' + FAKE_WEBHOOK + '"}',
    '{"INPUT_PREFIX": {"nested": true}}', '{"LEASE_SECONDS": 1e999}', "\udcff", "{" * 5000, "null"])
TIMER = timer_event()
TIMER_PATHS = [("Type",), ("TriggerName",), ("Time",), ("Message",), ("Extra",)]
COS_RECORD = {
    "cos": {"cosBucket": {"appid": "1250000000", "name": "examplebucket", "region": "gz", "cosRegion": REGION},
            "cosObject": {"key": "/1250000000/examplebucket/uploads/cat.png", "size": 1024, "vid": "",
                          "url": "http://examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com/uploads/cat.png",
                          "meta": {"x-cos-request-id": "r", "ETag": '"e"'}}},
    "event": {"eventName": "cos:ObjectCreated:Put",
              "requestParameters": {"requestHeaders": {"Authorization": FAKE_AUTHORIZATION}}},
}
COS_PATHS = [("cos",), ("event",), ("cos", "cosBucket"), ("cos", "cosObject"), ("cos", "cosBucket", "appid"),
             ("cos", "cosBucket", "name"), ("cos", "cosObject", "key"), ("cos", "cosObject", "url"),
             ("cos", "cosObject", "size"), ("cos", "cosObject", "vid"), ("cos", "cosObject", "meta"),
             ("event", "eventName")]
KEY_TAILS = st.sampled_from(["uploads/cat.png", "", "autopilot/x.png", "abnormal_images_backup/a.png",
                             "a/" * 2000 + "x.png", "uploads/猫 100%.PNG", "uploads/a.png/", "uploads/a.txt",
                             "uploads/%E7%8C%AB.png", "uploads/\ud800.png", "uploads/\x00.png"])


def mutated(base: Dict[str, Any], changes) -> Dict[str, Any]:
    event = copy.deepcopy(base)
    for path, value in changes:
        node = event
        for part in path[:-1]:
            if not isinstance(node, dict) or not isinstance(node.get(part), dict):
                break
            node = node[part]
        else:
            if value is DELETE:
                node.pop(path[-1], None)
            else:
                # A copy: the strategies' constants ([], {}, ...) are shared, and a later change may write into the
                # value just placed. Without it one example could make a constant contain itself.
                node[path[-1]] = copy.deepcopy(value)
    return event


TIMER_EVENTS = st.builds(
    mutated, st.just(TIMER),
    st.lists(st.tuples(st.sampled_from(TIMER_PATHS),
                       st.one_of(REPLACEMENTS, MESSAGES, st.sampled_from(["timer", "9999-12-31T23:59:59Z",
                                                                           "2026-02-30T00:00:00Z", "x" * 61]))),
             max_size=3))


@st.composite
def cos_record(draw) -> Dict[str, Any]:
    record = mutated(COS_RECORD, draw(st.lists(st.tuples(st.sampled_from(COS_PATHS), REPLACEMENTS), max_size=2)))
    if draw(st.booleans()):
        tail = draw(KEY_TAILS)
        obj = record.get("cos", {}).get("cosObject") if isinstance(record.get("cos"), dict) else None
        if isinstance(obj, dict):
            obj["key"] = "/1250000000/examplebucket/" + tail
            obj["url"] = draw(st.sampled_from(["", "http://examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com/"
                                               + quote(tail.encode("utf-8", "surrogatepass"), safe="/"), "::nonsense"]))
    return record


COS_EVENTS = st.one_of(
    st.builds(lambda rs: {"Records": rs}, st.lists(cos_record(), max_size=3)),
    st.builds(lambda v: {"Records": v}, REPLACEMENTS),
)
RAW = st.one_of(
    st.binary(max_size=100),
    st.binary(max_size=50).map(lambda b: b"\xff\xfe" + b),  # never UTF-8
    st.text(max_size=50),
    st.sampled_from(['{"Type": "Timer"', "[]", "null", "1e999", '{"Records": [', '"\\ud800"', "[" * 100_000]),
    JSONISH,
)
EVENTS = st.one_of(TIMER_EVENTS, COS_EVENTS, RAW,
                   TIMER_EVENTS.map(lambda e: json.dumps(e, default=str)),
                   COS_EVENTS.map(lambda e: json.dumps(e, default=str).encode("utf-8")))


# --- the harness ----------------------------------------------------------------------------------------------------
def call_handler(entry_on: Callable[..., Entry], event: Any, environ: Dict[str, str], capsys) -> str:
    """Run one case through the entry `entry_on(environ=...)` makes, on a RequestsMock with no URLs; fail on anything
    but a dict or an AppError, on a leak, or on a create request."""
    with LogSink() as sink, responses.RequestsMock() as rsps:
        try:
            outcome: Any = entry_on(environ=environ)(event, CONTEXT)
            evidence = [json.dumps(outcome, default=str)]
            kind = "skipped" if outcome.get("skipped") else "returned"
        except AppError as exc:
            evidence = [str(exc), "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))]
            kind = type(exc).__name__
        calls = [c.request for c in rsps.calls]
    out, err = capsys.readouterr()
    assert isinstance(outcome if kind in ("skipped", "returned") else None, (dict, type(None)))
    assert not any(c.method == "POST" and "inventorytriggerjob" in c.url for c in calls), "a job was submitted"
    found = leaked(*evidence, sink.text(), out, err)
    assert found == [], f"{kind} leaked {found}"
    return kind




@pytest.fixture(scope="module", autouse=True)
def report_stats():
    yield
    print("\nfuzz outcomes:", dict(sorted(STATS.items())))


@examples(2500, 30000)
@given(event=EVENTS)
def test_submit_handler_skips_or_raises_app_errors_on_malformed_events_and_leaks_nothing(capsys, event):
    STATS["submit: " + call_handler(submit_entry, event, canary_env(), capsys)] += 1


@examples(2000, 20000)
@given(event=EVENTS)
def test_report_handler_skips_or_raises_app_errors_on_malformed_events_and_leaks_nothing(capsys, event):
    STATS["report: " + call_handler(report_entry, event, canary_env(), capsys)] += 1


ENV_VALUES = st.one_of(ODD_TEXT, st.sampled_from(["", "true", "maybe", "-1", "1e9", "0.05", "6h", "0h", "/",
                                                  "/images/", "Workflow", "DeleteObject", "http://x y"]))
# A secret put where it belongs, but malformed: the error must still not echo it.
WEBHOOKS = st.sampled_from([FAKE_WEBHOOK, FAKE_WEBHOOK + " trailing", "ftp" + FAKE_WEBHOOK[5:], FAKE_WEBHOOK + "\n"])
ENV_NAMES = st.sampled_from(["COS_BUCKET", "COS_REGION", "JOB_TYPE", "WORKFLOW_IDS", "INSPECT_AUTO_PROCESS",
                             "INSPECT_PROCESS_TYPE", "INPUT_PREFIX", "WINDOW", "FIRST_RUN_LOOKBACK", "STATE_PREFIX",
                             "LEASE_SECONDS", "API_TIMEOUT", "COS_EMULATOR_URL", "REPORT_WEBHOOK_URL",
                             "REPORT_WEBHOOK_FORMAT", "REPORT_FAIL_ABOVE", "REPORT_LOOKBACK", "UPLOAD_SUFFIXES",
                             "JOB_NAME_PREFIX", "RULE_NAME", "ALLOW_DELETE_WHOLE_BUCKET", "TENCENTCLOUD_SECRETID"])
VALID_EVENTS = st.sampled_from([
    {"Type": "Timer", "TriggerName": "hourly", "Time": "2026-11-28T16:00:00Z", "Message": ""},
    {"Records": [{"cos": {"cosBucket": {"appid": "1250000000", "name": "examplebucket"},
                          "cosObject": {"key": "/1250000000/examplebucket/uploads/cat.png",
                                        "url": "http://examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com/"
                                               "uploads/cat.png"}},
                  "event": {"eventName": "cos:ObjectCreated:Put",
                            "requestParameters": {"requestHeaders": {"Authorization": FAKE_AUTHORIZATION}}}}]},
])


@examples(1000, 15000)
@given(event=VALID_EVENTS, broken=st.dictionaries(ENV_NAMES, ENV_VALUES, min_size=1, max_size=4),
       webhook=WEBHOOKS, handler=st.sampled_from(["submit", "report"]))
def test_malformed_settings_give_a_clear_error_and_leak_nothing(capsys, event, broken, webhook, handler):
    run = submit_entry if handler == "submit" else report_entry
    environ = {k: v for k, v in canary_env(**{**broken, "REPORT_WEBHOOK_URL": webhook}).items()
               if "\x00" not in k + v and "\ud800" not in v}
    STATS[f"settings/{handler}: " + call_handler(run, event, environ, capsys)] += 1


# --- the specific inputs the fuzzing found -------------------------------------------------------------------------
def test_an_event_nested_too_deeply_is_a_clean_skip(capsys):
    assert call_handler(submit_entry, "[" * 100_000, canary_env(), capsys) == "skipped"


def test_a_timer_argument_nested_too_deeply_is_a_config_error(capsys):
    event = {**TIMER, "Message": "[" * 100_000}
    assert call_handler(submit_entry, event, canary_env(), capsys) == "ConfigError"


def test_an_upload_key_with_a_lone_surrogate_is_skipped_not_a_crash(capsys):
    record = mutated(COS_RECORD, [(("cos", "cosObject", "key"), "/1250000000/examplebucket/uploads/\ud800.png"),
                                  (("cos", "cosObject", "url"), "")])
    with responses.RequestsMock():
        result = submit_entry(environ=canary_env())({"Records": [record]}, CONTEXT)
    assert result["jobs"] == [] and "lone surrogate" in result["skipped"][0]["reason"]


@pytest.mark.parametrize("path", [("cos", "cosObject", "vid"), ("cos", "cosObject", "meta", "ETag"),
                                  ("cos", "cosObject", "meta", "x-cos-request-id"), ("event", "eventName")],
                         ids=["version-id", "etag", "request-id", "event-name"])
def test_a_lone_surrogate_anywhere_in_an_upload_record_is_skipped_not_a_crash(capsys, path):
    # Found by the soak run: a version id of "\ud800" reached the job name's hash and raised UnicodeEncodeError.
    record = mutated(COS_RECORD, [(path, "\ud800")])
    with responses.RequestsMock() as rsps:
        result = submit_entry(environ=canary_env())({"Records": [record]}, CONTEXT)
        assert len(rsps.calls) == 0
    assert result["jobs"] == [] and "lone surrogate" in result["skipped"][0]["reason"]


def test_a_skipped_key_with_a_lone_surrogate_is_reported_escaped_so_the_result_encodes(capsys):
    record = mutated(COS_RECORD, [(("cos", "cosObject", "key"), "/1250000000/examplebucket/uploads/\ud800.png")])
    with responses.RequestsMock():
        result = submit_entry(environ=canary_env())({"Records": [record]}, CONTEXT)
    json.dumps(result, ensure_ascii=False).encode("utf-8")  # SCF serialises the result; a lone surrogate would raise
    assert result["skipped"][0]["key"].endswith("uploads/\\ud800.png")


def test_a_secret_id_with_a_trailing_space_is_a_config_error_not_an_sdk_crash(capsys):
    # Found by the soak run: the SDK's CosConfig raised a bare CosClientError for TENCENTCLOUD_SECRETID='0 '.
    environ = canary_env(TENCENTCLOUD_SECRETID="0 ")
    assert call_handler(submit_entry, TIMER, environ, capsys) == "ConfigError"


def test_a_timer_name_with_a_lone_surrogate_is_a_clean_skip(capsys):
    assert call_handler(submit_entry, {**TIMER, "TriggerName": "hourly\ud800"}, canary_env(),
                        capsys) == "skipped"


def test_a_rejected_event_type_is_not_echoed(capsys):
    result = submit_entry(environ=canary_env())({**TIMER, "Type": FAKE_AUTHORIZATION}, CONTEXT)
    assert result["skipped"] is True and leaked(result["reason"]) == []


@pytest.mark.parametrize("time", ["9999-12-31T20:00:00", "0001-01-01T00:00:00Z"])
@pytest.mark.parametrize("handler", ["submit", "report"])
def test_a_timer_time_at_the_ends_of_the_calendar_is_a_clean_skip(capsys, time, handler):
    run = submit_entry if handler == "submit" else report_entry
    assert call_handler(run, {**TIMER, "Time": time}, canary_env(), capsys) == "skipped"
