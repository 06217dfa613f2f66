"""The sized session the report's concurrent reads share (the reads themselves run over the emulator in
tests/emulated/test_report_concurrency.py)."""
from __future__ import annotations

import pytest

from lib.client import sized_session


@pytest.mark.parametrize(("environ", "trusted"), [({}, False), ({"HTTPS_PROXY": "http://proxy.example:3128"}, True)])
def test_the_sized_session_skips_the_proxy_scan_only_when_no_proxy_is_configured(monkeypatch, environ, trusted):
    # requests rescans the environment for proxies on every call when trust_env is on (most of the report's
    # per-call overhead beyond signing); an operator's HTTPS_PROXY must still reach the CLI's report.
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert sized_session(4).trust_env is trusted
