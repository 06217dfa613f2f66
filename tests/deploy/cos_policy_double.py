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
The signature check and the error body are tests/deploy/cos_bucket_double.py's.
"""
from __future__ import annotations

import base64
import hashlib
import json
import uuid
from typing import Any, Dict, List, Optional

from tests.deploy.cos_bucket_double import Answer, FakeCosBucketSubresource
from tests.support.settings import BUCKET

__all__ = ["BUCKET", "FakeCosPolicy"]
EFFECTS = ("allow", "deny")


def _lower(statement: Dict[str, Any]) -> Dict[str, Any]:
    return {k.lower(): v for k, v in statement.items()}


class FakeCosPolicy(FakeCosBucketSubresource):
    """One bucket's policy; `fail` maps a method to (status, code) to answer once."""

    subresource = "policy"

    def __init__(self, stored: Optional[Dict[str, Any]] = None, rewrite_sids: bool = False):
        super().__init__()
        self.stored = stored  # the policy as last PUT (None: no policy)
        self.rewrite_sids = rewrite_sids

    def puts(self) -> List[Dict[str, Any]]:
        return [json.loads(body or "{}") for method, body in self.calls if method == "PUT"]

    def statements(self) -> List[Dict[str, Any]]:
        doc = self.stored or {}
        return [_lower(s) for s in doc.get("Statement", doc.get("statement")) or []]

    def get(self) -> Answer:
        if self.stored is None:
            return self.error(404, "NoSuchPolicy", "The specified policy does not exist")
        return 200, self.headers("application/json"), json.dumps(self._as_read(self.stored))

    def put(self, headers: Dict[str, str], body: str) -> Answer:
        if "content-md5" in headers and headers["content-md5"] != base64.b64encode(
                hashlib.md5(body.encode("utf-8"), usedforsecurity=False).digest()).decode():
            return self.error(400, "BadDigest", "The Content-MD5 you specified did not match what we received")
        if not headers.get("content-type", "").startswith("application/json") or not self._valid(body):
            return self.error(400, "MalformedPolicy", "The policy document is not valid")  # code: inference
        self.stored = json.loads(body)
        return 204, self.headers("application/xml"), ""

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
