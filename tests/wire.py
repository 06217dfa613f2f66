"""A `responses`-backed fake of the COS and CI wire for unit tests that need exact control of each call."""
from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from typing import Dict, List, Optional, Tuple
from urllib.parse import parse_qs, unquote, urlparse

import responses

BUCKET = "examplebucket-1250000000"
REGION = "ap-guangzhou"
COS_HOST = f"https://{BUCKET}.cos.{REGION}.myqcloud.com"
CI_HOST = f"https://{BUCKET}.ci.{REGION}.myqcloud.com"

ENV = {
    "COS_BUCKET": BUCKET,
    "COS_REGION": REGION,
    "TENCENTCLOUD_SECRETID": "AKIDfakeSecretIdForTests0001",
    "TENCENTCLOUD_SECRETKEY": "fakeSecretKeyForTests0001",
    "TENCENTCLOUD_SESSIONTOKEN": "fakeSessionTokenForTests0001",
}

CI_ERROR = ("<?xml version='1.0' encoding='utf-8' ?><Error><Code>{code}</Code><Message>{message}</Message>"
            "<RequestId>NjQ1ZmFrZXJlcXVlc3RpZA==</RequestId><TraceId>dHJhY2U=</TraceId></Error>")


def _job_xml(job: Dict[str, str]) -> str:
    return (f"<JobsDetail><Code>Success</Code><Message/><JobId>{job['JobId']}</JobId><Tag>{job['Tag']}</Tag>"
            f"<State>{job['State']}</State><CreationTime>2026-11-28T10:00:00+0800</CreationTime><StartTime>-</StartTime>"
            f"<EndTime>-</EndTime><QueueId>-</QueueId><Name>{job['Name']}</Name><Type>{job['Type']}</Type>"
            f"{job['Input']}{job['Operation']}</JobsDetail>")


class FakeWire:
    """An in-memory bucket and batch-job store answering the SDK's HTTP calls through `responses`."""

    def __init__(self, rsps: responses.RequestsMock):
        self.rsps = rsps
        self.objects: Dict[str, bytes] = {}
        self.jobs: List[Dict[str, str]] = []
        self.created_bodies: List[bytes] = []
        self.create_failures: List[Tuple[int, bool]] = []  # (status, carried_out) for the next creates
        self._ids = itertools.count(1)
        rsps.add_callback(responses.GET, re.compile(re.escape(COS_HOST) + r"/?(\?.*)?$"), self._list_objects)
        for method in (responses.GET, responses.PUT, responses.DELETE, responses.HEAD):
            rsps.add_callback(method, re.compile(re.escape(COS_HOST) + r"/[^?]+(\?.*)?$"), self._object)
        rsps.add_callback(responses.POST, CI_HOST + "/inventorytriggerjob", self._create)
        rsps.add_callback(responses.GET, re.compile(re.escape(CI_HOST) + r"/inventorytriggerjob\?.*"), self._list_jobs)

    # --- calls seen ---
    def calls(self, method: Optional[str] = None, path: Optional[str] = None) -> List[responses.Call]:
        out = []
        for call in self.rsps.calls:
            parsed = urlparse(call.request.url)
            if (method is None or call.request.method == method) and (path is None or parsed.path == path):
                out.append(call)
        return out

    # --- COS ---
    def _list_objects(self, request):
        query = parse_qs(urlparse(request.url).query)
        prefix = query.get("prefix", [""])[0]
        keys = sorted(k for k in self.objects if k.startswith(prefix))
        items = "".join(f"<Contents><Key>{k}</Key><Size>{len(self.objects[k])}</Size></Contents>" for k in keys)
        return 200, {}, f"<ListBucketResult><Name>{BUCKET}</Name><Prefix>{prefix}</Prefix><IsTruncated>false</IsTruncated>{items}</ListBucketResult>"

    def _object(self, request):
        key = unquote(urlparse(request.url).path[1:])
        if request.method == "PUT":
            if request.headers.get("x-cos-forbid-overwrite") == "true" and key in self.objects:
                return 409, {}, self._cos_error("FileAlreadyExists", key)
            body = request.body or b""
            self.objects[key] = body if isinstance(body, bytes) else body.encode()
            return 200, {"ETag": '"etag"'}, ""
        if key not in self.objects:
            return 404, {}, self._cos_error("NoSuchKey", key)
        if request.method == "DELETE":
            del self.objects[key]
            return 204, {}, ""
        data = self.objects[key]
        return 200, {"Content-Type": "application/octet-stream", "Content-Length": str(len(data))}, data

    @staticmethod
    def _cos_error(code: str, key: str) -> str:
        return (f"<?xml version='1.0' encoding='utf-8' ?><Error><Code>{code}</Code><Message>{code}</Message>"
                f"<Resource>{BUCKET}.cos.{REGION}.myqcloud.com/{key}</Resource><RequestId>cmVx</RequestId>"
                f"<TraceId>dHJhY2U=</TraceId></Error>")

    # --- CI ---
    def _create(self, request):
        body = request.body if isinstance(request.body, bytes) else request.body.encode()
        self.created_bodies.append(body)
        status, carried_out = self.create_failures.pop(0) if self.create_failures else (200, True)
        job = None
        if carried_out:
            root = ET.fromstring(body)
            job = {
                "JobId": f"b{next(self._ids):031d}", "Name": root.findtext("Name"), "Type": root.findtext("Type"),
                "Tag": root.findtext("Operation/Tag") or "Workflow", "State": "Submitted",
                "Input": ET.tostring(root.find("Input"), encoding="unicode"),
                "Operation": ET.tostring(root.find("Operation"), encoding="unicode"),
            }
            self.jobs.append(job)
        if status >= 400:
            return status, {}, CI_ERROR.format(code="InternalError", message="injected")
        return 200, {}, f"<Response><RequestId>cmVx</RequestId>{_job_xml(job)}</Response>"

    def _list_jobs(self, request):
        query = parse_qs(urlparse(request.url).query, keep_blank_values=True)
        jtype = query.get("type", ["Workflow"])[0]
        name = query.get("name", [None])[0]
        hits = [j for j in self.jobs if j["Type"] == jtype and (name is None or j["Name"] == name)]
        return 200, {}, "<Response><RequestId>cmVx</RequestId>" + "".join(_job_xml(j) for j in hits) + "</Response>"
