"""Secrets (item 5) and safety rails (item 6), against an emulator that accepts the canary credentials.

Every path runs with known fake credentials, a webhook URL and an event carrying an Authorization header; all
log output, stdout/stderr, return values, errors and their tracebacks are searched for them."""
from __future__ import annotations

import io
import json
import re
import traceback
from typing import Iterator, List

import pytest
import responses

from emulator.testing import EmulatorHandle, run_emulator
from lib.errors import AppError, SafetyError
from ops import cli
from tests.reliability.support import (
    FAKE_AUTHORIZATION,
    FAKE_SECRET_ID,
    FAKE_SECRET_KEY,
    FAKE_TOKEN,
    LogSink,
    at,
    canary_env,
    leaked,
)
from tests.support.entries import report_entry, submit_entry
from tests.support.events import cos_event, timer_event
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator
TICK = at(2)

# The functions on the process environment (the `function` fixture sets it), retrying without back-off sleeps.
SUBMIT, REPORT = submit_entry(), report_entry()


@pytest.fixture(scope="module")
def canary_emulator() -> Iterator[EmulatorHandle]:
    with run_emulator(secret_id=FAKE_SECRET_ID, secret_key=FAKE_SECRET_KEY, token=FAKE_TOKEN) as handle:
        yield handle


@pytest.fixture
def function(canary_emulator, env, monkeypatch):
    """The canary environment aimed at the canary emulator (the process's, which SUBMIT and REPORT read)."""
    canary_emulator.reset()
    canary_emulator.backend.set_clock(lambda: TICK)
    canary_emulator.backend.create_bucket(BUCKET)
    for key, value in canary_env(COS_EMULATOR_URL=canary_emulator.url, REPORT_NOTIFY="always",
                                 API_TIMEOUT="2").items():
        monkeypatch.setenv(key, value)
    return canary_emulator


def run_path(handler, event, capsys) -> List[str]:
    """Run a handler; return every text it produced (result or error + traceback, logs, stdout, stderr)."""
    with LogSink() as sink:
        try:
            texts = [json.dumps(handler(event, {"request_id": "req-1", "time_limit_in_ms": 60000}), default=str)]
        except AppError as exc:
            texts = [str(exc), "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))]
    out, err = capsys.readouterr()
    return texts + [sink.text(), out, err]


def keys(n: int) -> List[str]:
    return [f"uploads/img-{i}.png" for i in range(n)]


PATHS = {
    "timer submit": lambda f: (SUBMIT, timer_event(TICK)),
    "timer redelivered": lambda f: (SUBMIT, timer_event(TICK)),
    "one upload": lambda f: (SUBMIT, cos_event(keys(1), authorization=FAKE_AUTHORIZATION)),
    "several uploads": lambda f: (SUBMIT, cos_event(keys(3), authorization=FAKE_AUTHORIZATION)),
    "upload that is skipped": lambda f: (SUBMIT,
                                         cos_event(["autopilot/state.png"], authorization=FAKE_AUTHORIZATION)),
    "malformed event": lambda f: (SUBMIT, {"Records": [{"Authorization": FAKE_AUTHORIZATION}]}),
    "report": lambda f: (REPORT, timer_event(TICK)),
    "report on a cos event": lambda f: (REPORT,
                                        cos_event(keys(1), authorization=FAKE_AUTHORIZATION)),
}


@pytest.mark.parametrize("path", sorted(PATHS))
def test_no_path_lets_a_credential_webhook_or_authorization_header_out(function, capsys, path):
    handler, event = PATHS[path](function)
    with responses.RequestsMock() as rsps:
        rsps.add_passthru(re.compile(r"http://[a-z0-9-]+\.(cos|ci)\.ap-guangzhou\.myqcloud\.com/"))  # → emulator proxy
        # the webhook host is refused by the mock: delivery fails, and its error must not show the URL
        texts = run_path(SUBMIT, timer_event(TICK), capsys)  # a job for the report to find
        texts += run_path(handler, event, capsys)
    assert leaked(*texts) == []


@pytest.mark.parametrize(("target", "action"), [("POST", "status"), ("POST", "reset"), ("PUT", "status"),
                                                ("GET", "status")])
def test_failing_calls_let_no_credential_out(function, capsys, target, action):
    function.faults.add(target, r".*", None, action=action, status=503, count=50)
    texts = run_path(SUBMIT, cos_event(keys(2), authorization=FAKE_AUTHORIZATION), capsys)
    texts += run_path(REPORT, timer_event(TICK), capsys)
    assert leaked(*texts) == []


def test_a_bad_signature_error_lets_no_credential_out(function, capsys, monkeypatch):
    monkeypatch.setenv("TENCENTCLOUD_SECRETKEY", FAKE_SECRET_KEY + "wrong")
    texts = run_path(SUBMIT, timer_event(TICK), capsys)
    assert "SignatureDoesNotMatch" in texts[0] and leaked(*texts) == []


# --- safety rails -----------------------------------------------------------------------------------------------
def test_whole_bucket_delete_refuses_with_a_clear_message_and_sends_nothing(function, monkeypatch):
    monkeypatch.setenv("INSPECT_AUTO_PROCESS", "true")
    monkeypatch.setenv("INSPECT_PROCESS_TYPE", "DeleteObject")
    monkeypatch.setenv("ALLOW_IRREVERSIBLE_DELETE", "true")  # the versioning catch acknowledged: this one alone
    with pytest.raises(SafetyError, match="ALLOW_DELETE_WHOLE_BUCKET=true"):
        SUBMIT(timer_event(TICK), {"request_id": "r"})
    assert len(function.request_log) == 0


def test_whole_bucket_delete_refuses_when_a_timer_argument_widens_the_prefix(function, monkeypatch):
    monkeypatch.setenv("INSPECT_AUTO_PROCESS", "true")
    monkeypatch.setenv("INSPECT_PROCESS_TYPE", "DeleteObject")
    monkeypatch.setenv("INPUT_PREFIX", "uploads/")
    with pytest.raises(SafetyError):
        SUBMIT(timer_event(TICK, message='{"INPUT_PREFIX": "/"}'), {"request_id": "r"})
    assert len(function.request_log) == 0


def test_whole_bucket_delete_runs_once_explicitly_allowed(function, monkeypatch):
    monkeypatch.setenv("INSPECT_AUTO_PROCESS", "true")
    monkeypatch.setenv("INSPECT_PROCESS_TYPE", "DeleteObject")
    monkeypatch.setenv("ALLOW_DELETE_WHOLE_BUCKET", "true")
    monkeypatch.setenv("ALLOW_IRREVERSIBLE_DELETE", "true")  # and deletes that cannot be undone
    assert SUBMIT(timer_event(TICK), {"request_id": "r"})["jobs"][0]["created"] is True


@pytest.mark.parametrize("event", [None, timer_event(TICK), cos_event(keys(3), authorization=FAKE_AUTHORIZATION)],
                         ids=["no-event", "timer", "uploads"])
def test_submit_dry_run_sends_nothing(function, tmp_path, event):
    argv = ["submit", "--dry-run", "--json"]
    if event is not None:
        path = tmp_path / "event.json"
        path.write_text(json.dumps(event), encoding="utf-8")
        argv.extend(["--event", str(path)])
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(argv, environ=canary_env(COS_EMULATOR_URL=function.url), stdout=out, stderr=err,
                    clock=lambda: TICK)
    assert code == 0, err.getvalue()
    # A timer rule's dry run reads the bucket to count its window (issue 25); nothing is written or sent.
    assert [f"{r.method} {r.path}" for r in function.request_log if r.method not in ("GET", "HEAD")] == []
    assert "<Name>" in json.loads(out.getvalue())["xml"] and leaked(out.getvalue(), err.getvalue()) == []
