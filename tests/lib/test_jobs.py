"""Job bodies: what goes on the wire for each configuration."""
from __future__ import annotations

import pytest

from lib.client import CiClient, make_sdk
from lib.config import load_settings
from lib.errors import ConfigError
from lib.jobs import JobInput, build_job_body, manifest_lines, timer_job_name
from lib.windows import Window, parse_ci_time
from tests.support.settings import BUCKET, ENV

SEED_WINDOW = Window(parse_ci_time("2023-05-01T00:00:00+0800"), parse_ci_time("2023-06-01T00:00:00+0800"))
SEED_NAME = "image-inspect-auto-move-batch-process"
# Byte-exact captures of the SDK's request bodies for the seed's two examples (reference §4).
SEED_WORKFLOW_XML = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<Request><Name>image-inspect-auto-move-batch-process</Name>'
    b"<Type>Workflow</Type><Input><Prefix>/</Prefix></Input><Operation><TimeInterval><Start>2023-05-01T00:00:00+0800"
    b"</Start><End>2023-06-01T00:00:00+0800</End></TimeInterval><WorkflowIds>w2504f47ad46exxxxxxxxxxxxxx"
    b"</WorkflowIds></Operation></Request>")
SEED_JOB_XML = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<Request><Name>image-inspect-auto-move-batch-process</Name>'
    b"<Type>Job</Type><Input><Prefix>/</Prefix></Input><Operation><TimeInterval><Start>2023-05-01T00:00:00+0800"
    b"</Start><End>2023-06-01T00:00:00+0800</End></TimeInterval><Tag>ImageInspect</Tag><JobParam><ImageInspect>"
    b"<AutoProcess>true</AutoProcess><ProcessType>BackupObject</ProcessType></ImageInspect></JobParam></Operation>"
    b"</Request>")


@pytest.mark.parametrize(("extra", "expected"), [
    ({"JOB_TYPE": "Workflow", "WORKFLOW_IDS": "w2504f47ad46exxxxxxxxxxxxxx"}, SEED_WORKFLOW_XML),
    ({"INSPECT_AUTO_PROCESS": "true"}, SEED_JOB_XML),
], ids=["workflow", "image-inspect-job"])
def test_seed_examples_are_sent_byte_for_byte(ci_wire, extra, expected):
    settings = load_settings({**ENV, **extra})
    body = build_job_body(settings, SEED_NAME, JobInput(Prefix=settings.input_prefix), SEED_WINDOW)
    CiClient(make_sdk(settings), BUCKET).create_job(body)
    assert ci_wire.created_bodies == [expected]
    assert len(expected) == (342 if b"Workflow" in expected else 426)  # Content-Length seen in the captures


def test_several_workflow_ids_become_repeated_elements():
    settings = load_settings({**ENV, "JOB_TYPE": "Workflow", "WORKFLOW_IDS": "wabcdef01,wabcdef02"})
    body = build_job_body(settings, "n", JobInput(Prefix="/"), None)
    assert body.to_sdk()["Operation"] == {"WorkflowIds": ["wabcdef01", "wabcdef02"]}


def test_window_without_start_sends_no_time_interval():
    settings = load_settings(ENV)
    body = build_job_body(settings, "n", JobInput(Prefix="/"), Window(None, SEED_WINDOW.end))
    assert "TimeInterval" not in body.to_sdk()["Operation"]


@pytest.mark.parametrize("kinds", [{}, {"Prefix": "/", "Object": "a.jpg"}])
def test_input_needs_exactly_one_kind(kinds):
    with pytest.raises(ValueError, match="exactly one of Prefix, Object, UrlFile, Manifest"):
        JobInput(**kinds)


@pytest.mark.parametrize("kind", ["UrlFile", "Manifest"])
@pytest.mark.parametrize("value", ["autopilot/manifests/abc.txt", "https://example.com/a.txt", ""])
def test_url_file_and_manifest_must_be_cos_object_urls(kind, value):
    with pytest.raises(ValueError, match=f"Input.{kind} .* is not a COS object URL"):
        JobInput(**{kind: value})


def test_the_sdk_demo_url_file_is_accepted():
    # cos-python-sdk-v5 demo/ci_media.py (read 2026-12-01) writes this exact form.
    url = "https://ziroom-tech-1255976291.cos.ap-beijing.myqcloud.com/ci_ziroom-tech_scankey_url.txt"
    assert JobInput(UrlFile=url).UrlFile == url


def test_timer_job_name_is_deterministic_and_obeys_ci_rules():
    name = timer_job_name("autopilot", "hourly.inspect/with odd chars" * 5, SEED_WINDOW)
    assert name == timer_job_name("autopilot", "hourly.inspect/with odd chars" * 5, SEED_WINDOW)
    assert len(name) <= 128
    assert all(c.isalnum() or c in "-_" for c in name)
    assert name.startswith("autopilot-")


@pytest.mark.parametrize(("rule", "expected"), [
    ("nightly_2", "nightly_2"),
    ("夜间-巡检", "夜间-巡检"),
    ("a.b/c d", "a_b_c_d"),
    ("tab\tnewline\n", "tab_newline_"),
    ("ｆｕｌｌ", "____"),  # fullwidth letters are not ASCII letters
    ("〇", "_"),  # CJK, but outside U+4E00-U+9FA5
])
def test_timer_job_name_keeps_ci_name_characters_and_replaces_the_rest(rule, expected):
    name = timer_job_name("autopilot", rule, SEED_WINDOW)
    assert name.startswith(f"autopilot-{expected}-")


@pytest.mark.parametrize(("prefix", "accepted"), [
    ("巡检", True), ("auto_pilot-2", True), ("auto.pilot", False), ("ａ", False), ("x" * 41, False),
])
def test_job_name_prefix_accepts_exactly_ci_name_characters(prefix, accepted):
    if accepted:
        assert load_settings({**ENV, "JOB_NAME_PREFIX": prefix}).job_name_prefix == prefix
    else:
        with pytest.raises(ConfigError, match="JOB_NAME_PREFIX="):
            load_settings({**ENV, "JOB_NAME_PREFIX": prefix})


def test_manifest_lists_percent_encoded_urls_one_per_line():
    text = manifest_lines(BUCKET, "ap-guangzhou", ["a b+c%.jpg", "照片/猫.png"])
    assert text == (f"https://{BUCKET}.cos.ap-guangzhou.myqcloud.com/a%20b%2Bc%25.jpg\n"
                    f"https://{BUCKET}.cos.ap-guangzhou.myqcloud.com/%E7%85%A7%E7%89%87/%E7%8C%AB.png\n")
