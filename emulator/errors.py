"""The one error type the emulator raises, and its serialization into COS / CI error XML."""
from __future__ import annotations

from typing import Optional
from xml.sax.saxutils import escape


class EmulatorError(Exception):
    """An API error: HTTP status, service error code and message, serialized once by the dispatcher."""

    def __init__(self, status: int, code: str, message: str, resource: Optional[str] = None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.resource = resource

    def to_xml(self, service: str, request_id: str, trace_id: str, resource: str = "") -> bytes:
        """Render the documented error body: CI has no ``<Resource>``, COS has one."""
        parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<Error>',
                 f"<Code>{escape(self.code)}</Code>",
                 f"<Message>{escape(self.message)}</Message>"]
        if service != "ci":
            parts.append(f"<Resource>{escape(self.resource or resource)}</Resource>")
        parts.append(f"<RequestId>{escape(request_id)}</RequestId>")
        parts.append(f"<TraceId>{escape(trace_id)}</TraceId>")
        parts.append("</Error>")
        return "".join(parts).encode("utf-8")


def invalid_argument(message: str) -> EmulatorError:
    """400 InvalidArgument, the CI service's answer to a bad request field."""
    return EmulatorError(400, "InvalidArgument", message)


def no_such_bucket(bucket: str) -> EmulatorError:
    return EmulatorError(404, "NoSuchBucket", "The specified bucket does not exist.", resource=bucket)


def no_such_key(key: str) -> EmulatorError:
    return EmulatorError(404, "NoSuchKey", "The specified key does not exist.", resource=key)


def ci_auth_error(exc: EmulatorError) -> EmulatorError:
    """The CI form of a COS 403 authentication failure: 401, as issue 13 reads CI's error-code page
    (https://cloud.tencent.com.cn/document/product/436/53983, intl 1045/43611). The excerpts read on 2026-12-01 stop
    after the 400s, so the code names are COS's (inference; docs/emulator.md lists them as unknown)."""
    return EmulatorError(401, exc.code, exc.message, resource=exc.resource)
