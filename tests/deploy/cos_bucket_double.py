"""What the COS bucket-subresource doubles (`?lifecycle`, `?policy`) share: one bucket, the SDK's signature checked on
every request, a failure to inject once per method, and COS's error body.

- Error body (cloud.tencent.com/document/product/436/7730): `<Error><Code/><Message/><Resource/><RequestId/></Error>`;
  the SDK (qcloud_cos/cos_exception.py digest_xml) needs all four to report the code.
- Signature (qcloud_cos/cos_auth.py): `q-sign-algorithm=sha1&q-ak=...&q-url-param-list=<subresource>...`.
- An unknown SecretId ("403 Error for COS Access", cloud.tencent.com/document/product/436/40105): "If the signature
  uses an incorrect SecretId, COS will return InvalidAccessKeyId" (403).
"""
from __future__ import annotations

import re
import uuid
from typing import Dict, List, Optional, Tuple

import responses

from tests.deploy.scf_double import SECRET_ID
from tests.support.settings import BUCKET

HOST = f"{BUCKET}.cos.ap-guangzhou.myqcloud.com"
Answer = Tuple[int, Dict[str, str], str]


class FakeCosBucketSubresource:
    """GET and PUT of one bucket subresource; `fail` maps a method to (status, code) to answer once."""

    subresource = ""  # set by each double: lifecycle, policy

    def __init__(self) -> None:
        self.calls: List[Tuple[str, Optional[str]]] = []
        self.fail: Dict[str, Tuple[int, str]] = {}

    def register(self, rsps: responses.RequestsMock) -> FakeCosBucketSubresource:
        url = re.compile(rf"https://{re.escape(HOST)}/\?{self.subresource}.*")
        for method in (responses.GET, responses.PUT):
            rsps.add_callback(method, url, callback=self)
        return self

    def __call__(self, request) -> Answer:
        # The SDK passes some header values as bytes (cos_comm.get_md5 returns base64 bytes).
        headers = {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        body = request.body.decode("utf-8") if isinstance(request.body, bytes) else request.body
        self.calls.append((request.method, body))
        auth = headers.get("authorization", "")
        if auth.startswith("q-sign-algorithm=sha1&q-ak=") and not auth.startswith(f"q-sign-algorithm=sha1&q-ak={SECRET_ID}&"):
            return self.error(403, "InvalidAccessKeyId", "The access key Id format you provided is invalid.")
        if not auth.startswith(f"q-sign-algorithm=sha1&q-ak={SECRET_ID}&") or self.subresource not in \
                re.search(r"q-url-param-list=([^&]*)", auth).group(1).split(";"):
            return self.error(403, "AccessDenied", "Request has expired or the signature is missing")
        if request.method in self.fail:
            return self.error(*self.fail.pop(request.method), "Access Denied.")
        return self.get() if request.method == "GET" else self.put(headers, body)

    def get(self) -> Answer:
        raise NotImplementedError

    def put(self, headers: Dict[str, str], body: str) -> Answer:
        raise NotImplementedError

    @staticmethod
    def headers(content_type: str) -> Dict[str, str]:
        return {"Content-Type": content_type, "x-cos-request-id": str(uuid.uuid4())}

    def error(self, status: int, code: str, message: str) -> Answer:
        body = (f"<?xml version='1.0' encoding='utf-8' ?><Error><Code>{code}</Code><Message>{message}</Message>"
                f"<Resource>{HOST}/?{self.subresource}</Resource><RequestId>{uuid.uuid4()}</RequestId>"
                f"<TraceId>trace</TraceId></Error>")
        return status, self.headers("application/xml"), body
