"""`responses`-backed fakes of the COS and CI wire for unit tests that need exact control of each call."""
from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Tuple, Type, TypeVar
from urllib.parse import parse_qs, unquote, urlparse

import responses

from tests.support.settings import BUCKET, REGION

COS_HOST = f"https://{BUCKET}.cos.{REGION}.myqcloud.com"
CI_HOST = f"https://{BUCKET}.ci.{REGION}.myqcloud.com"

CI_ERROR = ("<?xml version='1.0' encoding='utf-8' ?><Error><Code>{code}</Code><Message>{message}</Message>"
            "<RequestId>NjQ1ZmFrZXJlcXVlc3RpZA==</RequestId><TraceId>dHJhY2U=</TraceId></Error>")


def _job_xml(job: Dict[str, str]) -> str:
    return (f"<JobsDetail><Code>Success</Code><Message/><JobId>{job['JobId']}</JobId><Tag>{job['Tag']}</Tag>"
            f"<State>{job['State']}</State><CreationTime>2026-11-28T10:00:00+0800</CreationTime><StartTime>-</StartTime>"
            f"<EndTime>-</EndTime><QueueId>-</QueueId><Name>{job['Name']}</Name><Type>{job['Type']}</Type>"
            f"{job['Input']}{job['Operation']}</JobsDetail>")


W = TypeVar("W", bound="FakeWire")


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
        # DescribeInventoryTriggerJob: the submit run checks the job its checkpoint names (lib.state.check_checkpoint).
        rsps.add_callback(responses.GET, re.compile(re.escape(CI_HOST) + r"/inventorytriggerjob/[^?/]+$"),
                          self._get_job)

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
            forbid = request.headers.get("x-cos-forbid-overwrite") or b""
            # The SDK encodes header values to bytes before requests sends them.
            if (forbid.decode() if isinstance(forbid, bytes) else forbid) == "true" and key in self.objects:
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


    def _get_job(self, request):
        job_id = urlparse(request.url).path.rsplit("/", 1)[-1]
        hits = [j for j in self.jobs if j["JobId"] == job_id][:1]
        body = "".join(_job_xml(j) for j in hits) or f"<NonExistJobIds>{job_id}</NonExistJobIds>"
        return 200, {}, f"<Response><RequestId>cmVx</RequestId>{body}</Response>"


# --- the report's side of the wire: paginated lists, per-object jobs, workflow executions ----------------

WEBHOOK_URL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=secret-webhook-key-0001"


def list_job_xml(job: Dict[str, str]) -> str:
    """A JobsDetail as the list API documents it (reference §8.4 / §11.1), with our job dict's values."""
    return (f"<JobsDetail><Code>{job.get('Code', 'Success')}</Code>"
            + (f"<Message>{job['Message']}</Message>" if job.get("Message") else "<Message/>")
            + f"<JobId>{job['JobId']}</JobId><Tag>{job['Tag']}</Tag><State>{job['State']}</State>"
            f"<CreationTime>{job.get('CreationTime', '2026-11-28T10:00:00+0800')}</CreationTime>"
            f"<StartTime>{job.get('StartTime', '-')}</StartTime><EndTime>{job.get('EndTime', '-')}</EndTime>"
            f"<QueueId>-</QueueId><Name>{job['Name']}</Name><Type>{job['Type']}</Type>"
            f"{job['Input']}{job['Operation']}</JobsDetail>")


def inspect_result_xml(batch_job_id: str, index: int, key: str, *, state: str = "Success",
                       suspicious: bool = False, action: Optional[Tuple[str, str]] = None) -> str:
    """One per-object ImageInspect job in the `GET /jobs` shape the brief fixes (Suspicious* only when flagged)."""
    process = f"<PicSize>1097476</PicSize><PicType>png</PicType><Suspicious>{str(suspicious).lower()}</Suspicious>"
    if suspicious:
        process += ("<SuspiciousBeginByte>120</SuspiciousBeginByte><SuspiciousEndByte>1097475</SuspiciousEndByte>"
                    "<SuspiciousSize>1097356</SuspiciousSize><SuspiciousType>MPEG-TS</SuspiciousType>")
        if action is not None:
            process += f"<AutoProcessResult><Code>{action[0]}</Code><Message>{action[1]}</Message></AutoProcessResult>"
    code, message = ("Failed", "image too large") if state == "Failed" else ("Success", "")
    return (f"<JobsDetail><Code>{code}</Code><Message>{message}</Message><JobId>j{batch_job_id}{index:05d}</JobId>"
            f"<Tag>ImageInspect</Tag><State>{state}</State><CreationTime>2026-11-28T10:00:00+0800</CreationTime>"
            f"<Input><Region>{REGION}</Region><Bucket>{BUCKET}</Bucket><Object>{key}</Object></Input>"
            f"<Operation><ImageInspect><AutoProcess>true</AutoProcess><ProcessType>BackupObject</ProcessType>"
            f"</ImageInspect><ImageInspectResult><State>{state}</State><Code>{code}</Code><Message>{message}</Message>"
            f"<InputObjectName>{key}</InputObjectName><InputObjectUrl>{COS_HOST}/{key}</InputObjectUrl>"
            f"<ProcessResult>{process}</ProcessResult></ImageInspectResult>"
            f"<InventoryTriggerJobId>{batch_job_id}</InventoryTriggerJobId></Operation></JobsDetail>")


def execution_xml(run_id: str, workflow_id: str, key: str, state: str) -> str:
    return (f"<WorkflowExecution><RunId>{run_id}</RunId><WorkflowId>{workflow_id}</WorkflowId>"
            f"<WorkflowName>inspect</WorkflowName><State>{state}</State>"
            f"<CreateTime>2026-11-28T10:00:00+0800</CreateTime><Object>{key}</Object></WorkflowExecution>")


# The first queue of the API page's sample (cloud.tencent.com/document/product/436/54045, read 2026-12-01).
DOC_QUEUE_ID = "p4a17eeea29334bf499b7e20e2fbfd99d"
DOC_QUEUE_LIST = (f"<QueueList><QueueId>{DOC_QUEUE_ID}</QueueId><Name>queue-1</Name><State>Active</State>"
                  "<MaxSize>10000</MaxSize><MaxConcurrent>10</MaxConcurrent><UpdateTime>2022-08-09T16:23:11+0800"
                  "</UpdateTime><CreateTime>2022-08-09T16:23:11+0800</CreateTime><Category>Transcoding</Category>"
                  "</QueueList>")


class ReportWire(FakeWire):
    """FakeWire whose job list pages and filters like the service, plus `GET /jobs` and `/workflowexecution`."""

    def __init__(self, rsps: responses.RequestsMock):
        super().__init__(rsps)
        self.inspect_results: Dict[str, List[str]] = {}  # batch job id -> per-object JobsDetail XML
        self.executions: Dict[str, List[str]] = {}  # batch job id -> WorkflowExecution XML
        self.token_on_last_page = False  # some servers send a NextToken even when nothing follows
        self.repeat_token: Optional[str] = None  # answer every list page with this same NextToken
        self.media_error: Optional[Tuple[int, str]] = None  # (status, code) for every GET /jobs
        self.refuse_puts_under: Optional[str] = None  # PUTs of keys under this prefix get 403 AccessDenied
        self.list_error: Optional[Tuple[int, str]] = None  # (status, code) for every batch-job list call
        self.cancelled: List[str] = []
        self.queue_list = DOC_QUEUE_LIST  # the QueueList elements GET /queue answers with
        self.queue_error: Optional[Tuple[int, str]] = None  # (status, code) for every GET /queue
        rsps.add_callback(responses.GET, re.compile(re.escape(CI_HOST) + r"/queue(\?.*)?$"), self._queues)
        rsps.add_callback(responses.GET, re.compile(re.escape(CI_HOST) + r"/jobs\?.*"), self._media_jobs)
        rsps.add_callback(responses.GET, re.compile(re.escape(CI_HOST) + r"/inventorytriggerjob/[^?/]+$"),
                          self._get_job)
        rsps.add_callback(responses.PUT, re.compile(re.escape(CI_HOST) + r"/inventorytriggerjob/[^?/]+\?cancel$"),
                          self._cancel_job)
        rsps.add_callback(responses.GET, re.compile(re.escape(CI_HOST) + r"/workflowexecution\?.*"),
                          self._executions)

    def add_job(self, job_id: str, *, job_type: str = "Job", state: str = "Success",
                name: str = "autopilot-hourly-x", created: str = "2026-11-28T10:00:00+0800", code: str = "Success",
                message: str = "", workflow_ids: str = "w2504f47ad46e4a1b9c0d1e2f3a4b5c6d") -> None:
        if job_type == "Workflow":
            operation, tag = f"<Operation><WorkflowIds>{workflow_ids}</WorkflowIds></Operation>", "Workflow"
        else:
            operation = ("<Operation><Tag>ImageInspect</Tag><JobParam><ImageInspect><AutoProcess>true</AutoProcess>"
                         "<ProcessType>BackupObject</ProcessType></ImageInspect></JobParam></Operation>")
            tag = "ImageInspect"
        self.jobs.append({"JobId": job_id, "Name": name, "Type": job_type, "Tag": tag, "State": state,
                          "CreationTime": created, "Code": code, "Message": message,
                          "Input": "<Input><Prefix>/</Prefix></Input>", "Operation": operation})

    def _queues(self, request):
        if self.queue_error is not None:
            return self.queue_error[0], {}, CI_ERROR.format(code=self.queue_error[1], message="refused")
        return 200, {}, (f"<Response><RequestId>cXVldWU=</RequestId><TotalCount>1</TotalCount><PageNumber>1</PageNumber>"
                         f"<PageSize>10</PageSize>{self.queue_list}</Response>")

    def _object(self, request):
        key = unquote(urlparse(request.url).path[1:])
        if request.method == "PUT" and self.refuse_puts_under is not None and key.startswith(self.refuse_puts_under):
            return 403, {}, self._cos_error("AccessDenied", key)
        return super()._object(request)

    def list_calls(self, job_type: Optional[str] = None, states: Optional[str] = "All") -> List[responses.Call]:
        """List calls of one Type; by default only the window listing (states=All), not the stuck-job scan."""
        calls = self.calls("GET", "/inventorytriggerjob")
        if states is not None:
            calls = [c for c in calls if parse_qs(urlparse(c.request.url).query).get("states") == [states]]
        if job_type is None:
            return calls
        return [c for c in calls if parse_qs(urlparse(c.request.url).query).get("type") == [job_type]]

    def _list_jobs(self, request):
        from lib.windows import parse_ci_time

        if self.list_error is not None:
            return self.list_error[0], {}, CI_ERROR.format(code=self.list_error[1], message="refused")
        query = {k: v[0] for k, v in parse_qs(urlparse(request.url).query, keep_blank_values=True).items()}
        states = query.get("states", "All")
        start = parse_ci_time(query["startCreationTime"]) if query.get("startCreationTime") else None
        end = parse_ci_time(query["endCreationTime"]) if query.get("endCreationTime") else None

        def wanted(job: Dict[str, str]) -> bool:
            created = parse_ci_time(job.get("CreationTime", "2026-11-28T10:00:00+0800"))
            return (job["Type"] == query.get("type", "Workflow")
                    and (not query.get("name") or job["Name"] == query["name"])
                    and (not query.get("jobId") or job["JobId"] == query["jobId"])
                    and (states == "All" or job["State"] in states.split(","))
                    and (start is None or created >= start) and (end is None or created <= end))

        hits = [j for j in self.jobs if wanted(j)]
        offset = int(query.get("nextToken") or 0) if self.repeat_token is None else 0
        size = int(query.get("size", "10"))
        page = hits[offset:offset + size]
        more = offset + size < len(hits) or (self.token_on_last_page and len(page) == size)
        token = self.repeat_token or (str(offset + size) if more else "")
        body = "".join(list_job_xml(j) for j in page) + (f"<NextToken>{token}</NextToken>" if token else "")
        return 200, {}, f"<Response><RequestId>cmVx</RequestId>{body}</Response>"

    def _job_id(self, request) -> str:
        return urlparse(request.url).path.rsplit("/", 1)[1]

    def _get_job(self, request):
        job_id = self._job_id(request)
        hits = [j for j in self.jobs if j["JobId"] == job_id][:1]
        body = "".join(list_job_xml(j) for j in hits) or f"<NonExistJobIds>{job_id}</NonExistJobIds>"
        return 200, {}, f"<Response><RequestId>cmVx</RequestId>{body}</Response>"

    def _cancel_job(self, request):
        job_id = self._job_id(request)
        for job in self.jobs:
            if job["JobId"] == job_id:
                job["State"] = "Cancel"
                self.cancelled.append(job_id)
                return 200, {}, ""
        return 404, {}, CI_ERROR.format(code="NoSuchJob", message="job not exist")

    def _media_jobs(self, request):
        if self.media_error is not None:
            status, code = self.media_error
            return status, {}, CI_ERROR.format(code=code, message="queueId is required")
        query = {k: v[0] for k, v in parse_qs(urlparse(request.url).query, keep_blank_values=True).items()}
        return self._page(self.inspect_results.get(query.get("inventoryTriggerJobId", ""), []), query)

    def _executions(self, request):
        query = {k: v[0] for k, v in parse_qs(urlparse(request.url).query, keep_blank_values=True).items()}
        return self._page(self.executions.get(query.get("jobId", ""), []), query)

    @staticmethod
    def _page(items: List[str], query: Dict[str, str]):
        offset, size = int(query.get("nextToken") or 0), int(query.get("size", "10"))
        token = f"<NextToken>{offset + size}</NextToken>" if offset + size < len(items) else ""
        return 200, {}, "<Response><RequestId>cmVx</RequestId>" + "".join(items[offset:offset + size]) + token + "</Response>"


@contextmanager
def fake_service(wire_class: Type[W]) -> Iterator[W]:
    """A `wire_class` fake answering the SDK's calls while the block runs (any other URL raises ConnectionError).

    `assert_all_requests_are_fired` stays off: the fake registers every route the service offers, as the service
    does, and each test's code calls the few it needs."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield wire_class(rsps)
