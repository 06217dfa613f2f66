"""Where the JSON log lines go: stdout once configured, a stream of the caller's choice for a while."""
from __future__ import annotations

import io
import logging

from lib import logs


def _our_handler() -> logging.StreamHandler:
    logs.configure()
    return next(h for h in logging.getLogger("autopilot").handlers if getattr(h, "_autopilot", False))


def test_lines_sent_to_a_stream_for_a_while_arrive_there_even_after_the_first_stdout_was_closed(monkeypatch):
    """The CLI's `invoke` in a process whose stdout at first configure was a capture that has since closed."""
    handler = _our_handler()
    gone = io.TextIOWrapper(io.BytesIO())  # like pytest's capture: flushing it once closed raises
    monkeypatch.setattr(handler, "stream", gone)
    gone.close()
    here = io.StringIO()
    with logs.sent_to(here):
        logs.log("hello", n=1)
    assert '"hello"' in here.getvalue()
