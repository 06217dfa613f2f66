"""Structured logs: one JSON object per line (CLS indexes them), carrying ids and decisions, never secrets."""
from __future__ import annotations

import json
import logging
import sys
from contextlib import contextmanager
from typing import IO, Any, Iterator, Optional

_LOGGER = logging.getLogger("autopilot")


def configure(level: Optional[int] = None) -> None:
    """Send our JSON lines to stdout once per container (SCF ships stdout to the function's logs).

    Without a level, INFO on first use and whatever a caller (the demo, the CLI) chose afterwards."""
    if any(getattr(h, "_autopilot", False) for h in _LOGGER.handlers):
        if level is not None:
            _LOGGER.setLevel(level)
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler._autopilot = True  # type: ignore[attr-defined]
    _LOGGER.addHandler(handler)
    _LOGGER.propagate = False
    _LOGGER.setLevel(logging.INFO if level is None else level)
    # The SDK logs expected 404s at ERROR and request headers at INFO; we translate its errors ourselves.
    logging.getLogger("qcloud_cos").setLevel(logging.CRITICAL)


@contextmanager
def sent_to(stream: IO[str]) -> Iterator[None]:
    """Write our JSON lines to `stream` for a while: the CLI keeps stdout for its one result document."""
    configure()
    handler = next(h for h in _LOGGER.handlers if getattr(h, "_autopilot", False))
    previous = handler.setStream(stream)
    try:
        yield
    finally:
        if previous is not None:  # None: it was writing to `stream` already
            handler.setStream(previous)


def log(event: str, **fields: Any) -> None:
    """Log one decision; callers pass ids, keys and reasons only."""
    _LOGGER.info(json.dumps({"event": event, **fields}, ensure_ascii=False, default=str, sort_keys=False))


def log_error(event: str, error: BaseException, **fields: Any) -> None:
    _LOGGER.error(json.dumps({"event": event, "error": type(error).__name__, "message": str(error), **fields},
                             ensure_ascii=False, default=str))
