"""The report handler's trend, HTML page and links, driven as SCF drives it, through the SDK over (fake) HTTP.

Sources, read 2026-12-01:
- presigned URLs: qcloud_cos/cos_client.py `get_presigned_url` (official Python SDK); the signature is checked here
  with the emulator's independent verifier functions (emulator/auth.py `sign`, `string_to_sign`).
- a temporary key's token in a presigned URL: cos-go-sdk-v5 object.go `GetPresignedURL` appends it unsigned as
  `x-cos-security-token`, as does the Python SDK's demo/ci_media.py (`ci_get_presigned_download_url`); the Python
  SDK's demo/get_presigned_url.py signs it in through `Params` instead. COS's presigned-URL page shows the unsigned
  form (`q-url-param-list=&q-signature=...&x-cos-security-token=...`,
  https://cloud.tencent.com/document/product/436/68284), which the emulator checks (emulator/auth.py).
- console deep link: no published format; the console's own address bar and public projects use
  https://console.cloud.tencent.com/cos/bucket?bucket=B&region=R&path=%252F<folder>%252F (path encoded twice).
"""
from __future__ import annotations

import json
import re
import time
from html.parser import HTMLParser
from urllib.parse import parse_qsl, unquote, urlsplit
from xml.sax.saxutils import escape as xml_escape

import pytest
import requests
import responses

from emulator.auth import sign, string_to_sign
from emulator.testing import run_emulator
from handlers.report import main_handler
from tests.support.events import REPORT_TIMER, timer_event
from tests.support.settings import ENV
from tests.support.wires import WEBHOOK_URL, inspect_result_xml

CONTEXT = {"request_id": "req-7", "function_name": "report", "time_limit_in_ms": 60000}
HTML_KEY = "autopilot/reports/2026/11/28/report-160000Z.html"


@pytest.fixture
def webhook_wire(env, report_wire, monkeypatch):
    """The report wire plus a WeCom-style bot that accepts every message, sent on every report (REPORT_NOTIFY)."""
    monkeypatch.setenv("REPORT_WEBHOOK_URL", WEBHOOK_URL)
    monkeypatch.setenv("REPORT_NOTIFY", "always")
    report_wire.rsps.post(WEBHOOK_URL, json={"errcode": 0, "errmsg": "ok"})
    return report_wire


def message(webhook_wire, index=-1) -> str:
    calls = [c for c in webhook_wire.rsps.calls if c.request.url.startswith("https://qyapi.weixin.qq.com/")]
    return json.loads(calls[index].request.body)["markdown"]["content"]


def link_in(text: str) -> str:
    line = text.splitlines()[-1]
    return line[line.index("](") + 2: line.index(") (")]


def test_the_default_link_opens_the_reports_folder_in_the_console(webhook_wire):
    main_handler(timer_event(name=REPORT_TIMER), CONTEXT)
    url = link_in(message(webhook_wire))
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "console.cloud.tencent.com", "/cos/bucket")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    assert query["bucket"] == "examplebucket-1250000000" and query["region"] == "ap-guangzhou"
    assert unquote(query["path"]) == "/autopilot/reports/2026/11/28/"
    assert message(webhook_wire).splitlines()[-1].endswith("(`report-160000Z.html`)")


def test_a_console_link_carries_no_credential(webhook_wire):
    main_handler(timer_event(name=REPORT_TIMER), CONTEXT)
    text = message(webhook_wire)
    for secret in ENV["TENCENTCLOUD_SECRETID"], ENV["TENCENTCLOUD_SECRETKEY"], ENV["TENCENTCLOUD_SESSIONTOKEN"]:
        assert secret not in text


def test_a_presigned_link_is_a_signed_get_of_the_html_page_that_expires(webhook_wire, monkeypatch):
    monkeypatch.setenv("REPORT_LINK", "presigned")
    monkeypatch.setenv("REPORT_LINK_EXPIRES", "2h")
    before = int(time.time())
    main_handler(timer_event(name=REPORT_TIMER), CONTEXT)
    url = link_in(message(webhook_wire))
    parts = urlsplit(url)
    assert parts.netloc == "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com"
    assert unquote(parts.path) == "/" + HTML_KEY
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    start, end = map(int, query["q-sign-time"].split(";"))
    # The SDK starts the window 60 s early (clock skew, qcloud_cos/cos_auth.py) and ends it `Expired` after now.
    assert before - 60 <= start <= int(time.time()) - 60 and end - start == 2 * 3600 + 60
    # Recompute the signature from the secret key: the URL is a valid GET of exactly this object.
    headers = {n: parts.netloc for n in query["q-header-list"].split(";") if n == "host"}
    params = {n: query[n] for n in filter(None, query["q-url-param-list"].split(";"))}
    expected = sign(ENV["TENCENTCLOUD_SECRETKEY"], query["q-key-time"],
                    string_to_sign("get", "/" + HTML_KEY, params, headers, query["q-sign-time"]))
    assert query["q-signature"] == expected


def test_a_presigned_link_carries_the_session_token_and_never_the_secret_key(webhook_wire, monkeypatch):
    monkeypatch.setenv("REPORT_LINK", "presigned")
    main_handler(timer_event(name=REPORT_TIMER), CONTEXT)
    query = dict(parse_qsl(urlsplit(link_in(message(webhook_wire))).query))
    assert query["x-cos-security-token"] == ENV["TENCENTCLOUD_SESSIONTOKEN"]  # inherent to a presigned URL
    assert ENV["TENCENTCLOUD_SECRETKEY"] not in message(webhook_wire)


@pytest.fixture
def emulated_link(env, monkeypatch):
    """The report run against an emulator that demands the session token; the link its message carries."""
    with run_emulator(ENV["TENCENTCLOUD_SECRETID"], ENV["TENCENTCLOUD_SECRETKEY"],
                      token=ENV["TENCENTCLOUD_SESSIONTOKEN"]) as emu, \
            responses.RequestsMock() as rsps:
        emu.backend.create_bucket(ENV["COS_BUCKET"])
        rsps.add_passthru(re.compile(r"http://[^/]*\.myqcloud\.com/"))  # COS and CI go on to the emulator
        rsps.post(WEBHOOK_URL, json={"errcode": 0, "errmsg": "ok"})
        for name, value in (("COS_EMULATOR_URL", emu.url), ("REPORT_WEBHOOK_URL", WEBHOOK_URL),
                            ("REPORT_NOTIFY", "always"), ("REPORT_LINK", "presigned")):
            monkeypatch.setenv(name, value)
        main_handler(timer_event(name=REPORT_TIMER), CONTEXT)
        yield emu, link_in(json.loads(rsps.calls[-1].request.body)["markdown"]["content"])


def _open(emu, url):
    return requests.get(url, proxies={"http": emu.url}, timeout=5)


@pytest.mark.emulator
def test_a_presigned_link_opens_the_html_page_over_http(emulated_link):
    emu, url = emulated_link
    response = _open(emu, url)
    assert response.status_code == 200
    assert response.content == emu.backend.get_object(ENV["COS_BUCKET"], HTML_KEY).data


@pytest.mark.emulator
def test_a_presigned_link_without_the_session_token_is_refused(emulated_link):
    emu, url = emulated_link
    assert _open(emu, re.sub(r"&x-cos-security-token=[^&]*", "", url)).status_code == 403


def test_report_link_key_names_the_page_without_a_link(webhook_wire, monkeypatch):
    monkeypatch.setenv("REPORT_LINK", "key")
    main_handler(timer_event(name=REPORT_TIMER), CONTEXT)
    assert message(webhook_wire).splitlines()[-1] == f"full report: `{HTML_KEY}`"


def test_an_unknown_report_link_is_a_config_error_naming_the_variable(webhook_wire, monkeypatch):
    from lib.errors import ConfigError

    monkeypatch.setenv("REPORT_LINK", "public")
    with pytest.raises(ConfigError, match="REPORT_LINK"):
        main_handler(timer_event(name=REPORT_TIMER), CONTEXT)


def test_the_second_days_message_shows_the_change_since_yesterday(webhook_wire):
    webhook_wire.add_job("b1", created="2026-11-27T10:00:00+0800")
    main_handler(timer_event("2026-11-27T16:00:00Z", name=REPORT_TIMER), CONTEXT)
    webhook_wire.add_job("b2", state="Failed", created="2026-11-28T10:00:00+0800")
    webhook_wire.add_job("b3", created="2026-11-28T11:00:00+0800")
    result = main_handler(timer_event("2026-11-28T16:00:00Z", name=REPORT_TIMER), CONTEXT)
    text = message(webhook_wire)
    assert "trend (change vs yesterday / vs the mean of 1 day in the last 30):" in text
    assert "- jobs 2 (+1 / +1), Failed 1 (+1 / +1), Success 1 (±0 / ±0)" in text
    assert "failed share 50.0% (+50.0 pp / +50.0 pp)" in text
    trends = next(d for d in result["deliveries"] if d["channel"] == "trends")
    assert trends == {"channel": "trends", "delivered": True, "detail": "1 earlier day compared"}
    assert "## Trend" in webhook_wire.objects["autopilot/reports/2026/11/28/report-160000Z.md"].decode()


def test_a_corrupt_trend_index_is_a_note_in_the_message_not_a_failed_report(webhook_wire):
    webhook_wire.objects["autopilot/trends/index-000000001.json"] = b"{truncated"
    result = main_handler(timer_event(name=REPORT_TIMER), CONTEXT)
    assert "note: trend index autopilot/trends/index-000000001.json is not JSON" in message(webhook_wire)
    assert next(d for d in result["deliveries"] if d["channel"] == "trends")["delivered"] is False
    assert next(d for d in result["deliveries"] if d["channel"] == "webhook")["delivered"] is True


class Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.data = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.data.append(data)


def test_a_hostile_object_key_reaches_the_html_page_as_text(webhook_wire):
    key = "up/<script>alert(document.cookie)</script>.png"
    webhook_wire.add_job("b1", created="2026-11-28T10:00:00+0800")
    # Escaped, as COS sends it.
    webhook_wire.inspect_results["b1"] = [inspect_result_xml("b1", 0, xml_escape(key), suspicious=True)]
    main_handler(timer_event(name=REPORT_TIMER), CONTEXT)
    page = Text()
    page.feed(webhook_wire.objects[HTML_KEY].decode("utf-8"))
    assert "script" not in page.tags
    assert key in "".join(page.data)
