"""A COS double for GET/PUT Bucket policy, answering as COS's API pages document (read 2026-12-07).

- PUT Bucket policy (cloud.tencent.com/document/api/436/8282): `PUT /?policy`, Content-Type application/json, a JSON
  body `{"Statement": [{"Principal": {"qcs": [...]}, "Effect": "allow"|"deny", "Action": [...], "Resource": [...]}],
  "version": "2.0"}`; it replaces the whole policy and answers 204. The page's sample request carries Content-MD5:
  checked when sent (the official SDK's put_bucket_policy sends none of its own).
- GET Bucket policy (436/8276): the policy JSON back. A bucket without one answers 404 NoSuchPolicy (documented on the
  GET Bucket Policy page of the same API family, 436/139792).
- COS adds a Sid to statements that have none (terraform-provider-tencentcloud resource_tc_cos_bucket_policy.go
  removeSid, "the SDK automatically adds the Sid"); with `rewrite_sids` the double replaces every Sid, the worst case
  (inference: whether COS keeps a Sid it was given is not published).
- Error body (436/7730): `<Error><Code/><Message/><Resource/><RequestId/></Error>`.
Every request must carry the SDK's signature with `policy` in q-url-param-list (qcloud_cos/cos_auth.py).
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from typing import Any, Dict, List, Optional, Tuple

import responses

from tests.deploy.scf_double import SECRET_ID

BUCKET = "examplebucket-1250000000"
HOST = f"{BUCKET}.cos.ap-guangzhou.myqcloud.com"
URL = re.compile(rf"https://{re.escape(HOST)}/\?policy.*")
EFFECTS = ("allow", "deny")


def _lower(statement: Dict[str, Any]) -> Dict[str, Any]:
    return {k.lower(): v for k, v in statement.items()}


class FakeCosPolicy:
    """One bucket's policy; `fail` maps a method to (status, code) to answer once."""

    def __init__(self, stored: Optional[Dict[str, Any]] = None, rewrite_sids: bool = False):
        self.stored = stored  # the policy as last PUT (None: no policy)
        self.rewrite_sids = rewrite_sids
        self.calls: List[Tuple[str, Optional[str]]] = []
        self.fail: Dict[str, Tuple[int, str]] = {}

    def register(self, rsps: responses.RequestsMock) -> FakeCosPolicy:
        for method in (responses.GET, responses.PUT):
            rsps.add_callback(method, URL, callback=self)
        return self

    def puts(self) -> List[Dict[str, Any]]:
        return [json.loads(body or "{}") for method, body in self.calls if method == "PUT"]

    def statements(self) -> List[Dict[str, Any]]:
        doc = self.stored or {}
        return [_lower(s) for s in doc.get("Statement", doc.get("statement")) or []]

    def __call__(self, request) -> Tuple[int, Dict[str, str], str]:
        headers = {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        body = request.body.decode("utf-8") if isinstance(request.body, bytes) else request.body
        self.calls.append((request.method, body))
        auth = headers.get("authorization", "")
        if not auth.startswith(f"q-sign-algorithm=sha1&q-ak={SECRET_ID}&") or "policy" not in \
                re.search(r"q-url-param-list=([^&]*)", auth).group(1).split(";"):
            return self._error(403, "AccessDenied", "Request has expired or the signature is missing")
        if request.method in self.fail:
            return self._error(*self.fail.pop(request.method), "Access Denied.")
        if request.method == "GET":
            if self.stored is None:
                return self._error(404, "NoSuchPolicy", "The specified policy does not exist")
            return 200, self._headers("application/json"), json.dumps(self._as_read(self.stored))
        if "content-md5" in headers and headers["content-md5"] != base64.b64encode(
                hashlib.md5(body.encode("utf-8"), usedforsecurity=False).digest()).decode():
            return self._error(400, "BadDigest", "The Content-MD5 you specified did not match what we received")
        if not headers.get("content-type", "").startswith("application/json") or not self._valid(body):
            return self._error(400, "MalformedPolicy", "The policy document is not valid")  # code: inference
        self.stored = json.loads(body)
        return 204, self._headers("application/xml"), ""

    def _as_read(self, document: Dict[str, Any]) -> Dict[str, Any]:
        doc = json.loads(json.dumps(document))
        for n, statement in enumerate(doc.get("Statement", doc.get("statement")) or []):
            key = next((k for k in statement if k.lower() == "sid"), "Sid")
            if self.rewrite_sids or key not in statement:
                statement[key] = f"costs-{n + 1}-{uuid.uuid4().hex[:8]}"
        return doc

    @staticmethod
    def _valid(body: str) -> bool:
        try:
            doc = json.loads(body)
        except ValueError:
            return False
        statements = doc.get("Statement", doc.get("statement")) if isinstance(doc, dict) else None
        if not isinstance(statements, list) or not statements:
            return False
        for raw in statements:
            s = _lower(raw)
            if str(s.get("effect", "")).lower() not in EFFECTS or not s.get("action") or not s.get("resource") \
                    or not (s.get("principal") or {}).get("qcs"):
                return False
        return True

    @staticmethod
    def _headers(content_type: str) -> Dict[str, str]:
        return {"Content-Type": content_type, "x-cos-request-id": str(uuid.uuid4())}

    def _error(self, status: int, code: str, message: str) -> Tuple[int, Dict[str, str], str]:
        body = (f"<?xml version='1.0' encoding='utf-8' ?><Error><Code>{code}</Code><Message>{message}</Message>"
                f"<Resource>{HOST}/?policy</Resource><RequestId>{uuid.uuid4()}</RequestId>"
                f"<TraceId>trace</TraceId></Error>")
        return status, self._headers("application/xml"), body
