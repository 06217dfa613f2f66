"""The report handler, driven the way SCF drives it, against the SDK and a webhook over (fake) HTTP."""
from __future__ import annotations

import json
import logging

import pytest

from handlers.report import invoke, main_handler
from lib.client import make_client
from lib.errors import CloudApiError, PaginationError
from tests.support.events import REPORT_TIMER, timer_event
from tests.support.settings import ENV
from tests.support.wires import WEBHOOK_URL, inspect_result_xml

CONTEXT = {"request_id": "req-7", "function_name": "report", "time_limit_in_ms": 60000}
INSIDE = "2026-11-28T10:00:00+0800"
JSON_KEY = "autopilot/reports/2026/11/28/report-160000Z.json"
MD_KEY = "autopilot/reports/2026/11/28/report-160000Z.md"
HTML_KEY = "autopilot/reports/2026/11/28/report-160000Z.html"


@pytest.fixture
def webhook(report_wire, monkeypatch):
    """WeCom-style bot that accepts every message; tests read its calls."""
    monkeypatch.setenv("REPORT_WEBHOOK_URL", WEBHOOK_URL)
    report_wire.rsps.post(WEBHOOK_URL, json={"errcode": 0, "errmsg": "ok"})
    return report_wire


@pytest.fixture
def log_lines(caplog):
    """The JSON lines our `autopilot` logger writes (it does not propagate, so attach caplog's handler)."""
    logger = logging.getLogger("autopilot")
    logger.addHandler(caplog.handler)
    try:
        yield lambda: [json.loads(r.getMessage()) for r in caplog.records if r.name == "autopilot"]
    finally:
        logger.removeHandler(caplog.handler)


def webhook_calls(report_wire):
    return [c for c in report_wire.rsps.calls if c.request.url.startswith("https://qyapi.weixin.qq.com/")]


def outcome(result, channel):
    return next(d for d in result["deliveries"] if d["channel"] == channel)


def test_a_tick_writes_json_and_markdown_reports_under_a_dated_key(env, report_wire):
    report_wire.add_job("b1", created=INSIDE)
    result = main_handler(timer_event(name=REPORT_TIMER), CONTEXT)
    assert json.loads(report_wire.objects[JSON_KEY])["total_jobs"] == 1
    assert report_wire.objects[MD_KEY].decode().startswith("# cos-batch-autopilot report")
    assert report_wire.objects[HTML_KEY].decode().startswith("<!DOCTYPE html>")
    assert outcome(result, "cos") == {"channel": "cos", "delivered": True,
                                      "detail": f"{JSON_KEY} {MD_KEY} {HTML_KEY}"}


def test_report_objects_are_sent_with_their_content_types(env, report_wire):
    main_handler(timer_event(name=REPORT_TIMER), CONTEXT)
    types = {c.request.url.rsplit("/", 1)[1]: c.request.headers.get("Content-Type").decode()
             for c in report_wire.calls("PUT") if "/autopilot/reports/" in c.request.url}
    assert types == {"report-160000Z.json": "application/json", "report-160000Z.md": "text/markdown; charset=utf-8",
                     "report-160000Z.html": "text/html; charset=utf-8"}


def test_report_prefix_moves_the_report_objects(env, report_wire, monkeypatch):
    monkeypatch.setenv("REPORT_PREFIX", "ops/daily/")
    main_handler(timer_event(name=REPORT_TIMER), CONTEXT)
    assert sorted(k for k in report_wire.objects if k.startswith("ops/")) == [
        "ops/daily/2026/11/28/report-160000Z.html", "ops/daily/2026/11/28/report-160000Z.json",
        "ops/daily/2026/11/28/report-160000Z.md"]


def test_a_failed_batch_job_is_reported_not_raised(env, webhook):
    webhook.add_job("b1", state="Failed", created=INSIDE, code="InternalError", message="boom")
    result = main_handler(timer_event(name=REPORT_TIMER), CONTEXT)
    assert result["summary"]["failed"][0]["job_id"] == "b1"
    assert outcome(result, "webhook")["delivered"] is True
    content = json.loads(webhook_calls(webhook)[0].request.body)["markdown"]["content"]
    assert "b1" in content and "InternalError boom" in content and "`report-160000Z.html`" in content


def test_a_job_list_the_service_refuses_fails_the_invocation(env, report_wire):
    report_wire.list_error = (403, "AccessDenied")
    with pytest.raises(CloudApiError) as info:
        main_handler(timer_event(name=REPORT_TIMER), CONTEXT)
    assert info.value.code == "AccessDenied"
    assert not any(k.startswith("autopilot/reports/") for k in report_wire.objects)


def test_a_repeated_next_token_fails_the_invocation(env, report_wire):
    report_wire.repeat_token = "t1"
    report_wire.add_job("b1", created=INSIDE)
    with pytest.raises(PaginationError):
        main_handler(timer_event(name=REPORT_TIMER), CONTEXT)


def test_nothing_to_report_posts_nothing_with_on_problem(env, webhook):
    webhook.add_job("b1", state="Success", created=INSIDE)
    result = main_handler(timer_event(name=REPORT_TIMER), CONTEXT)
    assert webhook_calls(webhook) == []
    assert outcome(result, "webhook") == {"channel": "webhook", "delivered": False,
                                          "detail": "nothing to report (on-problem)"}


def test_report_notify_always_posts_a_clean_report(env, webhook, monkeypatch):
    monkeypatch.setenv("REPORT_NOTIFY", "always")
    result = main_handler(timer_event(name=REPORT_TIMER), CONTEXT)
    assert len(webhook_calls(webhook)) == 1 and outcome(result, "webhook")["delivered"] is True


def test_per_object_lists_go_to_the_cos_report_not_the_returned_result(env, report_wire):
    report_wire.add_job("b1", created=INSIDE)
    report_wire.inspect_results["b1"] = [inspect_result_xml("b1", 0, "up/cat.png", suspicious=True)]
    result = main_handler(timer_event(name=REPORT_TIMER), CONTEXT)
    assert "jobs_with_objects" not in result["summary"] and result["summary"]["objects"]["suspicious"] == 1
    stored = json.loads(report_wire.objects[JSON_KEY])
    assert stored["jobs_with_objects"][0]["objects"][0]["key"] == "up/cat.png"


def test_a_flagged_image_alone_triggers_the_webhook(env, webhook):
    webhook.add_job("b1", created=INSIDE)
    webhook.inspect_results["b1"] = [inspect_result_xml("b1", 0, "up/cat.png", suspicious=True)]
    main_handler(timer_event(name=REPORT_TIMER), CONTEXT)
    assert "up/cat.png" in json.loads(webhook_calls(webhook)[0].request.body)["markdown"]["content"]


def test_a_webhook_error_code_is_a_failed_delivery_that_leaves_the_report_objects(env, report_wire, monkeypatch):
    monkeypatch.setenv("REPORT_WEBHOOK_URL", WEBHOOK_URL)
    report_wire.rsps.post(WEBHOOK_URL, json={"errcode": 93000, "errmsg": "invalid webhook url"})
    report_wire.add_job("b1", state="Failed", created=INSIDE)
    result = main_handler(timer_event(name=REPORT_TIMER), CONTEXT)
    assert outcome(result, "webhook")["delivered"] is False
    assert "code 93000" in outcome(result, "webhook")["detail"]
    assert JSON_KEY in report_wire.objects and outcome(result, "cos")["delivered"] is True


def test_a_refused_report_object_does_not_stop_the_webhook(env, webhook):
    webhook.refuse_puts_under = "autopilot/reports/"
    webhook.add_job("b1", state="Failed", created=INSIDE)
    result = main_handler(timer_event(name=REPORT_TIMER), CONTEXT)
    assert outcome(result, "cos")["delivered"] is False and "AccessDenied" in outcome(result, "cos")["detail"]
    assert outcome(result, "webhook")["delivered"] is True


def test_the_webhook_url_never_reaches_the_logs_or_the_result(env, report_wire, monkeypatch, log_lines):
    monkeypatch.setenv("REPORT_WEBHOOK_URL", WEBHOOK_URL)  # nothing registered: the POST fails to connect
    report_wire.add_job("b1", state="Failed", created=INSIDE)
    result = main_handler(timer_event(name=REPORT_TIMER), CONTEXT)
    assert outcome(result, "webhook")["delivered"] is False
    assert "qyapi.weixin.qq.com" in outcome(result, "webhook")["detail"]
    logged = json.dumps(log_lines())
    assert "report_delivery_failed" in logged
    for text in (logged, json.dumps(result)):
        assert "secret-webhook-key-0001" not in text and "/cgi-bin/webhook/send" not in text


def test_the_summary_is_logged_as_one_json_line(env, report_wire, log_lines):
    report_wire.add_job("b1", created=INSIDE)
    main_handler(timer_event(name=REPORT_TIMER), CONTEXT)
    (report_line,) = [line for line in log_lines() if line["event"] == "report"]
    assert report_line["summary"]["total_jobs"] == 1


def test_a_timer_argument_can_widen_the_report_window(env, report_wire):
    report_wire.add_job("b1", created="2026-11-20T10:00:00+0800")
    result = main_handler(timer_event(name=REPORT_TIMER, message='{"REPORT_LOOKBACK": "14d"}'), CONTEXT)
    assert result["summary"]["total_jobs"] == 1


def test_a_cos_event_is_skipped_without_calls(env, report_wire):
    from tests.support.events import load_event

    result = main_handler(load_event("cos-upload-one.json"), CONTEXT)
    assert result["skipped"] is True and len(report_wire.rsps.calls) == 0


def test_per_object_results_refused_by_the_service_still_give_a_report(env, report_wire):
    report_wire.media_error = (400, "InvalidArgument")
    report_wire.add_job("b1", created=INSIDE)
    result = main_handler(timer_event(name=REPORT_TIMER), CONTEXT)
    assert result["summary"]["notes"][0].startswith("per-object ImageInspect results unavailable")
    assert JSON_KEY in report_wire.objects



def test_invoke_reads_the_environment_it_is_given_and_asks_for_a_connection_per_reader_plus_the_listing(env, report_wire):
    asked = []

    def factory(settings, *, pool_size=None):
        asked.append(pool_size)
        return make_client(settings, pool_size=pool_size)

    # The process environment (the env fixture) leaves REPORT_CONCURRENCY at its default, 16.
    result = invoke(timer_event(name=REPORT_TIMER), CONTEXT, environ={**ENV, "REPORT_CONCURRENCY": "3"}, client_factory=factory)
    assert asked == [3 + 1]
    assert outcome(result, "cos")["delivered"] is True
