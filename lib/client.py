"""CiClient: the only module that talks to the Tencent SDK; typed calls, translated errors, our own retries."""

import logging
import re
import threading
import time
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Tuple, TypeVar, Union
from urllib.parse import urlencode

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from lib.config import Settings
from lib.errors import CloudApiError, CloudUnavailableError, ConfigError, PaginationError
from lib.jobs import JobBody
from lib.windows import as_utc, floor_second

logger = logging.getLogger(__name__)
T = TypeVar("T")
LIVE_STATES = frozenset({"Submitted", "Running", "Success", "Pause"})
PAGE_SIZE = 100  # the list API's documented maximum
LIST_KEYS = 1000  # GET Bucket's max-keys: default and most per page (cloud.tencent.com/document/api/436/7734)


# Coercions for what xmltodict hands back: None for empty elements, str for everything else.
def _text(v: Any) -> str:
    return "" if v is None else str(v).strip()


def _int_or_none(v: Any) -> Optional[int]:
    try:
        return int(str(v).strip())
    except (TypeError, ValueError):
        return None


def _as_dict(v: Any) -> Dict[str, Any]:
    return v if isinstance(v, dict) else {}


class JobDetail(BaseModel):
    """One batch job as the get/list/create calls return it; tolerant of what the SDK hands back."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    JobId: str
    Name: str = ""
    Type: str = "Workflow"
    Tag: str = ""
    State: str = ""
    Code: str = ""
    Message: str = ""
    CreationTime: str = ""
    StartTime: str = ""
    EndTime: str = ""
    Input: Dict[str, Any] = Field(default_factory=dict)
    Operation: Dict[str, Any] = Field(default_factory=dict)

    @field_validator("Name", "Type", "Tag", "State", "Code", "Message", "CreationTime", "StartTime", "EndTime",
                     mode="before")
    @classmethod
    def _none_is_empty(cls, v: Any) -> str:
        return "" if v is None else str(v)

    @field_validator("Input", "Operation", mode="before")
    @classmethod
    def _dict(cls, v: Any) -> Dict[str, Any]:
        return _as_dict(v)

    @property
    def workflow_ids(self) -> Tuple[str, ...]:
        ids = self.Operation.get("WorkflowIds")
        if not ids:
            return ()
        items = ids if isinstance(ids, list) else [ids]
        return tuple(i.strip() for item in items for i in str(item).split(",") if i.strip())

    @property
    def inspect_tag(self) -> str:
        """`ImageInspect` etc. for Job type: Operation.Tag, else the top-level Tag, else what JobParam holds."""
        tag = str(self.Operation.get("Tag") or self.Tag or "")
        if not tag and "ImageInspect" in _as_dict(self.Operation.get("JobParam")):
            return "ImageInspect"
        return tag

    @property
    def per_object_kind(self) -> str:
        """What per-object results this job spawned: "ImageInspect" jobs, "Workflow" executions, or "" (none read).

        Decided from what the job is: the documented Type=Job JobsDetail (docs 1045/50369) echoes Operation but
        carries no top-level Tag, so Operation.Tag or JobParam.ImageInspect says it, never the Tag alone."""
        if self.Type == "Workflow":
            return "Workflow"
        if self.Type == "Job" and self.inspect_tag == "ImageInspect":
            return "ImageInspect"
        return ""

    @property
    def live(self) -> bool:
        return self.State in LIVE_STATES


def _ci_error_fields(body: str) -> Tuple[str, str, Optional[str]]:
    # CI error bodies lack <Resource>, so the SDK's own accessors return 'Unknown' (reference §6).
    try:
        # Error bodies from CI itself; stdlib expat does not resolve external entities.
        root = ET.fromstring(body.encode("utf-8") if isinstance(body, str) else body)  # noqa: S314
    except (ET.ParseError, ValueError, TypeError):
        return "Unknown", (body or "")[:200] if isinstance(body, str) else "", None

    def text(tag: str) -> str:
        node = root.find(tag)
        return (node.text or "").strip() if node is not None else ""

    return text("Code") or "Unknown", text("Message"), text("RequestId") or None


@contextmanager
def translate_sdk_errors(action: str) -> Iterator[None]:
    """Turn the SDK's exceptions into ours; the one place that knows qcloud_cos's error types."""
    from qcloud_cos.cos_exception import CosClientError, CosServiceError

    try:
        yield
    except CosServiceError as exc:
        raw = exc.get_origin_msg()
        code, message, request_id = _ci_error_fields(raw if isinstance(raw, (str, bytes)) else "")
        if code == "Unknown":
            header_code = _safe(exc.get_error_code)
            code = header_code if header_code and header_code != "Unknown" else code
        raise CloudApiError(action, int(exc.get_status_code() or 0), code, message, request_id) from None
    except CosClientError as exc:
        raise CloudUnavailableError(action, _unreachable(str(exc))) from None
    except ET.ParseError:
        raise CloudUnavailableError(action, "the service answered 200 with a body that is not XML") from None


def _absent(exc: CloudApiError) -> bool:
    """A 404 about the object or configuration asked for; NoSuchBucket is a wrong COS_BUCKET, never "absent"."""
    return exc.status == 404 and exc.code != "NoSuchBucket"


def _safe(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception:  # noqa: BLE001 - the SDK's accessors raise KeyError on odd bodies
        return None


# What requests/urllib3 say when no answer came, in the order to test them (a proxy error wraps the others).
_NO_ANSWER = (
    (("NameResolutionError", "Name or service not known", "getaddrinfo failed", "nodename nor servname",
      "Temporary failure in name resolution"), "the endpoint's name did not resolve (DNS)"),
    (("timed out", "Timeout"), "no answer within API_TIMEOUT (timed out)"),
    (("Connection refused", "Unable to connect to proxy", "NewConnectionError", "Failed to establish",
      "Connection aborted", "RemoteDisconnected"), "the endpoint could not be reached (connection refused or reset)"),
)


def _unreachable(message: str) -> str:
    """A sentence for a request that got no answer: what happened and where, instead of urllib3's text."""
    host = re.search(r"host='([^']+)', port=(\d+)", message)
    where = f" ({host.group(1)}:{host.group(2)})" if host else ""
    for needles, sentence in _NO_ANSWER:
        if any(n in message for n in needles):
            return sentence + where
    return _redact(message)


def _redact(message: str) -> str:
    # requests' messages carry URLs, never our headers; still cut anything that looks like a signature.
    return message.split("q-signature=")[0][:300]


# --- per-object results of a batch job (the report's) ----------------------------------------------
# Both models are built on first use (defer_build), so the submit function's cold start does not pay for them.


class InspectObjectResult(BaseModel):
    """One per-object ImageInspect job a batch job spawned (`GET /jobs`), flattened to what a report shows."""

    model_config = ConfigDict(frozen=True, defer_build=True)
    job_id: str
    key: str
    state: str
    code: str = ""
    message: str = ""
    suspicious: bool = False
    suspicious_type: str = ""
    begin_byte: Optional[int] = None
    end_byte: Optional[int] = None
    suspicious_size: Optional[int] = None
    action_code: str = ""
    action_message: str = ""
    unreadable: bool = False  # its JobsDetail could not be read at all: counted as such, never dropped silently

    @classmethod
    def unreadable_result(cls) -> "InspectObjectResult":
        return cls(job_id="", key="", state="", unreadable=True)

    @classmethod
    def from_detail(cls, detail: Dict[str, Any]) -> "InspectObjectResult":
        """Read one JobsDetail; every nested element may be absent, empty (None) or a string."""
        operation = _as_dict(detail.get("Operation"))
        result = _as_dict(operation.get("ImageInspectResult"))
        process = _as_dict(result.get("ProcessResult"))
        auto = _as_dict(process.get("AutoProcessResult"))
        key = _text(_as_dict(detail.get("Input")).get("Object")) or _text(result.get("InputObjectName"))
        return cls(
            job_id=_text(detail.get("JobId")), key=key, state=_text(detail.get("State")),
            code=_text(result.get("Code") or detail.get("Code")),
            message=_text(result.get("Message") or detail.get("Message")),
            suspicious=_text(process.get("Suspicious")).lower() == "true",
            suspicious_type=_text(process.get("SuspiciousType")),
            begin_byte=_int_or_none(process.get("SuspiciousBeginByte")),
            end_byte=_int_or_none(process.get("SuspiciousEndByte")),
            suspicious_size=_int_or_none(process.get("SuspiciousSize")),
            action_code=_text(auto.get("Code")), action_message=_text(auto.get("Message")),
        )


# Characters XML 1.0 cannot hold at all (w3.org/TR/xml §2.2 Char), raw or as a character reference.
_NOT_XML_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_CHAR_REF = re.compile(r"&#(?:x([0-9A-Fa-f]{1,8})|([0-9]{1,10}));")
_TEXT = re.compile(r">([^<]+)<")
_SENTINELS = 0xF0000  # plane 15, private use: stand-ins the parser keeps as they are
_JOBS_DETAIL = re.compile(rb"<JobsDetail>.*?</JobsDetail>", re.S)
_NEXT_TOKEN = re.compile(rb"<NextToken>([^<]*)</NextToken>")


def _is_xml_char(code: int) -> bool:
    return code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or 0x10000 <= code <= 0x10FFFF


def read_xml_keeping_keys(content: bytes) -> Dict[str, Any]:
    """Parse a response as the SDK's xml_to_dict does, but keep text XML 1.0 would refuse or change.

    A key with a control character comes back raw or as `&#1;` (neither well-formed XML 1.0), and a raw CR inside
    text would be read as LF (§2.11): each becomes a private-use stand-in before parsing and is put back after,
    so one hostile key costs nothing. Raises ET.ParseError when the body still cannot be read."""
    from qcloud_cos.cos_comm import xml_to_dict

    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ET.ParseError(f"the body is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    originals: Dict[str, str] = {}
    stand_ins: Dict[str, str] = {}
    taken = set(text)

    def stand_in(original: str) -> str:
        if original not in stand_ins:
            code = _SENTINELS + len(stand_ins)
            while chr(code) in taken:
                code += 1
            taken.add(chr(code))
            stand_ins[original] = chr(code)
            originals[chr(code)] = original
        return stand_ins[original]

    def char_ref(match: "re.Match[str]") -> str:
        code = int(match.group(1), 16) if match.group(1) else int(match.group(2))
        if _is_xml_char(code):
            return match.group(0)
        return stand_in(chr(code) if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\ufffd")

    text = _CHAR_REF.sub(char_ref, text)
    text = _NOT_XML_CHAR.sub(lambda m: stand_in(m.group(0)), text)
    if "\r" in text:  # only inside text that says something: a CRLF between elements is layout
        text = _TEXT.sub(lambda m: m.group(0).replace("\r", stand_in("\r")) if m.group(1).strip() else m.group(0),
                         text)
    data = xml_to_dict(text.encode("utf-8"))
    return _put_back(data, originals) if originals else data


def _put_back(value: Any, originals: Dict[str, str]) -> Any:
    if isinstance(value, str):
        return "".join(originals.get(c, c) for c in value) if any(c in originals for c in value) else value
    if isinstance(value, dict):
        return {k: _put_back(v, originals) for k, v in value.items()}
    if isinstance(value, list):
        return [_put_back(v, originals) for v in value]
    return value


def parse_media_jobs_page(content: bytes) -> Tuple[List[InspectObjectResult], str]:
    """Read a `GET /jobs` page: (results, next token or ''); a result that still cannot be read costs only itself.

    Raises ET.ParseError when not even one JobsDetail can be cut out of the body."""
    from qcloud_cos.cos_comm import format_dict

    try:
        data = read_xml_keeping_keys(content)
    except ET.ParseError:
        return _media_jobs_one_by_one(content)
    format_dict(data, ["JobsDetail"])
    items = [InspectObjectResult.from_detail(d) for d in (data.get("JobsDetail") or []) if isinstance(d, dict)]
    return items, _text(data.get("NextToken"))


def _media_jobs_one_by_one(content: bytes) -> Tuple[List[InspectObjectResult], str]:
    details = _JOBS_DETAIL.findall(content)
    if not details:
        raise ET.ParseError("the service answered with a body that is not XML")
    items = []
    for detail in details:
        try:
            data = read_xml_keeping_keys(b"<Response>" + detail + b"</Response>").get("JobsDetail")
            items.append(InspectObjectResult.from_detail(data) if isinstance(data, dict)
                         else InspectObjectResult.unreadable_result())
        except (ET.ParseError, SyntaxError, ValueError):  # xml_to_dict evals its own repr: be as wary
            items.append(InspectObjectResult.unreadable_result())
    token = _NEXT_TOKEN.search(content)
    return items, token.group(1).decode("utf-8", "replace").strip() if token else ""


class WorkflowExecutionItem(BaseModel):
    """One workflow execution (one object through one workflow) as `GET /workflowexecution` lists it."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)
    RunId: str = ""
    WorkflowId: str = ""
    WorkflowName: str = ""
    State: str = ""
    CreateTime: str = Field("", validation_alias=AliasChoices("CreateTime", "CreationTime"))
    Object: str = ""

    @field_validator("RunId", "WorkflowId", "WorkflowName", "State", "CreateTime", "Object", mode="before")
    @classmethod
    def _none_is_empty(cls, v: Any) -> str:
        return _text(v)


# The list element has two published names: the API page (cloud.tencent.com/document/api/436/80048) and the Go SDK
# (ci_media.go DescribeWorkflowExecutionsResult) say WorkflowExecutionList; the Python SDK's ci_list_workflowexecution
# forces WorkflowExecution to a list. Both are read; anything else is reported, never dropped silently.
EXECUTION_LIST_ELEMENTS = ("WorkflowExecutionList", "WorkflowExecution")
_EXECUTION_RESPONSE_ELEMENTS = frozenset(EXECUTION_LIST_ELEMENTS + ("RequestId", "NextToken"))
# CreateTime on the API page and the Python SDK's docs; CreationTime in the Go SDK's struct.
_EXECUTION_ITEM_ELEMENTS = frozenset({"RunId", "WorkflowId", "WorkflowName", "State", "CreateTime", "CreationTime",
                                      "Object"})


class ExecutionPage(NamedTuple):
    """One page of workflow executions, and the elements of the response this client does not read."""

    items: List[WorkflowExecutionItem]
    next_token: str
    unrecognised: Tuple[str, ...]


def parse_execution_page(data: Dict[str, Any]) -> ExecutionPage:
    """Read a workflow-execution list response (as xml_to_dict gives it), under either published element name."""
    items: List[WorkflowExecutionItem] = []
    unknown = {name for name in data if name not in _EXECUTION_RESPONSE_ELEMENTS}
    for name in EXECUTION_LIST_ELEMENTS:
        raw = data.get(name)
        for entry in (raw if isinstance(raw, list) else [raw] if raw is not None else []):
            if not isinstance(entry, dict):
                unknown.add(name)
                continue
            unknown.update(f"{name}/{child}" for child in entry if child not in _EXECUTION_ITEM_ELEMENTS)
            items.append(WorkflowExecutionItem.model_validate(entry))
    return ExecutionPage(items, _text(data.get("NextToken")), tuple(sorted(unknown)))


class ListPage(NamedTuple):
    keys: List[str]
    folders: List[str]
    next_marker: str  # '' on the last page


class ObjectCount(BaseModel):
    """How many objects a Prefix job would process, counted by listing its prefix (CiClient.count_objects)."""

    model_config = ConfigDict(frozen=True, defer_build=True)
    objects: int
    complete: bool  # False: the listing stopped at its bound, so the true count is at least `objects`
    calls: int  # GET Bucket pages requested
    # count_objects(etags=True): the counted objects as (key, ETag as listed), in listing order; None when not asked.
    listed: Optional[Tuple[Tuple[str, str], ...]] = None


class ObjectVersion(BaseModel):
    """One entry of GET Bucket ?versions: a version of a key or a delete marker (436/35521)."""

    model_config = ConfigDict(frozen=True, defer_build=True)
    key: str
    version_id: str
    is_latest: bool
    delete_marker: bool
    etag: str = ""
    size: Optional[int] = None
    last_modified: Optional[datetime] = None

    @classmethod
    def of(cls, item: Dict[str, Any], delete_marker: bool) -> "ObjectVersion":
        return cls(key=_text(item.get("Key")), version_id=_text(item.get("VersionId")),
                   is_latest=_text(item.get("IsLatest")).lower() == "true", delete_marker=delete_marker,
                   etag=_text(item.get("ETag")).strip('"'), size=_int_or_none(item.get("Size")),
                   last_modified=modified_at(item.get("LastModified")))


def modified_at(text: Any) -> Optional[datetime]:
    """A listing's LastModified (`2017-06-09T16:32:25.000Z`) as an aware UTC datetime; None when it cannot be read."""
    try:
        # fromisoformat reads neither "Z" nor, before 3.11, every ISO form: the listing's one form becomes +00:00.
        return as_utc(datetime.fromisoformat(_text(text).replace("Z", "+00:00")))
    except ValueError:
        return None


class CallCounter:
    """How many HTTP requests a client's session has sent; one lock, so exact under the report's reader threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0

    def add(self) -> None:
        with self._lock:
            self._count += 1

    @property
    def count(self) -> int:
        return self._count


class CiClient:
    """Typed facade over CosS3Client for the calls this app makes, bound to one bucket."""

    def __init__(self, sdk: Any, bucket: str, *, sleep: Callable[[float], None] = time.sleep,
                 read_attempts: int = 3, backoff: float = 0.5, counter: Optional[CallCounter] = None) -> None:
        self.sdk = sdk
        self.bucket = bucket
        self.sleep = sleep
        self.read_attempts = read_attempts
        self.backoff = backoff
        self._queue_id: Optional[str] = None  # the bucket's media queue, looked up once per client (per invocation)
        self._queue_looked_up = False
        self._queue_lock = threading.Lock()  # the report's reader threads all ask for it; one of them looks it up
        self._sent = counter if counter is not None else CallCounter()

    @property
    def calls(self) -> int:
        """HTTP requests this client has sent so far: every attempt, our retries and cancels included."""
        return self._sent.count

    def _read(self, action: str, call: Callable[[], T]) -> T:
        """Run an idempotent call, retrying transient failures with our (injectable) sleep."""
        for attempt in range(self.read_attempts):
            try:
                with translate_sdk_errors(action):
                    return call()
            except (CloudApiError, CloudUnavailableError) as exc:
                if not exc.retryable or attempt == self.read_attempts - 1:
                    raise
                logger.debug("retrying %s after %s", action, exc)
                self.sleep(self.backoff * (2 ** attempt))
        raise AssertionError("unreachable")

    # --- batch jobs -------------------------------------------------------------------------
    def create_job(self, body: JobBody) -> JobDetail:
        """One create attempt, never retried here: a retry must first look the name up (see submit)."""
        with translate_sdk_errors("CreateInventoryTriggerJob"):
            data = self.sdk.ci_create_inventory_trigger_jobs(
                Bucket=self.bucket, JobBody=body.to_sdk(), ContentType="application/xml")
        details = data.get("JobsDetail") or []
        if not details:
            raise CloudUnavailableError("CreateInventoryTriggerJob", "the response carried no JobsDetail")
        return JobDetail.model_validate(details[0])

    def get_job(self, job_id: str) -> Optional[JobDetail]:
        """The job, or None when CI lists it under NonExistJobIds."""
        data = self._read("DescribeInventoryTriggerJob",
                          lambda: self.sdk.ci_get_inventory_trigger_jobs(Bucket=self.bucket, JobID=job_id))
        details = data.get("JobsDetail") or []
        return JobDetail.model_validate(details[0]) if details else None

    def list_jobs_page(self, job_type: str, next_token: str = "", *, size: int = PAGE_SIZE,
                       **filters: Any) -> Tuple[List[JobDetail], str]:
        """One page of the list call: (jobs, next token or '')."""
        data = self._read("DescribeInventoryTriggerJobs", lambda: self.sdk.ci_list_inventory_trigger_jobs(
            Bucket=self.bucket, Type=job_type, Size=size, NextToken=next_token, **filters))
        jobs = [JobDetail.model_validate(d) for d in (data.get("JobsDetail") or []) if isinstance(d, dict)]
        return jobs, str(data.get("NextToken") or "")

    def iter_jobs(self, job_type: str, *, on_page: Optional[Callable[[int], None]] = None,
                  **filters: Any) -> Iterator[JobDetail]:
        """Every job of one Type matching the filters, page by page; stops on a repeated token."""
        yield from paginate(lambda token: self.list_jobs_page(job_type, token, **filters), on_page=on_page)

    def cancel_job(self, job_id: str) -> None:
        with translate_sdk_errors("CancelInventoryTriggerJob"):
            response = self.sdk.ci_delete_inventory_trigger_jobs(Bucket=self.bucket, JobId=job_id)
        status = getattr(response, "status_code", 200)
        if status >= 300:
            raise CloudApiError("CancelInventoryTriggerJob", status, "Unknown", "unexpected status")

    # --- objects ------------------------------------------------------------------------------
    def put_object(self, key: str, data: bytes, content_type: str = "application/octet-stream",
                   *, if_absent: bool = False) -> str:
        """Write an object; with if_absent COS refuses (409 FileAlreadyExists) to replace an existing one."""
        extra = {"Metadata": {"x-cos-forbid-overwrite": "true"}} if if_absent else {}
        with translate_sdk_errors("PutObject"):
            result = self.sdk.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type, **extra)
        return str(result.get("ETag", "")).strip('"')

    def get_object(self, key: str) -> Optional[bytes]:
        """The object's bytes, or None if it does not exist."""
        def call() -> bytes:
            return self.sdk.get_object(Bucket=self.bucket, Key=key)["Body"].get_raw_stream().read()

        try:
            return self._read("GetObject", call)
        except CloudApiError as exc:
            if _absent(exc):
                return None
            raise

    def read_object_into(self, key: str, sink: Any, chunk_size: int = 1 << 20) -> bool:
        """Stream the object into the writable file `sink` (rewound on a retry), chunk by chunk; False if absent."""
        def call() -> bool:
            sink.seek(0)
            sink.truncate()
            raw = self.sdk.get_object(Bucket=self.bucket, Key=key)["Body"].get_raw_stream()
            for chunk in iter(lambda: raw.read(chunk_size), b""):
                sink.write(chunk)
            return True

        try:
            return self._read("GetObject", call)
        except CloudApiError as exc:
            if _absent(exc):
                return False
            raise

    def get_inventory_configuration(self, inventory_id: str) -> Optional[Dict[str, Any]]:
        """GET Bucket inventory: the configuration as the SDK's dict, or None when the bucket has no such id."""
        try:
            return self._read("GetBucketInventory",
                              lambda: self.sdk.get_bucket_inventory(Bucket=self.bucket, Id=inventory_id))
        except KeyError:
            # cos-python-sdk-v5 get_bucket_inventory indexes data['OptionalFields'] unconditionally
            # (qcloud_cos/cos_client.py @cc3bdf0), so a configuration without OptionalFields raises KeyError: read it
            # again as that method sends it, parsing the body the way it does, without that one line.
            return self._read("GetBucketInventory", lambda: self._bucket_inventory_without_fields(inventory_id))
        except CloudApiError as exc:
            if _absent(exc):
                return None
            raise

    def _bucket_inventory_without_fields(self, inventory_id: str) -> Dict[str, Any]:
        from qcloud_cos.cos_auth import CosS3Auth
        from qcloud_cos.cos_comm import xml_to_dict

        params = {"inventory": "", "id": inventory_id}
        response = self.sdk.send_request(method="GET", url=self.sdk._conf.uri(bucket=self.bucket), bucket=self.bucket,
                                         auth=CosS3Auth(self.sdk._conf, params=params), headers={}, params=params)
        return dict(xml_to_dict(response.content), OptionalFields=None)

    def head_object(self, key: str, version_id: str = "") -> Optional[Dict[str, str]]:
        """HEAD Object (of one version with version_id): the object's headers (ETag, Last-Modified, ...), or None if
        it does not exist."""
        # SDK cos_client.py head_object returns the response headers as a dict; HEAD Object answers Last-Modified,
        # the time COS wrote the object (cloud.tencent.com/document/product/436/7745), and takes versionId.
        extra = {"VersionId": version_id} if version_id else {}
        try:
            headers = self._read("HeadObject", lambda: self.sdk.head_object(Bucket=self.bucket, Key=key, **extra))
        except CloudApiError as exc:
            if exc.status == 404:
                return None
            raise
        return {str(k): str(v) for k, v in (headers or {}).items()}

    def delete_object(self, key: str, version_id: str = "") -> None:
        """DELETE Object; with version_id that one version (or delete marker) is removed for good (436/7743)."""
        extra = {"VersionId": version_id} if version_id else {}
        self._read("DeleteObject", lambda: self.sdk.delete_object(Bucket=self.bucket, Key=key, **extra))

    def copy_object(self, key: str, source_key: str, version_id: str = "") -> str:
        """PUT Object - Copy within the bucket (of one version with version_id), metadata copied: the new ETag."""
        # The SDK builds x-cos-copy-source from CopySource, appending ?versionId= (cos_comm.gen_copy_source_url);
        # x-cos-metadata-directive Copy keeps the source's metadata (cloud.tencent.com/document/product/436/10881).
        source: Dict[str, str] = {"Bucket": self.bucket, "Key": source_key, "Region": str(self.sdk._conf._region)}
        if version_id:
            source["VersionId"] = version_id
        data = self._read("PutObjectCopy", lambda: self.sdk.copy_object(
            Bucket=self.bucket, Key=key, CopySource=source, CopyStatus="Copy"))
        return str((data or {}).get("ETag", "")).strip('"')

    def put_object_acl(self, key: str, acl: str) -> None:
        """PUT Object acl with x-cos-acl (private, public-read, or default: the bucket's ACL, 436/7748)."""
        self._read("PutObjectACL", lambda: self.sdk.put_object_acl(Bucket=self.bucket, Key=key, ACL=acl))

    def bucket_versioning(self) -> str:
        """GET Bucket versioning: 'Enabled', 'Suspended', or '' for a bucket that never had it (436/19889)."""
        data = self._read("GetBucketVersioning", lambda: self.sdk.get_bucket_versioning(Bucket=self.bucket))
        return _text(_as_dict(data).get("Status"))

    def list_versions(self, key: str) -> List["ObjectVersion"]:
        """Every version and delete marker of exactly this key, newest first (GET Bucket ?versions, all pages)."""
        versions: List[ObjectVersion] = []
        key_marker = version_marker = ""
        while True:
            page = self._read("GetBucketObjectVersions", lambda km=key_marker, vm=version_marker: _as_dict(
                self.sdk.list_objects_versions(Bucket=self.bucket, Prefix=key, KeyMarker=km, VersionIdMarker=vm)))
            for kind, marker in (("Version", False), ("DeleteMarker", True)):
                for item in page.get(kind) or []:
                    if isinstance(item, dict) and item.get("Key") == key:
                        versions.append(ObjectVersion.of(item, delete_marker=marker))
            if str(page.get("IsTruncated", "false")).lower() != "true":
                break
            next_key, next_version = _text(page.get("NextKeyMarker")), _text(page.get("NextVersionIdMarker"))
            if (next_key, next_version) == (key_marker, version_marker) or not (next_key or next_version):
                raise PaginationError(f"GET Bucket ?versions of {key!r} said IsTruncated=true but gave no new marker")
            if next_key != key:
                break  # past this key: every version of it is listed
            key_marker, version_marker = next_key, next_version
        return sorted(versions, key=lambda v: (v.is_latest, v.last_modified or datetime.min.replace(
            tzinfo=timezone.utc)), reverse=True)

    def list_keys(self, prefix: str) -> List[str]:
        """Every key under prefix (all pages)."""
        return [key for page in self.iter_pages(prefix) for key in page.keys]

    def iter_pages(self, prefix: str, marker: str = "", delimiter: str = "") -> Iterator["ListPage"]:
        """Every GET Bucket page from marker on, until one says it is the last (or repeats the marker)."""
        while True:
            page = self.list_page(prefix, marker, delimiter)
            yield page
            if not page.next_marker:
                return
            marker = page.next_marker

    def list_page(self, prefix: str, marker: str = "", delimiter: str = "", max_keys: int = LIST_KEYS) -> "ListPage":
        """One GET Bucket page: keys, folder prefixes (with a delimiter), and the marker of the next page or ''."""
        contents, folders, after = self._list_objects(prefix, marker, delimiter, max_keys)
        keys = [item["Key"] for item in contents]
        return ListPage(keys, folders, "" if after is None or after == marker else after)

    def _list_objects(self, prefix: str, marker: str, delimiter: str = "", max_keys: int = LIST_KEYS,
                      ) -> Tuple[List[Dict[str, Any]], List[str], Optional[str]]:
        """One GET Bucket page as the SDK reads it: (Contents entries, folder prefixes, where the next page starts).

        The last is None on the last page, and '' on a truncated page that gives nothing to continue from."""
        extra = {"Delimiter": delimiter} if delimiter else {}
        page = self._read("GetBucket", lambda: self.sdk.list_objects(
            Bucket=self.bucket, Prefix=prefix, Marker=marker, MaxKeys=max_keys, **extra))
        contents = [item for item in page.get("Contents", []) or [] if isinstance(item, dict)]
        folders = [item["Prefix"] for item in page.get("CommonPrefixes", []) or []]
        if str(page.get("IsTruncated", "false")).lower() != "true":
            return contents, folders, None
        # A truncated page carries NextMarker (cloud.tencent.com/document/api/436/7734; cos-go-sdk-v5 bucket_test.go
        # has it without a delimiter), S3 only with one: read it when present, else go on after the last entry.
        return contents, folders, page.get("NextMarker") or max([c["Key"] for c in contents] + folders, default="")

    def count_objects(self, prefix: str, start: Optional[datetime], end: datetime, limit: int, *,
                      etags: bool = False) -> ObjectCount:
        """The objects a job with Input.Prefix=prefix and this window would process, counted by listing at most
        ceil(limit/1000) pages; past them complete is False and the count is "at least" (docs/benchmarks.md).
        `etags`: also keep each counted (key, ETag), which the listing carries anyway (no extra request)."""
        # What CI would take: every key under prefix ('' and '/' are the whole bucket, as lib.jobs sends
        # INPUT_PREFIX='/'), our own STATE_PREFIX, REPORT_PREFIX and abnormal_images_backup/ included, since a prefix
        # cannot leave folders out; folder markers (keys ending '/') are not objects. CI documents TimeInterval as
        # filtering on upload time without saying which ends it includes (cloud.tencent.com/document/api/436/76888),
        # so both ends are included, at whole seconds as CI receives them: the count is never below what CI
        # processes. start None: the job carries no TimeInterval (lib.jobs.build_job_body), CI's defaults are 0 and
        # now, so every object counts, end or not.
        if limit < 1:
            raise ValueError(f"count_objects: limit must be at least 1 object, got {limit}")
        # The bound is on listing cost, not on what the window keeps: a one-hour window over a prefix of ten million
        # objects lists all ten million keys, so the pages are what is capped.
        pages = -(-limit // LIST_KEYS)
        listed = "" if prefix in ("", "/") else prefix
        low = floor_second(start) if start is not None else None
        high = floor_second(end) if start is not None else None
        objects = calls = 0
        marker = ""
        pairs: Optional[List[Tuple[str, str]]] = [] if etags else None
        while calls < pages:
            contents, _, after = self._list_objects(listed, marker)
            calls += 1
            for item in contents:
                if str(item.get("Key", "")).endswith("/"):
                    continue
                moment = modified_at(item.get("LastModified"))
                # An unreadable LastModified counts: it may lie in the window, and the count must not be low.
                if moment is None or ((low is None or floor_second(moment) >= low)
                                      and (high is None or floor_second(moment) <= high)):
                    objects += 1
                    if pairs is not None:
                        pairs.append((str(item["Key"]), str(item.get("ETag") or "")))
            if after is None:
                return ObjectCount(objects=objects, complete=True, calls=calls,
                                   listed=None if pairs is None else tuple(pairs))
            if not after or after == marker:
                raise PaginationError(f"GET Bucket of {listed!r} said IsTruncated=true but gave no new marker after "
                                      f"{marker!r}; the count stops rather than loop or come out low")
            marker = after
        return ObjectCount(objects=objects, complete=False, calls=calls, listed=None if pairs is None else tuple(pairs))

    def presigned_get_url(self, key: str, expires: timedelta, version_id: str = "") -> str:
        """A GET URL for key (one version of it with version_id) signed locally with the client's credentials (no
        request is sent)."""
        params = {"versionId": version_id} if version_id else {}
        with translate_sdk_errors("GetPresignedUrl"):
            url = str(self.sdk.get_presigned_url(Bucket=self.bucket, Key=key, Method="GET",
                                                 Expired=int(expires.total_seconds()), Params=params))
        token = getattr(self.sdk._conf, "_token", None)
        if token:
            # get_presigned_url leaves a temporary key's token out, and COS refuses the URL without it (436/35153);
            # the Go SDK (object.go GetPresignedURL) and COS's presigned-URL page (436/68284) append it unsigned as
            # x-cos-security-token, and so do we: the signature stays that of a plain GET.
            url += ("&" if "?" in url else "?") + urlencode({"x-cos-security-token": str(token)})
        return url

    def delete_objects(self, keys: List[str]) -> None:
        """Delete the keys, 1000 per POST /?delete (Quiet), the documented most; a key already gone counts as deleted."""
        # A signed request needs only cos:DeleteObject on each key, which the role has under STATE_PREFIX
        # (cloud.tencent.com/document/api/436/8289 授权说明, read 2026-12-02).
        for start in range(0, len(keys), 1000):
            objects = [{"Key": k} for k in keys[start:start + 1000]]
            data = self._read("DeleteMultipleObjects", lambda o=objects: self.sdk.delete_objects(
                Bucket=self.bucket, Delete={"Object": o, "Quiet": "true"}))
            failed = data.get("Error") or []
            if failed:
                first = failed[0]
                raise CloudApiError("DeleteMultipleObjects", 500, str(first.get("Code", "Unknown")),
                                    f"{len(failed)} keys not deleted, first {first.get('Key')!r}")

    # --- per-object results of a batch job (used by the report) -------------------------------
    def list_media_jobs_page(self, batch_job_id: str, tag: str = "ImageInspect", next_token: str = "", *,
                             size: int = PAGE_SIZE, input_object: str = "") -> Tuple[List[InspectObjectResult], str]:
        """One page of `GET /jobs` filtered by the batch job that spawned them (and by one input key when given):
        (results, next token or '')."""
        # The SDK's ci_list_media_jobs has no inventoryTriggerJobId argument (reference §12): sign it ourselves.
        params = {"tag": tag, "inventoryTriggerJobId": batch_job_id, "size": str(size), "nextToken": next_token,
                  "orderByTime": "Asc", "states": "All"}
        if input_object:
            # inputObject: "该任务的输入文件名，暂仅支持精确匹配" (exact match only), cloud.tencent.com 460/78913,
            # intl 1045/50305.
            params["inputObject"] = input_object
        queue_id = self.media_queue_id()
        if queue_id:
            # The API page (cloud.tencent.com 436/54011 "拉取任务列表"; intl 1045/50305) lists queueId as required,
            # the SDK's ci_list_media_jobs as optional: send it when the bucket has a queue, go without otherwise.
            params["queueId"] = queue_id

        return self._read("DescribeMediaJobs", lambda: parse_media_jobs_page(self._signed_ci_get("jobs", params)))

    def _signed_ci_get(self, path: str, params: Dict[str, str]) -> bytes:
        """A CI GET signed and sent the way the SDK's own ci_* calls do (cos_client.py), its body unparsed, so it can
        be read keeping every key (read_xml_keeping_keys)."""
        from qcloud_cos.cos_auth import CosS3Auth

        conf = self.sdk._conf
        url = conf.uri(bucket=self.bucket, path=path, endpoint=conf._endpoint_ci)
        response = self.sdk.send_request(method="GET", url=url, bucket=self.bucket,
                                         auth=CosS3Auth(conf, path, params=params), params=params, headers={},
                                         ci_request=True)
        return response.content

    def media_queue_id(self) -> str:
        """The bucket's media-processing queue id (`GET /queue`, docs 436/54045), or '' when there is none or the
        lookup is refused; asked once per client, so once per invocation."""
        with self._queue_lock:
            if not self._queue_looked_up:
                self._queue_looked_up = True
                try:
                    data = self._read("DescribeMediaQueues", lambda: self.sdk.ci_get_media_queue(Bucket=self.bucket))
                except (CloudApiError, CloudUnavailableError) as exc:
                    # e.g. no ci:DescribeMediaQueues permission, or media processing not enabled: no queue today.
                    logger.info("media queue lookup refused (%s); listing per-object jobs without queueId", exc)
                    data = {}
                self._queue_id = pick_queue_id(data if isinstance(data, dict) else {})
            return self._queue_id or ""

    def iter_media_jobs(self, batch_job_id: str, tag: str = "ImageInspect", *,
                        input_object: str = "") -> Iterator[InspectObjectResult]:
        """Every per-object job one batch job spawned (only those on one input key when given), page by page; stops
        on a repeated token."""
        yield from paginate(lambda token: self.list_media_jobs_page(batch_job_id, tag, token,
                                                                    input_object=input_object))

    def list_workflow_executions_page(self, workflow_id: str, batch_job_id: str, next_token: str = "", *,
                                      size: int = PAGE_SIZE) -> ExecutionPage:
        """One page of the executions of one workflow that a Workflow-type batch job spawned."""
        # The request of the SDK's ci_list_workflowexecution, sent here so its body is read keeping every key (a
        # control character in one key made xml_to_dict refuse the whole page: issue 22).
        from qcloud_cos.cos_comm import format_dict

        params = {"workflowId": workflow_id, "name": "", "orderByTime": "Desc", "states": "All", "size": str(size),
                  "nextToken": next_token, "jobId": batch_job_id}

        def call() -> Dict[str, Any]:
            data = read_xml_keeping_keys(self._signed_ci_get("/workflowexecution", params))
            format_dict(data, ["WorkflowExecution"])
            return data

        data = self._read("DescribeWorkflowExecutions", call)
        return parse_execution_page(data if isinstance(data, dict) else {})

    def iter_workflow_executions(self, batch_job_id: str, workflow_id: str, *,
                                 on_unrecognised: Optional[Callable[[Tuple[str, ...]], None]] = None,
                                 ) -> Iterator[WorkflowExecutionItem]:
        """Every execution of one workflow that one batch job spawned, page by page; unread elements go to
        on_unrecognised."""
        def fetch(token: str) -> Tuple[List[WorkflowExecutionItem], str]:
            page = self.list_workflow_executions_page(workflow_id, batch_job_id, token)
            if page.unrecognised and on_unrecognised is not None:
                on_unrecognised(page.unrecognised)
            return page.items, page.next_token

        yield from paginate(fetch)


def pick_queue_id(data: Dict[str, Any]) -> str:
    """The queue per-object jobs list under: the first Active Transcoding queue (the documented default category),
    else the first Active one, else the first listed; '' when QueueList is empty."""
    raw = data.get("QueueList")
    queues = [q for q in (raw if isinstance(raw, list) else [raw]) if isinstance(q, dict) and _text(q.get("QueueId"))]
    ranked = sorted(queues, key=lambda q: (_text(q.get("State")) != "Active",
                                           _text(q.get("Category")) not in ("", "Transcoding")))
    return _text(ranked[0].get("QueueId")) if ranked else ""


def paginate(fetch: Callable[[str], Tuple[List[T], str]], *,
             on_page: Optional[Callable[[int], None]] = None) -> Iterator[T]:
    """Follow NextToken until it is missing or empty, or a page is empty; a repeated token is an error."""
    seen = set()
    token = ""
    pages = 0
    while True:
        items, next_token = fetch(token)
        pages += 1
        if on_page is not None:
            on_page(pages)
        yield from items
        if not items or not next_token:
            return
        if next_token in seen:
            raise PaginationError(f"the list API returned NextToken {next_token!r} twice; stopping to avoid a loop")
        seen.add(next_token)
        token = next_token


def make_sdk(settings: Settings, *, require_credentials: bool = True, pool_size: Optional[int] = None,
             counter: Optional[CallCounter] = None) -> Any:
    """Build the SDK client from settings: retries off (we retry ourselves), the emulator via Proxies, and a session
    of ours that counts every request into counter; with pool_size, a connection pool of its own of that size."""
    from qcloud_cos import CosConfig, CosS3Client

    secret_id = settings.secret_id.get_secret_value() if settings.secret_id else ""
    secret_key = settings.secret_key.get_secret_value() if settings.secret_key else ""
    missing = [n for n, v in (("TENCENTCLOUD_SECRETID", secret_id), ("TENCENTCLOUD_SECRETKEY", secret_key)) if not v]
    if require_credentials and missing:
        verb = "is" if len(missing) == 1 else "are"
        raise ConfigError([f"{' and '.join(missing)} {verb} not set: give the function a role "
                           "(serverless.yml `role`) so SCF injects temporary credentials"])
    token = settings.session_token.get_secret_value() if settings.session_token else None
    options: Dict[str, Union[str, float, Dict[str, str], None]] = {
        "Region": settings.region, "SecretId": secret_id or "anonymous", "SecretKey": secret_key or "anonymous",
        "Token": token or None, "Timeout": settings.api_timeout,
    }
    if settings.emulator_url:
        # Mode C of the reference: absolute-form requests through a proxy keep the real Host header.
        options.update(Scheme="http", Proxies={"http": settings.emulator_url.rstrip("/")})
    session = sized_session(pool_size) if pool_size else shared_pool_session()
    count_requests(session, counter if counter is not None else CallCounter())
    return CosS3Client(CosConfig(**options), retry=0, session=session)


def count_requests(session: Any, counter: CallCounter) -> None:
    """Make session add one to counter for every request it sends: each attempt, redirect and retry.

    The session is the one place every call of the client passes: the SDK sends each of its calls (and the
    hand-signed CI GETs, through send_request) with `self._session.<method>(...)` and uses the session for nothing
    else (qcloud_cos/cos_client.py CosS3Client.__init__ and send_request, tencentyun/cos-python-sdk-v5 @cc3bdf0,
    read 2026-12-07); requests routes each of those, and each redirect it follows, through Session.send."""
    send = session.send

    def counted_send(request: Any, **kwargs: Any) -> Any:
        counter.add()
        return send(request, **kwargs)

    session.send = counted_send


_shared_pool: Dict[int, Any] = {}  # process id -> the adapter every pool-less client's session shares
_shared_pool_lock = threading.Lock()


def shared_pool_session() -> Any:
    """A requests session of the client's own over the process's shared connection pool.

    It stands in for the SDK's built-in session (a class-level singleton: HTTPAdapter(PoolConnections=10,
    PoolMaxSize=10), remade after a fork; cos_client.py `__built_in_sessions`, cos-python-sdk-v5 @cc3bdf0), so a
    warm function reuses its connections across invocations as before, while each client counts its own requests."""
    import os

    import requests
    from requests.adapters import HTTPAdapter

    with _shared_pool_lock:
        adapter = _shared_pool.get(os.getpid())
        if adapter is None:
            _shared_pool.clear()  # another process's (before a fork): its connections are not ours to use
            adapter = _shared_pool[os.getpid()] = HTTPAdapter(pool_connections=10, pool_maxsize=10)
    session = requests.Session()
    for scheme in ("http://", "https://"):
        session.mount(scheme, adapter)
    return session


def sized_session(pool_size: int) -> Any:
    """A requests session that keeps up to pool_size connections per host.

    The SDK's built-in session is a class-level singleton sized by the first CosS3Client of the process (PoolMaxSize,
    default 10; qcloud_cos/cos_client.py `__built_in_sessions`, tencentyun/cos-python-sdk-v5 @cc3bdf0, read
    2026-12-02): threads beyond its size would open a connection per call and discard it ("Connection pool is
    full"). CosS3Client(conf, retry, session=...) takes ours instead."""
    from urllib.request import getproxies

    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    # requests re-reads the environment's proxy settings on every call (~11% of a report's CPU per call, measured
    # with cProfile); the SDK passes its own Proxies (the emulator's, or none in SCF). Only when no proxy is set in
    # the environment is that scan skipped, so an operator's HTTPS_PROXY (and NO_PROXY) still applies to the CLI.
    session.trust_env = bool(getproxies())
    for scheme in ("http://", "https://"):
        # pool_connections is how many hosts keep a pool: the bucket's COS and CI endpoints, with room to spare.
        session.mount(scheme, HTTPAdapter(pool_connections=4, pool_maxsize=pool_size))
    return session


def make_client(settings: Settings, *, sleep: Callable[[float], None] = time.sleep,
                pool_size: Optional[int] = None) -> CiClient:
    """The app's client, counting its requests (CiClient.calls); pool_size (the report's REPORT_CONCURRENCY) gives it
    a connection pool of its own."""
    counter = CallCounter()
    return CiClient(make_sdk(settings, pool_size=pool_size, counter=counter), settings.bucket, sleep=sleep,
                    counter=counter)
