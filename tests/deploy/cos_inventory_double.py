"""A COS double for GET/PUT Bucket inventory, answering as COS's API pages document (read 2026-12-07).

- PUT Bucket inventory (cloud.tencent.com/document/product/436/33707; intl text in tencentyun/intlcloud-documents
  yehe_doc/基础存储服务/对象存储/API 文档/Bucket 接口/清单（inventory）/PUT Bucket inventory_intl_en.md): `PUT
  /?inventory&id=<id>` with Content-MD5, body `<InventoryConfiguration>`: Id (= id, "a-z A-Z 0-9 - _ ."), IsEnabled
  true|false, IncludedObjectVersions All|Current, Schedule/Frequency Daily|Weekly, Destination/COSBucketDestination
  with Bucket and Format CSV (Required "Yes" in the node table); 200 with an empty body. Each id is its own
  configuration (up to 1,000 per bucket).
- GET Bucket inventory (436/33705): the stored XML back. The code for an unknown id is not published; the double
  answers 404 NoSuchInventoryConfiguration (inference; the deploy accepts any 404 but NoSuchBucket).
The signature check and the error body are tests/deploy/cos_bucket_double.py's.
"""
from __future__ import annotations

import base64
import hashlib
import re
import xml.etree.ElementTree as ET
from typing import Dict, List, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

from tests.deploy.cos_bucket_double import BUCKET, Answer, FakeCosBucketSubresource

__all__ = ["BUCKET", "FakeCosInventory", "configuration_xml"]
_ID = re.compile(r"[A-Za-z0-9._-]+")
FIELDS = {"Size", "LastModifiedDate", "StorageClass", "ETag", "IsMultipartUploaded", "ReplicationStatus", "Tag",
          "Crc64"}


def configuration_xml(inventory_id: str, prefix: str = "autopilot/inventory", frequency: str = "Daily",
                      enabled: str = "true", fields: Tuple[str, ...] = ("Size", "LastModifiedDate", "ETag",
                                                                       "StorageClass"),
                      account: str = "", bucket: str = f"qcs::cos:ap-guangzhou::{BUCKET}",
                      versions: str = "Current", extra: str = "") -> str:
    """A configuration as GET Bucket inventory answers it (the page's sample shape, values ours)."""
    field_xml = "".join(f"<Field>{f}</Field>" for f in fields)
    optional = f"<OptionalFields>{field_xml}</OptionalFields>" if fields else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?><InventoryConfiguration><Id>{inventory_id}</Id>'
            f"<IsEnabled>{enabled}</IsEnabled><Destination><COSBucketDestination><Format>CSV</Format>"
            f"{f'<AccountId>{account}</AccountId>' if account else ''}<Bucket>{bucket}</Bucket>"
            f"<Prefix>{prefix}</Prefix></COSBucketDestination></Destination>"
            f"<Schedule><Frequency>{frequency}</Frequency></Schedule>{extra}"
            f"<IncludedObjectVersions>{versions}</IncludedObjectVersions>{optional}</InventoryConfiguration>")


class FakeCosInventory(FakeCosBucketSubresource):
    """One bucket's inventory configurations by id; `fail` maps a method to (status, code) to answer once."""

    subresource = "inventory"

    def __init__(self, stored: Optional[Dict[str, str]] = None):
        super().__init__()
        self.stored: Dict[str, str] = dict(stored or {})  # id -> configuration XML as last PUT
        self.ids: List[Tuple[str, str]] = []  # (method, id) of every request
        self._id = ""

    def __call__(self, request) -> Answer:
        self._id = (parse_qs(urlsplit(request.url).query, keep_blank_values=True).get("id") or [""])[0]
        self.ids.append((request.method, self._id))
        return super().__call__(request)

    def puts(self) -> List[Tuple[str, ET.Element]]:
        return [(i, ET.fromstring(body or "")) for (method, i), (_, body) in zip(self.ids, self.calls)
                if method == "PUT"]

    def element(self, inventory_id: str) -> ET.Element:
        return ET.fromstring(self.stored[inventory_id])

    def get(self) -> Answer:
        if self._id not in self.stored:
            return self.error(404, "NoSuchInventoryConfiguration", "The specified inventory configuration does not exist")
        return 200, self.headers("application/xml"), self.stored[self._id]

    def put(self, headers: Dict[str, str], body: str) -> Answer:
        digest = base64.b64encode(hashlib.md5(body.encode("utf-8")).digest()).decode()
        if headers.get("content-md5") != digest:
            return self.error(400, "InvalidDigest", "The Content-MD5 you specified is not valid")
        if not self._valid(ET.fromstring(body)):
            return self.error(400, "MalformedXML", "The XML you provided was not well-formed")
        if len(self.stored) >= 1000 and self._id not in self.stored:
            return self.error(400, "TooManyConfigurations", "You are attempting to create a new configuration "
                                                            "but have already reached the 1,000-configuration limit")
        self.stored[self._id] = body
        return 200, self.headers("application/xml"), ""

    def _valid(self, root: ET.Element) -> bool:
        dest = root.find("Destination/COSBucketDestination")
        fields = {f.text for f in root.findall("OptionalFields/Field")}
        return (root.tag == "InventoryConfiguration" and bool(_ID.fullmatch(self._id))
                and root.findtext("Id") == self._id and root.findtext("IsEnabled") in ("true", "false")
                and root.findtext("IncludedObjectVersions") in ("All", "Current")
                and root.findtext("Schedule/Frequency") in ("Daily", "Weekly") and dest is not None
                and bool(dest.findtext("Bucket")) and dest.findtext("Format") == "CSV"
                and all(f in FIELDS or (f or "").startswith("x-cos-meta-") for f in fields))
