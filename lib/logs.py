"""Structured logs: one JSON object per line (CLS indexes them), carrying ids and decisions, never secrets."""
from __future__ import annotations

import json
import logging
import re
import sys
from contextlib import contextmanager
from typing import IO, Any, FrozenSet, Iterable, Iterator, Optional, Tuple
from urllib.parse import quote, quote_plus, urlsplit

_LOGGER = logging.getLogger("autopilot")
# The current invocation's secrets in every form they may be echoed in, longest first (keep_secrets computes them
# once per invocation); every line is scrubbed of them.
_FORMS: Tuple[str, ...] = ()
MIN_SECRET = 8  # shorter parts of a URL (`send`, `key`, `/`) are words, not secrets
REDACTED = "<redacted>"


def configure(level: Optional[int] = None) -> None:
    """Send our JSON lines to stdout once per container (SCF ships stdout to the function's logs).

    Without a level, INFO on first use and whatever a caller (the demo, the CLI) chose afterwards."""
    ours = [h for h in _LOGGER.handlers if getattr(h, "_autopilot", False)]
    if ours:
        if getattr(ours[0].stream, "closed", False):
            # The stdout it was given is gone (a test's capture, an in-process CLI's redirect); SCF's never closes.
            # Assigned, not setStream(): that flushes the closed stream first, which raises.
            ours[0].stream = sys.stdout
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


# JSON (RFC 8259 §7) escapes C0 controls but leaves DEL, C1, U+2028/9 and the bidi overrides raw, and a log line or a
# `--json` document is read in a terminal too.
_JSON_RAW = re.compile("[\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def json_text(text: str) -> str:
    """A JSON document (json.dumps output) with what a terminal acts on written as `\\uXXXX`: the same JSON value."""
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def url_secrets(url: Optional[str]) -> FrozenSet[str]:
    """A secret URL's parts that carry its key: the URL; each query value (WeCom `key=`, DingTalk `access_token=`)
    and each path segment that looks like a token (Feishu's hook id, Slack's T.../B.../token), with the path and
    query around them. Plain words (`services`, `open-apis`, a path named `autopilot`) stay: they are in keys too."""
    if not url:
        return frozenset()
    parts = urlsplit(url)
    segments = {s for s in parts.path.split("/") if _looks_secret(s)}
    values = {pair.partition("=")[2] for pair in re.split(r"[&;]", parts.query)}
    values = {v for v in values if len(v) >= MIN_SECRET}
    # A server that decodes '+' or splits on '/' echoes a base64 token in pieces.
    pieces = {p for v in values for p in re.split(r"[/+= ]", v) if _looks_secret(p)}
    found = {url} | segments | values | pieces
    if segments or values:
        found |= {parts.path + ("?" + parts.query if parts.query else ""), parts.query if values else ""}
    if segments:
        found.add(parts.path)
    return frozenset(p for p in found if p)


def _looks_secret(part: str) -> bool:
    return len(part) >= 16 or (len(part) >= MIN_SECRET and any(c.isdigit() for c in part))


def echoed_forms(secret: str) -> FrozenSet[str]:
    """How a secret may come back in an error, a log or an answer body: as is, percent-encoded (either hex case,
    `+` for spaces), percent-encoded twice, and JSON-escaped (with `/` as `\\/`). Base64 is left out: nothing we
    send carries a secret base64-encoded (a URL's user:password is refused in lib.config)."""
    once = quote(secret, safe="")
    forms = {secret, once, once.lower(), quote(secret, safe="/"), quote_plus(secret), quote(once, safe=""),
             json.dumps(secret)[1:-1], json.dumps(secret)[1:-1].replace("/", "\\/")}
    forms |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), f) for f in set(forms)}
    return frozenset(f for f in forms if f)


def _forms_of(secrets: Iterable[str]) -> Tuple[str, ...]:
    return tuple(sorted({f for s in secrets if s for f in echoed_forms(s)}, key=len, reverse=True))


def _replace_all(text: str, forms: Tuple[str, ...]) -> str:
    for form in forms:
        if form in text:
            text = text.replace(form, REDACTED)
    return text


def scrub(text: str, secrets: Iterable[str]) -> str:
    """text with every echoed form of each secret replaced by <redacted>, longest first."""
    return _replace_all(text, _forms_of(secrets))


def keep_secrets(*values: Optional[str], urls: Iterable[Optional[str]] = ()) -> None:
    """This invocation's secrets (credentials and the webhook URL): no line we log carries them in any form."""
    global _FORMS
    found = {v for v in values if v and len(v) >= MIN_SECRET}
    for url in urls:
        found |= url_secrets(url)
    _FORMS = _forms_of(found)


def scrubbed(text: str) -> str:
    """text without the secrets keep_secrets registered."""
    return _replace_all(text, _FORMS) if _FORMS else text


def log(event: str, **fields: Any) -> None:
    """Log one decision; callers pass ids, keys and reasons only."""
    _LOGGER.info(scrubbed(json_text(json.dumps({"event": event, **fields}, ensure_ascii=False, default=str,
                                               sort_keys=False))))


def log_error(event: str, error: BaseException, **fields: Any) -> None:
    _LOGGER.error(scrubbed(json_text(json.dumps({"event": event, "error": type(error).__name__,
                                                 "message": str(error), **fields}, ensure_ascii=False, default=str))))
