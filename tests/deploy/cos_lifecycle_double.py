"""A COS double for GET/PUT Bucket lifecycle, answering as COS's API pages document (read 2026-12-01).

- PUT Bucket lifecycle (cloud.tencent.com/document/api/436/8280: action cos:PutBucketLifecycle, at most 1000 rules):
  `PUT /?lifecycle`, Content-MD5 required, body `<LifecycleConfiguration><Rule><ID/><Filter><Prefix/></Filter>
  <Status/><Expiration><Days/></Expiration></Rule>...`; it replaces the whole configuration.
- GET Bucket lifecycle (intl.cloud.tencent.com/document/product/436/8278): the same XML back, or
  NoSuchLifecycleConfiguration (404) when the bucket has none.
A PUT must carry the Content-MD5 of its body; the signature and error body are tests/deploy/cos_bucket_double.py's.
"""
from __future__ import annotations

import base64
import hashlib
import xml.etree.ElementTree as ET
from typing import Any, Dict, List, Optional, Tuple

from tests.deploy.cos_bucket_double import Answer, FakeCosBucketSubresource
from tests.support.settings import BUCKET

__all__ = ["BUCKET", "FakeCosLifecycle", "canonical", "rules_of"]


def canonical(element: ET.Element) -> Tuple[Any, ...]:
    """An element's meaning: tag, stripped text and children, ignoring child order and whitespace."""
    return (element.tag, (element.text or "").strip(), tuple(sorted(canonical(c) for c in element)))


def rules_of(xml_text: str) -> List[ET.Element]:
    """The Rule elements, tags without their namespace (COS may send xmlns; the SDK strips it)."""
    root = ET.fromstring(xml_text)
    for element in root.iter():
        element.tag = element.tag.rpartition("}")[2]
    return list(root.iter("Rule"))


class FakeCosLifecycle(FakeCosBucketSubresource):
    """One bucket's lifecycle configuration; `fail` maps a method to (status, code) to answer once."""

    subresource = "lifecycle"

    def __init__(self, stored: Optional[str] = None):
        super().__init__()
        self.stored = stored  # the configuration XML as last PUT (None: no configuration)

    def puts(self) -> List[str]:
        return [body or "" for method, body in self.calls if method == "PUT"]

    def rule(self, rule_id: str) -> Optional[ET.Element]:
        return next((r for r in rules_of(self.stored or "<LifecycleConfiguration/>") if r.findtext("ID") == rule_id),
                    None)

    def get(self) -> Answer:
        if self.stored is None:
            return self.error(404, "NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist")
        return 200, self.headers("application/xml"), self.stored

    def put(self, headers: Dict[str, str], body: str) -> Answer:
        digest = base64.b64encode(hashlib.md5(body.encode("utf-8")).digest()).decode()
        if headers.get("content-md5") != digest:
            return self.error(400, "InvalidDigest", "The Content-MD5 you specified is not valid")
        root = ET.fromstring(body)
        if root.tag != "LifecycleConfiguration" or not 1 <= len(rules_of(body)) <= 1000 or any(
                r.findtext("ID") is None or r.findtext("Status") not in ("Enabled", "Disabled") for r in rules_of(body)):
            return self.error(400, "MalformedXML", "The XML you provided was not well-formed")
        self.stored = body
        return 200, self.headers("application/xml"), ""
