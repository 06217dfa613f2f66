"""Issue 22 point 8: the webhook's token stays out of every log line, result and raised error, in whatever encoding
it comes back: as is, percent-encoded (RFC 3986 §2.1, either hex case; `+` for a space as in form encoding),
percent-encoded twice (a URL quoted inside another URL's query, as the console link does), or JSON-escaped (RFC 8259
§7, which lets `/` be written `\\/`, as PHP's json_encode does). Base64 is not covered: nothing we send carries the
URL base64-encoded, and a URL with user:password, the one place HTTP would, is refused (test_webhook_target.py).

The report handler runs against the emulator; the webhook's transport error echoes the URL (as urllib3's
"Max retries exceeded with url: ..." does) in each encoding; the canaries are tests/reliability/support.py's.
"""
from __future__ import annotations

import json
import re
from datetime import datetime
from urllib.parse import quote, quote_plus

import pytest
import requests
import responses
from hypothesis import given
from hypothesis import strategies as st

import handlers.report
from lib.errors import ConfigError
from tests.reliability.support import FAKE_WEBHOOK, LogSink, examples, leaked
from tests.support.events import timer_event

TICK = datetime.fromisoformat("2026-11-28T16:00:00+00:00")
# A generic `json` endpoint with a base64 token: '+', '/' and '=' change under every encoding.
BASE64_WEBHOOK = "https://ops.example.com/hooks/autopilot?token=leakcanary+B64/tok3n=="
SLACK_LIKE = "https://hooks.example.com/services/Tleakcanary0/B0000leakcanary/leakcanaryXXXXXXXXXXXX"

ENCODINGS = {
    "raw": lambda u: u,
    "percent": lambda u: quote(u, safe=""),
    "percent-lower": lambda u: re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(u, safe="")),
    "percent-path": lambda u: quote(u, safe="/:"),
    "form": quote_plus,
    "double": lambda u: quote(quote(u, safe=""), safe=""),
    "json": lambda u: json.dumps(u)[1:-1],
    "json-slash": lambda u: json.dumps(u)[1:-1].replace("/", "\\/"),
}


def report_with_echo(monkeypatch, url: str, echoed: str) -> tuple:
    monkeypatch.setenv("REPORT_WEBHOOK_URL", url)
    monkeypatch.setenv("REPORT_WEBHOOK_FORMAT", "json")
    monkeypatch.setenv("REPORT_NOTIFY", "always")
    error = requests.ConnectionError(f"HTTPSConnectionPool(host='x', port=443): Max retries exceeded with url: "
                                     f"{echoed} (Caused by NewConnectionError('{echoed}'))")
    with LogSink() as sink, responses.RequestsMock() as rsps:
        rsps.add_passthru(re.compile(r"http://[^/]*\.myqcloud\.com/"))
        rsps.post(url, body=error)
        result = handlers.report.main_handler(timer_event(TICK, name="daily-report"), {"request_id": "redact"})
    return result, sink.text()


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
@pytest.mark.parametrize("url", [FAKE_WEBHOOK, BASE64_WEBHOOK, SLACK_LIKE], ids=["wecom-like", "base64", "slack"])
def test_a_transport_error_echoing_the_url_leaks_no_token(emulator_bucket, monkeypatch, url, encoding):
    result, logged = report_with_echo(monkeypatch, url, ENCODINGS[encoding](url))
    outcome = next(d for d in result["deliveries"] if d["channel"] == "webhook")
    assert outcome["delivered"] is False and "<redacted>" in outcome["detail"]
    assert leaked(json.dumps(result), logged) == []


@examples(default=10, soak=300)
@given(token=st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~+/=%!*'()",
                     min_size=4, max_size=40),
       encoding=st.sampled_from(sorted(ENCODINGS)))
def test_generated_tokens_never_leak_in_any_encoding(emulator_bucket, monkeypatch, token, encoding):
    url = f"https://hooks.example.com/send?key=leakcanary{quote(token, safe='+/=')}"
    result, logged = report_with_echo(monkeypatch, url, ENCODINGS[encoding](url))
    assert leaked(json.dumps(result), logged) == []


@pytest.mark.parametrize("encoding", ["raw", "percent", "json-slash"])
def test_an_argument_quoting_the_webhook_url_gets_it_into_no_log_or_error(emulator_bucket, monkeypatch, encoding):
    """A timer argument whose bad value is the webhook URL: the error names the value, so it must be redacted."""
    monkeypatch.setenv("REPORT_WEBHOOK_URL", FAKE_WEBHOOK)
    argument = json.dumps({"WINDOW": ENCODINGS[encoding](FAKE_WEBHOOK)})
    with LogSink() as sink, pytest.raises(ConfigError) as info:
        handlers.report.main_handler(timer_event(TICK, name="daily-report", message=argument), {"request_id": "r"})
    assert "WINDOW=" in str(info.value)
    assert leaked(str(info.value), sink.text()) == []


def test_a_word_the_webhook_path_shares_with_keys_is_not_redacted(emulator_bucket, monkeypatch):
    """Only token-like parts are secret: a path named `autopilot` must not garble every key and job name."""
    result, logged = report_with_echo(monkeypatch, BASE64_WEBHOOK, BASE64_WEBHOOK)
    cos = next(d for d in result["deliveries"] if d["channel"] == "cos")
    assert cos["detail"].startswith("autopilot/reports/2026/11/28/report-160000Z.json")
    assert '"channel": "cos", "detail": "autopilot/reports/' in logged
