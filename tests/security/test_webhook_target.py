"""Issue 22 point 7: the report posts only to an https chat platform on a public host, follows no redirect, and
never brings the target's answer back beyond its status and the platform's error code.

Non-public ranges are the IANA special-purpose registries Python's `ipaddress.is_global` reads
(https://www.iana.org/assignments/iana-ipv4-special-registry/, .../iana-ipv6-special-registry/): loopback,
RFC 1918, link-local 169.254/16 (the metadata service), shared 100.64/10, ULA fc00::/7, fe80::/10. A host literal
is read the way the resolver reads it (`2130706433`, `0x7f.1` are 127.0.0.1: inet_aton(3)). Error codes kept:
WeCom/DingTalk `errcode` and Feishu `code` are documented numbers (see test_chat_injection.py for the pages);
Slack answers a documented word such as `no_service` (https://api.slack.com/messaging/webhooks#handling_errors).
Names are not resolved at load time: DNS rebinding is left to the platform allow-list (docs/security.md).
"""
from __future__ import annotations

import json
import re
from datetime import datetime

import pytest
import responses

import handlers.report
from lib.errors import ConfigError
from tests.reliability.support import LogSink
from tests.support.events import timer_event

TICK = datetime.fromisoformat("2026-11-28T16:00:00+00:00")
ANSWER_CANARY = "answer-canary-7f3a"


def run_report() -> dict:
    return handlers.report.main_handler(timer_event(TICK, name="daily-report"), {"request_id": "hook"})


@pytest.mark.parametrize("url", [
    "http://hooks.example.com/send?key=k",                  # plain http off the emulator
    "https://127.0.0.1/hook", "https://localhost/hook", "https://LOCALHOST./hook", "https://api.localhost/hook",
    "https://10.0.0.8/hook", "https://172.16.5.4/hook", "https://192.168.1.1/hook",
    "https://169.254.169.254/latest/meta-data", "https://100.64.0.1/hook", "https://0.0.0.0/hook",
    "https://[::1]/hook", "https://[fd00::1]/hook", "https://[fe80::1]/hook", "https://[::ffff:127.0.0.1]/hook",
    "https://2130706433/hook", "https://0x7f.1/hook", "https://0177.0.0.1/hook",
    "https://user:pass@hooks.example.com/hook", "https://hooks.example.com@169.254.169.254/hook",
    "https://metadata.internal/hook", "https://intranet/hook", "https://printer.local/hook",
    "ftp://hooks.example.com/hook", "https://hooks.example.com:notaport/hook",
], ids=lambda u: re.sub(r"\W+", "-", u)[8:40])
def test_a_webhook_that_is_not_https_to_a_public_host_is_refused_at_load_without_its_value(env, monkeypatch, url):
    monkeypatch.setenv("REPORT_WEBHOOK_URL", url)
    with responses.RequestsMock() as rsps, pytest.raises(ConfigError) as info:  # nothing may go out
        run_report()
    assert len(rsps.calls) == 0
    text = str(info.value)
    assert "REPORT_WEBHOOK_URL='<hidden>'" in text and "set REPORT_WEBHOOK_URL to the https URL" in text
    assert url not in text and "hook" not in text.replace("webhook", "").replace("WEBHOOK", "")


def test_plain_http_to_loopback_is_refused_without_the_emulator(env, monkeypatch):
    monkeypatch.setenv("REPORT_WEBHOOK_URL", "http://127.0.0.1:8080/hook")
    with pytest.raises(ConfigError, match="plain http is allowed only to 127.0.0.1 with COS_EMULATOR_URL"):
        run_report()


@pytest.mark.parametrize("url", [
    "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693axxx6-7aoc-4bc4-97a0-0ec2sifa5aaa",
    "https://oapi.dingtalk.com/robot/send?access_token=1c8a0b7c3f9d4e2a8b6f",
    "https://open.feishu.cn/open-apis/bot/v2/hook/2b3c4d5e-aaaa-bbbb-cccc-1234567890ab",
    "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
    "https://8.8.8.8/hook",
], ids=["wecom", "dingtalk", "feishu", "slack", "public-ip"])
def test_each_platforms_own_webhook_is_accepted_and_posted_to(emulator_bucket, monkeypatch, url):
    monkeypatch.setenv("REPORT_WEBHOOK_URL", url)
    monkeypatch.setenv("REPORT_NOTIFY", "always")
    with responses.RequestsMock() as rsps:
        rsps.add_passthru(re.compile(r"http://[^/]*\.myqcloud\.com/"))
        rsps.post(url, json={"errcode": 0})
        result = run_report()
    assert next(d for d in result["deliveries"] if d["channel"] == "webhook")["delivered"] is True


def test_plain_http_to_loopback_is_allowed_beside_the_emulator(emulator_bucket, emulator, monkeypatch):
    url = emulator.url + "/hook"  # the emulator answers 404: what matters is that the POST was made there
    monkeypatch.setenv("REPORT_WEBHOOK_URL", url)
    monkeypatch.setenv("REPORT_NOTIFY", "always")
    run_report()
    assert any(r.method == "POST" and r.path == "/hook" for r in emulator.request_log.snapshot())


@pytest.mark.parametrize("fmt, status, body, shown", [
    ("wecom", 500, f"<html>{ANSWER_CANARY}</html>", "answered HTTP 500"),
    ("wecom", 200, {"errcode": 93000, "errmsg": f"invalid webhook url {ANSWER_CANARY}"}, "code 93000"),
    ("feishu", 200, {"code": 19001, "msg": ANSWER_CANARY}, "code 19001"),
    ("dingtalk", 200, {"errcode": ANSWER_CANARY}, "an error code that is not a number"),
    ("dingtalk", 200, f"not json {ANSWER_CANARY}", "the answer is not JSON"),
    ("slack", 404, "no_service", "answered HTTP 404: no_service"),
    ("slack", 400, f"invalid_payload {ANSWER_CANARY}", "answered HTTP 400"),
    ("json", 502, ANSWER_CANARY, "answered HTTP 502"),
])
def test_the_targets_answer_never_reaches_the_result_or_the_logs(emulator_bucket, monkeypatch, fmt, status, body,
                                                                 shown):
    url = "https://hooks.example.com/bot?key=answer-test-0001"
    monkeypatch.setenv("REPORT_WEBHOOK_URL", url)
    monkeypatch.setenv("REPORT_WEBHOOK_FORMAT", fmt)
    monkeypatch.setenv("REPORT_NOTIFY", "always")
    with LogSink() as sink, responses.RequestsMock() as rsps:
        rsps.add_passthru(re.compile(r"http://[^/]*\.myqcloud\.com/"))
        rsps.post(url, status=status, **({"json": body} if isinstance(body, dict) else {"body": body}))
        result = run_report()
    outcome = next(d for d in result["deliveries"] if d["channel"] == "webhook")
    assert outcome["delivered"] is False and outcome["detail"].endswith(shown)
    assert ANSWER_CANARY not in json.dumps(result) + sink.text()


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_not_followed_and_counts_as_not_delivered(emulator_bucket, monkeypatch, status):
    url = "https://hooks.example.com/bot?key=redirect-test-0001"
    metadata = "http://169.254.169.254/latest/meta-data/"
    monkeypatch.setenv("REPORT_WEBHOOK_URL", url)
    monkeypatch.setenv("REPORT_NOTIFY", "always")
    # Off: the two metadata URLs are traps registered so that following the redirect would be seen, not fired.
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_passthru(re.compile(r"http://[^/]*\.myqcloud\.com/"))
        rsps.post(url, status=status, headers={"Location": metadata})
        rsps.add(responses.POST, metadata, body="instance credentials")
        rsps.add(responses.GET, metadata, body="instance credentials")
        result = run_report()
        assert not [c for c in rsps.calls if c.request.url.startswith(metadata)]
    outcome = next(d for d in result["deliveries"] if d["channel"] == "webhook")
    assert outcome == {"channel": "webhook", "delivered": False,
                       "detail": f"wecom webhook to hooks.example.com answered HTTP {status}"}
