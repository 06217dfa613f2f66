"""Documented samples as data: load them, serve them over `responses`, and compare element trees."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple
from urllib.parse import parse_qs, urlparse

import responses

from tests.support.wires import CI_ERROR, CI_HOST, FakeWire

SAMPLES = Path(__file__).resolve().parent / "samples"
_HEADER = re.compile(r"^\s*<!--.*?-->\s*", re.S)


def sample(name: str) -> bytes:
    """A sample file's XML without its source header (the header is for readers; the service sends none)."""
    return _HEADER.sub("", (SAMPLES / name).read_text(encoding="utf-8"), count=1).encode("utf-8")


def documented_params(name: str) -> Dict[str, bool]:
    """A request-parameter sample: name -> whether the page marks it required."""
    rows = [line.split() for line in (SAMPLES / name).read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]
    return {param: required == "yes" for param, required in rows}


class Tree:
    """An XML document's shape: which element paths occur and which children repeat under one parent."""

    def __init__(self, xml: bytes):
        root = ET.fromstring(xml)  # noqa: S314 - our own sample files and our own emulator
        self.paths: Set[str] = set()
        self.repeated: Set[str] = set()
        self._walk(root, root.tag)

    def _walk(self, elem: ET.Element, path: str) -> None:
        self.paths.add(path)
        counts = Counter(child.tag for child in elem)
        self.repeated.update(f"{path}/{tag}" for tag, n in counts.items() if n > 1)
        for child in elem:
            self._walk(child, f"{path}/{child.tag}")


class SampleWire(FakeWire):
    """The COS side of FakeWire, and CI list calls answered with documented samples byte for byte."""

    def __init__(self, rsps: responses.RequestsMock):
        super().__init__(rsps)
        self.lists: Dict[str, bytes] = {}  # batch-job Type -> the window listing's response (states=All)
        self.media: Dict[str, bytes] = {}  # inventoryTriggerJobId -> GET /jobs response
        self.executions: Optional[bytes] = None
        self.queues: Optional[bytes] = sample("queue-list.xml")
        self.queue_error: Optional[Tuple[int, str]] = None
        rsps.add_callback(responses.GET, re.compile(re.escape(CI_HOST) + r"/jobs\?.*"), self._media)
        rsps.add_callback(responses.GET, re.compile(re.escape(CI_HOST) + r"/workflowexecution\?.*"), self._execs)
        rsps.add_callback(responses.GET, re.compile(re.escape(CI_HOST) + r"/queue(\?.*)?$"), self._queue)

    @staticmethod
    def query(call_or_request) -> Dict[str, str]:
        request = getattr(call_or_request, "request", call_or_request)
        return {k: v[0] for k, v in parse_qs(urlparse(request.url).query, keep_blank_values=True).items()}

    def queries(self, path: str) -> List[Dict[str, str]]:
        return [self.query(c) for c in self.calls("GET", path)]

    def _list_jobs(self, request):
        q = self.query(request)
        body = self.lists.get(q.get("type", "Workflow")) if q.get("states") == "All" else None
        return 200, {}, body or b"<Response><RequestId>cmVx</RequestId></Response>"

    def _media(self, request):
        body = self.media.get(self.query(request).get("inventoryTriggerJobId", ""))
        return 200, {}, body or b"<Response></Response>"

    def _execs(self, request):
        return 200, {}, self.executions or b"<Response><NextToken/></Response>"

    def _queue(self, request):
        if self.queue_error is not None:
            return self.queue_error[0], {}, CI_ERROR.format(code=self.queue_error[1], message="refused")
        return 200, {}, self.queues
