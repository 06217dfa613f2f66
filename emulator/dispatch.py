"""Routing: service from the Host header, then (method, path pattern, query flag) → an action; errors → XML once."""
from __future__ import annotations

import base64
import ipaddress
import logging
import re
import uuid
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Tuple
from urllib.parse import parse_qsl, unquote, urlsplit

from .auth import SignatureVerifier
from .errors import EmulatorError, ci_auth_error

logger = logging.getLogger(__name__)
HOST_RE = re.compile(r"^(?P<bucket>[a-z0-9][a-z0-9-]*)\.(?P<service>cos|ci)\.(?P<region>[a-z0-9-]+)\.myqcloud\.com$")
CONTROL_PREFIX = "/_emulator/"
# COS sub-resources: a query name that selects another API on the same path (the names qcloud_cos/cos_client.py
# sends, read 2026-12-01). A request naming one that no route serves is 501, never the plain object or bucket
# API; every other unknown parameter is ignored, as COS and CI ignore them (the SDK's ut/test.py sends
# response-cache-control on every CI call, and test_use_get_auth sends ?acl&unsed=123, all passing on the service).
COS_SUBRESOURCES = frozenset((
    "acl", "append", "cors", "delete", "domain", "domaincertificate", "encryption", "imageInspect",
    "intelligenttiering", "inventory", "lifecycle", "live", "location", "logging", "object-lock", "origin",
    "policy", "referer", "replication", "restore", "select", "style", "symlink", "tagging", "uploads",
    "uploadId", "partNumber", "versioning", "versions", "vod", "website", "ci-process", "imageMogr2"))


@dataclass
class Request:
    """One HTTP request, as the actions see it. ``path`` is percent-decoded, ``query`` keeps every pair."""

    method: str
    service: str
    bucket: str
    region: str
    host: str
    path: str
    query: List[Tuple[str, str]]
    headers: Mapping[str, str]
    body: bytes
    client_ip: str
    request_id: str = field(default_factory=lambda: base64.b64encode(uuid.uuid4().hex[:24].encode()).decode())
    trace_id: str = field(default_factory=lambda: uuid.uuid4().hex * 2)

    @property
    def params(self) -> Dict[str, str]:
        """First value of each query parameter."""
        out: Dict[str, str] = {}
        for name, value in self.query:
            out.setdefault(name, value)
        return out

    @property
    def key(self) -> str:
        """The object key (COS object routes): the path without its leading slash."""
        return self.path[1:]

    def header(self, name: str, default: Optional[str] = None) -> Optional[str]:
        value = self.headers.get(name)
        return default if value is None else value


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: Dict[str, str] = field(default_factory=dict)
    content_type: Optional[str] = "application/xml"


def xml_response(body: bytes, status: int = 200, headers: Optional[Dict[str, str]] = None) -> Response:
    return Response(status=status, body=body, headers=dict(headers or {}))


@dataclass
class Route:
    service: str
    method: str
    pattern: re.Pattern[str]
    action: Callable[..., Response]
    flag: Optional[Tuple[str, Optional[str]]] = None

    def matches(self, request: Request) -> Optional[Dict[str, str]]:
        if self.service != request.service or self.method != request.method:
            return None
        match = self.pattern.match(request.path)
        if match is None:
            return None
        if self.flag is not None:
            name, value = self.flag
            params = request.params
            if name not in params or (value is not None and params[name] != value):
                return None
        if self.service == "cos" and self._other_subresource(request):
            return None
        return {k: v for k, v in match.groupdict().items()}

    def _other_subresource(self, request: Request) -> bool:
        own = self.flag[0] if self.flag is not None else None
        return any(name in COS_SUBRESOURCES and name != own for name, _ in request.query)


def route(service: str, method: str, path: str, action: Callable[..., Response],
          flag: Optional[Tuple[str, Optional[str]]] = None) -> Route:
    return Route(service, method, re.compile(path + r"\Z", re.S), action, flag)


def is_loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


class Dispatcher:
    """Turns raw request parts into a :class:`Request`, checks the signature and calls the matching action."""

    def __init__(self, routes: List[Route], verifier: SignatureVerifier,
                 control_routes: Optional[List[Route]] = None):
        self.routes = routes
        self.control_routes = control_routes or []
        self.verifier = verifier

    def parse(self, method: str, target: str, headers: Mapping[str, str], body: bytes, client_ip: str) -> Request:
        """Build a Request from the request line's target (origin- or absolute-form) and the Host header."""
        parts = urlsplit(target)
        host_header = headers.get("Host") or parts.netloc or ""
        hostname = host_header.rsplit(":", 1)[0] if not host_header.startswith("[") else host_header
        hostname = hostname.lower()
        raw_path = parts.path or "/"
        path = unquote(raw_path)
        query = parse_qsl(parts.query, keep_blank_values=True)
        match = HOST_RE.match(hostname)
        if path.startswith(CONTROL_PREFIX):
            service, bucket, region = "control", "", ""
        elif match is None:
            service, bucket, region = "unknown", "", ""
        else:
            service, bucket, region = match.group("service"), match.group("bucket"), match.group("region")
        return Request(method=method.upper(), service=service, bucket=bucket, region=region, host=hostname,
                       path=path, query=query, headers=headers, body=body, client_ip=client_ip)

    def handle(self, request: Request) -> Response:
        """Run the request; every failure becomes the service's error XML with the right status."""
        try:
            response = self._handle(request)
        except EmulatorError as exc:
            response = self.error_response(request, exc)
        except Exception as exc:  # a bug in an action: answer like the service would, and keep serving
            logger.exception("action failed: %s %s", request.method, request.path)
            response = self.error_response(request, EmulatorError(500, "InternalError", repr(exc)))
        id_header = "x-ci-request-id" if request.service == "ci" else "x-cos-request-id"
        response.headers.setdefault(id_header, request.request_id)
        if request.service != "ci":
            response.headers.setdefault("x-cos-trace-id", request.trace_id)
        return response

    def error_response(self, request: Request, exc: EmulatorError) -> Response:
        body = exc.to_xml(request.service, request.request_id, request.trace_id,
                          resource=f"{request.host}{request.path}")
        headers = {}
        if request.method == "HEAD":
            body = b""
        return Response(status=exc.status, body=body, headers=headers)

    def _handle(self, request: Request) -> Response:
        if request.service == "control":
            if not is_loopback(request.client_ip):
                raise EmulatorError(403, "AccessDenied", "control endpoints are served to loopback clients only")
            return self._call(self.control_routes, request)
        if request.service == "unknown":
            raise EmulatorError(400, "InvalidHost",
                                f"Host {request.host!r} is not <bucket>.cos|ci.<region>.myqcloud.com; "
                                "point the SDK at the emulator with Proxies, not Domain/Endpoint")
        try:
            self.verifier.verify(request.method, request.path, request.query, request.headers, request.host)
        except EmulatorError as exc:
            if request.service == "ci":
                raise ci_auth_error(exc) from None
            raise
        return self._call(self.routes, request)

    @staticmethod
    def _call(routes: List[Route], request: Request) -> Response:
        for candidate in routes:
            groups = candidate.matches(request)
            if groups is None:
                continue
            return candidate.action(request, **groups)
        flags = "&".join(n for n, _ in request.query)
        raise EmulatorError(501, "NotImplemented", f"not emulated: {request.service} {request.method} "
                                                   f"{request.path}{'?' + flags if flags else ''}")
