"""XML in and out: safe parsing of request bodies, ordered rendering of responses, CI time formats."""
from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405 - DOCTYPE/ENTITY bodies are refused before parsing
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any, List, Optional, Sequence, Tuple
from xml.sax.saxutils import escape

from .errors import EmulatorError

MAX_XML_BODY = 1024 * 1024
CST = timezone(timedelta(hours=8))
CI_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"


class Raw(str):
    """Already-serialized XML, inserted verbatim (used to echo a request's Input/Operation)."""


Node = Tuple[str, Any]


def parse_body(body: bytes, root: str = "Request") -> ET.Element:
    """Parse a request body; oversized, DOCTYPE-bearing or malformed bodies are 400 MalformedXML.

    Raises:
        EmulatorError: 400 MalformedXML / InvalidArgument.
    """
    if len(body) > MAX_XML_BODY:
        raise EmulatorError(400, "InvalidArgument", f"request body larger than {MAX_XML_BODY} bytes")
    if not body.strip():
        raise EmulatorError(400, "MalformedXML", "request body is empty")
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise EmulatorError(400, "MalformedXML", "DTDs are not allowed")
    try:
        elem = ET.fromstring(body)  # noqa: S314 - DTDs refused above, size capped
    except ET.ParseError as exc:
        raise EmulatorError(400, "MalformedXML", f"the XML body is not well-formed: {exc}") from exc
    if elem.tag != root:
        raise EmulatorError(400, "MalformedXML", f"root element must be <{root}>, got <{elem.tag}>")
    return elem


def text(elem: Optional[ET.Element], path: str) -> Optional[str]:
    """Text of the child at ``path``: None when absent, '' when present but empty."""
    if elem is None:
        return None
    child = elem.find(path)
    if child is None:
        return None
    return (child.text or "").strip()


def raw_of(elem: Optional[ET.Element]) -> str:
    """Serialize an element back to XML (without its tail) for echoing."""
    if elem is None:
        return ""
    tail, elem.tail = elem.tail, None
    try:
        return ET.tostring(elem, encoding="unicode")
    finally:
        elem.tail = tail


def _render(nodes: Sequence[Node], out: List[str]) -> None:
    # escape() leaves control characters and CR raw: a key XML 1.0 cannot carry makes the body not well-formed,
    # as we infer CI's does (docs/emulator.md fidelity table); the client must read it anyway.
    for tag, value in nodes:
        if value is None:
            out.append(f"<{tag}/>")
        elif isinstance(value, Raw):
            out.append(value)
        elif isinstance(value, (list, tuple)):
            out.append(f"<{tag}>")
            _render(value, out)
            out.append(f"</{tag}>")
        else:
            if isinstance(value, bool):
                value = "true" if value else "false"
            out.append(f"<{tag}>{escape(str(value))}</{tag}>")


def render(root: str, nodes: Sequence[Node]) -> bytes:
    """Render ``[(tag, value), ...]`` under ``root``; value None → ``<tag/>``, list → nested, Raw → verbatim."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n']
    _render([(root, list(nodes))], out)
    return "".join(out).encode("utf-8")


def ci_time(value: Optional[datetime]) -> str:
    """CI's time format, in China Standard Time; ``-`` for a time not reached yet."""
    if value is None:
        return "-"
    return value.astimezone(CST).strftime("%Y-%m-%dT%H:%M:%S+0800")


def parse_ci_time(value: str, field: str) -> datetime:
    """Parse ``%Y-%m-%dT%H:%M:%S%z`` (e.g. ``2023-05-01T00:00:00+0800``) into an aware UTC datetime.

    Raises:
        EmulatorError: 400 InvalidArgument on any other format.
    """
    try:
        parsed = datetime.strptime(value, CI_TIME_FORMAT)
    except ValueError as exc:
        raise EmulatorError(400, "InvalidArgument",
                            f"{field} must look like 2022-02-01T12:00:00+0800, got {value!r}") from exc
    return parsed.astimezone(timezone.utc)


def http_date(value: datetime) -> str:
    """RFC 7231 date, as in Last-Modified."""
    return format_datetime(value.astimezone(timezone.utc), usegmt=True)


def iso_z(value: datetime) -> str:
    """ISO 8601 with milliseconds and Z, as in ListBucketResult's LastModified."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
