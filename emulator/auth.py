"""Verification of COS V5 ``q-sign-algorithm=sha1`` request signatures (reference §7)."""
from __future__ import annotations

import hashlib
import hmac
import time
from typing import Callable, Dict, List, Mapping, Optional, Tuple
from urllib.parse import quote

from .errors import EmulatorError

TOKEN_NAMES = ("x-cos-security-token", "x-ci-security-token")
REQUIRED_FIELDS = ("q-sign-algorithm", "q-ak", "q-sign-time", "q-key-time", "q-header-list",
                   "q-url-param-list", "q-signature")


def _denied(code: str, message: str) -> EmulatorError:
    return EmulatorError(403, code, message)


def _quote(value: str) -> str:
    return quote(value.encode("utf-8"), "-_.~")


def _parse_authorization(value: str) -> Dict[str, str]:
    fields: Dict[str, str] = {}
    for part in value.split("&"):
        name, sep, val = part.partition("=")
        if sep:
            fields[name.strip()] = val.strip()
    return fields


def _parse_window(value: str) -> Tuple[int, int]:
    start, sep, end = value.partition(";")
    if not sep:
        raise ValueError(value)
    return int(start), int(end)


def string_to_sign(method: str, path: str, params: Mapping[str, str], headers: Mapping[str, str],
                   sign_time: str) -> str:
    """Build StringToSign from already-selected, lower-cased params and headers (raw values)."""
    fmt_params = "&".join(f"{k}={_quote(v)}" for k, v in sorted(params.items()))
    fmt_headers = "&".join(f"{k}={_quote(v)}" for k, v in sorted(headers.items()))
    format_string = f"{method.lower()}\n{path}\n{fmt_params}\n{fmt_headers}\n"
    digest = hashlib.sha1(format_string.encode("utf-8")).hexdigest()  # noqa: S324 - the protocol's hash
    return f"sha1\n{sign_time}\n{digest}\n"


def sign(secret_key: str, key_time: str, to_sign: str) -> str:
    sign_key = hmac.new(secret_key.encode("utf-8"), key_time.encode("utf-8"), hashlib.sha1).hexdigest()
    return hmac.new(sign_key.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha1).hexdigest()


class SignatureVerifier:
    """Checks a request's Authorization header against one configured key pair (and optional token)."""

    def __init__(self, secret_id: str, secret_key: str, token: Optional[str] = None,
                 now: Callable[[], float] = time.time):
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.token = token
        self.now = now

    def verify(self, method: str, path: str, query: List[Tuple[str, str]], headers: Mapping[str, str],
               host: str) -> None:
        """Verify a request. ``path`` is the decoded path, ``query`` the decoded (name, value) pairs,
        ``headers`` is case-insensitive, ``host`` the Host header's hostname.

        Raises:
            EmulatorError: 403 AccessDenied / InvalidAccessKeyId / SignatureDoesNotMatch /
                RequestTimeTooSkewed / InvalidToken.
        """
        authorization = headers.get("Authorization") or ""
        presigned = not authorization and any(name == "q-signature" for name, _ in query)
        if presigned:
            # a presigned URL carries the same fields in its query string (COS "请求签名" page,
            # https://cloud.tencent.com/document/product/436/7778; the SDK's get_presigned_url, read 2026-12-01)
            fields = {name: value for name, value in query if name in REQUIRED_FIELDS}
        elif not authorization:
            raise _denied("AccessDenied", "Access Denied: the request carries no Authorization header.")
        else:
            fields = _parse_authorization(authorization)
        missing = [f for f in REQUIRED_FIELDS if f not in fields]
        if missing:
            raise _denied("AccessDenied", f"Authorization lacks {', '.join(missing)}.")
        if fields["q-sign-algorithm"].lower() != "sha1":
            raise _denied("AccessDenied", "q-sign-algorithm must be sha1.")
        if fields["q-ak"] != self.secret_id:
            raise _denied("InvalidAccessKeyId", "The access key Id format you provided is invalid.")
        try:
            start, end = _parse_window(fields["q-sign-time"])
            _parse_window(fields["q-key-time"])
        except ValueError as exc:
            raise _denied("AccessDenied", "q-sign-time / q-key-time are malformed.") from exc
        now = int(self.now())
        if now < start:
            raise _denied("RequestTimeTooSkewed", "The difference between the request time and the "
                                                  "server's time is too large.")
        if now > end:
            raise _denied("AccessDenied", "Request has expired")

        lower_query: Dict[str, str] = {}
        for name, value in query:
            lower_query.setdefault(_quote(name).lower(), value)
        signed_params: Dict[str, str] = {}
        for name in filter(None, fields["q-url-param-list"].split(";")):
            if name not in lower_query:
                raise _denied("SignatureDoesNotMatch", f"signed parameter {name} is not in the request.")
            signed_params[name] = lower_query[name]

        signed_headers: Dict[str, str] = {}
        for name in filter(None, fields["q-header-list"].split(";")):
            value = host if name == "host" else headers.get(name)
            if value is None:
                raise _denied("SignatureDoesNotMatch", f"signed header {name} is not in the request.")
            signed_headers[name] = value

        expected = sign(self.secret_key, fields["q-key-time"],
                        string_to_sign(method, path, signed_params, signed_headers, fields["q-sign-time"]))
        if not hmac.compare_digest(expected, fields["q-signature"].lower()):
            raise _denied("SignatureDoesNotMatch",
                          "The request signature we calculated does not match the signature you provided.")

        if self.token is not None:
            self._verify_token(headers, lower_query, signed_headers)

    def _verify_token(self, headers: Mapping[str, str], query: Mapping[str, str],
                      signed_headers: Mapping[str, str]) -> None:
        """A header token must be signed; a presigned URL's ``x-cos-security-token`` parameter need not be."""
        name = next((n for n in TOKEN_NAMES if headers.get(n)), None)
        if name is not None and name not in signed_headers:
            raise _denied("SignatureDoesNotMatch", f"{name} must be signed.")
        sent = headers.get(name) if name is not None else next((query[n] for n in TOKEN_NAMES if query.get(n)), None)
        if sent is None:
            raise _denied("AccessDenied", "The security token is missing.")
        if not hmac.compare_digest(sent, self.token or ""):
            raise _denied("InvalidToken", "The provided token is malformed or otherwise invalid.")
