"""A COS double for GET/PUT Bucket lifecycle, answering as COS's API pages document (read 2026-12-01).

- PUT Bucket lifecycle (cloud.tencent.com/document/api/436/8280: action cos:PutBucketLifecycle, at most 1000 rules):
  `PUT /?lifecycle`, Content-MD5 required, body `<LifecycleConfiguration><Rule><ID/><Filter><Prefix/></Filter>
  <Status/><Expiration><Days/></Expiration></Rule>...`; it replaces the whole configuration.
- GET Bucket lifecycle (intl.cloud.tencent.com/document/product/436/8278): the same XML back, or
  NoSuchLifecycleConfiguration (404) when the bucket has none.
- Error body (cloud.tencent.com/document/product/436/7730): `<Error><Code/><Message/><Resource/><RequestId/></Error>`;
  the SDK (qcloud_cos/cos_exception.py digest_xml) needs all four to report the code.
Every request must carry the SDK's signature (qcloud_cos/cos_auth.py: q-sign-algorithm=sha1&q-ak=...&
q-url-param-list=lifecycle...), and a PUT the Content-MD5 of its body.
"""
from __future__ import annotations

import base64
import hashlib
import re
import uuid
import xml.etree.ElementTree as ET
from typing import Any, Dict, List, Optional, Tuple

import responses

from tests.deploy.scf_double import SECRET_ID

BUCKET = "examplebucket-1250000000"
HOST = f"{BUCKET}.cos.ap-guangzhou.myqcloud.com"
URL = re.compile(rf"https://{re.escape(HOST)}/\?lifecycle.*")


def canonical(element: ET.Element) -> Tuple[Any, ...]:
    """An element's meaning: tag, stripped text and children, ignoring child order and whitespace."""
    return (element.tag, (element.text or "").strip(), tuple(sorted(canonical(c) for c in element)))


def rules_of(xml_text: str) -> List[ET.Element]:
    """The Rule elements, tags without their namespace (COS may send xmlns; the SDK strips it)."""
    root = ET.fromstring(xml_text)
    for element in root.iter():
        element.tag = element.tag.rpartition("}")[2]
    return list(root.iter("Rule"))


class FakeCosLifecycle:
    """One bucket's lifecycle configuration; `fail` maps a method to (status, code) to answer once."""

    def __init__(self, stored: Optional[str] = None):
        self.stored = stored  # the configuration XML as last PUT (None: no configuration)
        self.calls: List[Tuple[str, Optional[str]]] = []
        self.fail: Dict[str, Tuple[int, str]] = {}

    def register(self, rsps: responses.RequestsMock) -> FakeCosLifecycle:
        for method in (responses.GET, responses.PUT):
            rsps.add_callback(method, URL, callback=self)
        return self

    def puts(self) -> List[str]:
        return [body or "" for method, body in self.calls if method == "PUT"]

    def rule(self, rule_id: str) -> Optional[ET.Element]:
        return next((r for r in rules_of(self.stored or "<LifecycleConfiguration/>") if r.findtext("ID") == rule_id),
                    None)

    def __call__(self, request) -> Tuple[int, Dict[str, str], str]:
        # The SDK passes some header values as bytes (cos_comm.get_md5 returns base64 bytes).
        headers = {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        body = request.body.decode("utf-8") if isinstance(request.body, bytes) else request.body
        self.calls.append((request.method, body))
        auth = headers.get("authorization", "")
        if not auth.startswith(f"q-sign-algorithm=sha1&q-ak={SECRET_ID}&") or "lifecycle" not in \
                re.search(r"q-url-param-list=([^&]*)", auth).group(1).split(";"):
            return self._error(403, "AccessDenied", "Request has expired or the signature is missing")
        if request.method in self.fail:
            return self._error(*self.fail.pop(request.method), "Access Denied.")
        if request.method == "GET":
            if self.stored is None:
                return self._error(404, "NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist")
            return 200, self._headers("application/xml"), self.stored
        digest = base64.b64encode(hashlib.md5(body.encode("utf-8")).digest()).decode()
        if headers.get("content-md5") != digest:
            return self._error(400, "InvalidDigest", "The Content-MD5 you specified is not valid")
        root = ET.fromstring(body)
        if root.tag != "LifecycleConfiguration" or not 1 <= len(rules_of(body)) <= 1000 or any(
                r.findtext("ID") is None or r.findtext("Status") not in ("Enabled", "Disabled") for r in rules_of(body)):
            return self._error(400, "MalformedXML", "The XML you provided was not well-formed")
        self.stored = body
        return 200, self._headers("application/xml"), ""

    @staticmethod
    def _headers(content_type: str) -> Dict[str, str]:
        return {"Content-Type": content_type, "x-cos-request-id": str(uuid.uuid4())}

    def _error(self, status: int, code: str, message: str) -> Tuple[int, Dict[str, str], str]:
        body = (f"<?xml version='1.0' encoding='utf-8' ?><Error><Code>{code}</Code><Message>{message}</Message>"
                f"<Resource>{HOST}/?lifecycle</Resource><RequestId>{uuid.uuid4()}</RequestId>"
                f"<TraceId>trace</TraceId></Error>")
        return status, self._headers("application/xml"), body
