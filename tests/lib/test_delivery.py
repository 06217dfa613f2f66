"""Delivery channels: report object keys, webhook answers that count as failures, secret URLs kept out of text."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, List, Optional
from urllib.parse import urlparse

import pytest
import requests

from lib.errors import DeliveryError
from lib.report.delivery import post_webhook, redact, report_keys, should_notify
from tests.support.reports import sample_summary


class FakeResponse:
    def __init__(self, status: int, body: Any):
        self.status_code = status
        self.text = body if isinstance(body, str) else json.dumps(body)

    def json(self) -> Any:
        return json.loads(self.text)


class FakeSession:
    """Records posts and answers with one canned response, or raises the given exception."""

    def __init__(self, response: Optional[FakeResponse] = None, error: Optional[Exception] = None):
        self.response, self.error = response, error
        self.posts: List[dict] = []

    def post(self, url: str, json: Any, timeout: float, allow_redirects: bool = True) -> FakeResponse:
        self.posts.append({"url": url, "json": json, "timeout": timeout, "allow_redirects": allow_redirects})
        if self.error is not None:
            raise self.error
        assert self.response is not None
        return self.response


URLS = {
    "wecom": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693axxx6-7aoc-4bc4-97a0-0ec2sifa5aaa",
    "dingtalk": "https://oapi.dingtalk.com/robot/send?access_token=1c8a0b7c3f9d4e2a8b6f",
    "feishu": "https://open.feishu.cn/open-apis/bot/v2/hook/2b3c4d5e-aaaa-bbbb-cccc-1234567890ab",
    "slack": "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
    "json": "https://ops.example.com/hooks/autopilot?token=s3cr3t-t0ken",
}


def path_and_query(url: str) -> str:
    parsed = urlparse(url)
    return parsed.path + (f"?{parsed.query}" if parsed.query else "")


@pytest.mark.parametrize("moment, keys", [
    (datetime(2026, 11, 28, 16, 0, tzinfo=timezone.utc),
     ("autopilot/reports/2026/11/28/report-160000Z.json", "autopilot/reports/2026/11/28/report-160000Z.md")),
    (datetime(2027, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
     ("autopilot/reports/2027/01/02/report-030405Z.json", "autopilot/reports/2027/01/02/report-030405Z.md")),
], ids=["on-the-hour", "padded"])
def test_report_keys_are_dated_by_the_timer_time_in_utc(moment, keys):
    assert report_keys("autopilot/reports/", moment) == keys


def test_report_keys_use_utc_even_for_a_beijing_time():
    from datetime import timedelta

    beijing = datetime(2026, 11, 29, 0, 30, tzinfo=timezone(timedelta(hours=8)))
    assert report_keys("r/", beijing)[0] == "r/2026/11/28/report-163000Z.json"


@pytest.mark.parametrize("notify, problem, sent", [
    ("always", False, True), ("always", True, True), ("on-problem", True, True), ("on-problem", False, False),
])
def test_should_notify(notify, problem, sent):
    summary = sample_summary().model_copy(update={"problem": problem})
    assert should_notify(notify, summary) is sent


@pytest.mark.parametrize("fmt, status, body", [
    ("wecom", 200, {"errcode": 0, "errmsg": "ok"}),
    ("dingtalk", 200, {"errcode": 0, "errmsg": "ok"}),
    ("feishu", 200, {"code": 0, "msg": "success"}),
    ("feishu", 200, {"StatusCode": 0, "StatusMessage": "success"}),
    ("slack", 200, "ok"),
    ("json", 204, ""),
])
def test_a_webhook_answer_that_means_delivered(fmt, status, body):
    session = FakeSession(FakeResponse(status, body))
    post_webhook(session, URLS[fmt], fmt, {"text": "hi"}, 5.0)
    assert session.posts == [{"url": URLS[fmt], "json": {"text": "hi"}, "timeout": 5.0, "allow_redirects": False}]


@pytest.mark.parametrize("fmt, status, body, expected", [
    ("wecom", 200, {"errcode": 93000, "errmsg": "invalid webhook url"}, "code 93000$"),
    ("dingtalk", 200, {"errcode": 310000, "errmsg": "keywords not in content"}, "code 310000"),
    ("feishu", 200, {"code": 19001, "msg": "param invalid"}, "code 19001$"),
    ("wecom", 200, "<html>gateway</html>", "not JSON"),
    ("slack", 404, "no_service", "HTTP 404: no_service"),
    ("json", 500, "oops", "HTTP 500"),
])
def test_a_webhook_answer_that_means_not_delivered(fmt, status, body, expected):
    with pytest.raises(DeliveryError, match=expected):
        post_webhook(FakeSession(FakeResponse(status, body)), URLS[fmt], fmt, {}, 5.0)


@pytest.mark.parametrize("fmt", sorted(URLS))
def test_a_transport_error_names_the_host_but_never_the_url(fmt):
    url = URLS[fmt]
    error = requests.ConnectionError(f"HTTPSConnectionPool: Max retries exceeded with url: {path_and_query(url)}")
    with pytest.raises(DeliveryError) as info:
        post_webhook(FakeSession(error=error), url, fmt, {}, 5.0)
    text = str(info.value)
    assert urlparse(url).hostname in text
    assert path_and_query(url) not in text


@pytest.mark.parametrize("fmt", sorted(URLS))
def test_redact_removes_the_secret_parts_of_each_platforms_url(fmt):
    url = URLS[fmt]
    secret = url.rsplit("=", 1)[1] if "=" in url else url.rsplit("/", 1)[1]
    text = redact(f"failed: {url} / {secret} / {path_and_query(url)}", url)
    assert secret not in text and url not in text
