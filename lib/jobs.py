"""Batch-job bodies (`POST /inventorytriggerjob`) and the deterministic names that make creation idempotent."""

import hashlib
import re
from datetime import datetime
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from lib.config import Settings, is_name_char, is_name_text
from lib.events import UploadedObject
from lib.windows import Window, compact, format_ci_time

NAME_MAX = 128
# CI's documented batch-job ids are `b` + 32 hex digits (DescribeInventoryTriggerJob sample, reference §batch jobs);
# the SDK's demos use shorter `b000000001`. Both are accepted; '', '/', '..', '?' and spaces never go on the wire.
_BATCH_JOB_ID = re.compile(r"^b[0-9A-Za-z]{1,63}$")
COS_OBJECT_URL = re.compile(r"^https?://[a-z0-9-]+-\d+\.cos\.[a-z0-9-]+\.myqcloud\.com/[^\s]+$")


class _WireModel(BaseModel):
    # Field names mirror CI's XML elements; declaration order is element order on the wire.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Interval(_WireModel):
    Start: str
    End: str


def xml_carries(key: str) -> bool:
    """Whether an XML element's text carries `key` to CI exactly as it is; if not, it must travel in a UrlFile line.

    The SDK writes the body with xmltodict.unparse (cos_comm.py format_xml), which escapes only &, < and >.
    XML 1.0 (w3.org/TR/xml §2.2 Char) cannot hold C0 controls but tab, LF and CR, nor U+FFFE/U+FFFF, and a parser
    turns a raw CR or CRLF into LF (§2.11), so `x\r.png` would name `x\n.png`. Controls, line separators and
    leading or trailing whitespace are kept out too: how CI trims them is not published (inference), and the
    emulator trims."""
    return key == key.strip() and not any(_xml_unsafe(c) for c in key)


def _xml_unsafe(c: str) -> bool:
    code = ord(c)
    # Outside Char (§2.2): C0 controls but tab/LF/CR, surrogates, U+FFFE/U+FFFF. Kept out as well: tab, LF and CR
    # (CR is rewritten, §2.11), DEL and C1 controls (§2.2 discourages them; XML 1.1 reads U+0085 as a line end),
    # and U+2028/U+2029 (XML 1.1 line ends).
    return (code < 0x20 or 0x7F <= code <= 0x9F or 0xD800 <= code <= 0xDFFF or code in (0xFFFE, 0xFFFF)
            or code in (0x2028, 0x2029))


class JobInput(_WireModel):
    """Exactly one of Prefix, Object, UrlFile, Manifest; UrlFile and Manifest are object URLs, not keys."""

    Prefix: Optional[str] = None
    Object: Optional[str] = None
    UrlFile: Optional[str] = None
    Manifest: Optional[str] = None

    @field_validator("Object")
    @classmethod
    def _carried_by_xml(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not xml_carries(v):
            raise ValueError(f"Input.Object {v[:200]!r} holds a character XML cannot carry exactly (a control "
                             "character, CR, or leading/trailing whitespace); send it as a UrlFile line instead")
        return v

    @field_validator("UrlFile", "Manifest")
    @classmethod
    def _object_url(cls, v: Optional[str], info: Any) -> Optional[str]:
        # The seed's example and the SDK demo (demo/ci_media.py) both give the file's URL; CI fetches it.
        if v is not None and not COS_OBJECT_URL.match(v):
            raise ValueError(f"Input.{info.field_name} {v[:200]!r} is not a COS object URL; give "
                             f"https://<bucket>.cos.<region>.myqcloud.com/<percent-encoded key>, e.g. from object_url()")
        return v

    @model_validator(mode="after")
    def _one_kind(self) -> "JobInput":
        given = [k for k in ("Prefix", "Object", "UrlFile", "Manifest") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"Input needs exactly one of Prefix, Object, UrlFile, Manifest (got {given or 'none'})")
        return self


class ImageInspectParam(_WireModel):
    AutoProcess: str
    ProcessType: str


class InspectJobParam(_WireModel):
    ImageInspect: ImageInspectParam


class Operation(_WireModel):
    TimeInterval: Optional[Interval] = None
    WorkflowIds: Optional[Union[str, Tuple[str, ...]]] = None
    Tag: Optional[str] = None
    JobParam: Optional[InspectJobParam] = None


class JobBody(_WireModel):
    """The `<Request>` of a batch-job create call."""

    Name: str
    Type: str
    Input: JobInput
    Operation: Operation

    @field_validator("Name")
    @classmethod
    def _name(cls, v: str) -> str:
        if len(v) > NAME_MAX or not is_name_text(v):
            raise ValueError(f"job Name {v!r} breaks CI's rules: 1-128 letters, digits, Chinese, '-' or '_'")
        return v

    def to_sdk(self) -> Dict[str, Any]:
        """The dict the SDK serialises with xmltodict: None dropped, a tuple of ids becomes repeated elements."""
        data = self.model_dump(exclude_none=True)
        ids = data["Operation"].get("WorkflowIds")
        if isinstance(ids, tuple):
            data["Operation"]["WorkflowIds"] = list(ids)
        return data


def build_job_body(settings: Settings, name: str, job_input: JobInput, window: Optional[Window]) -> JobBody:
    """Build the body for the configured job kind (ImageInspect Job or Workflow) over one input."""
    interval = None
    if window is not None and window.start is not None:
        interval = Interval(Start=format_ci_time(window.start), End=format_ci_time(window.end))
    if settings.job_type == "Workflow":
        ids = settings.workflow_ids
        operation = Operation(TimeInterval=interval, WorkflowIds=ids[0] if len(ids) == 1 else ids)
    else:
        operation = Operation(
            TimeInterval=interval,
            Tag="ImageInspect",
            JobParam=InspectJobParam(ImageInspect=ImageInspectParam(
                AutoProcess="true" if settings.inspect_auto_process else "false",
                ProcessType=settings.inspect_process_type,
            )),
        )
    return JobBody(Name=name, Type=settings.job_type, Input=job_input, Operation=operation)


def _safe_part(text: str, limit: int) -> str:
    cleaned = "".join(c if is_name_char(c) else "_" for c in text)
    if len(cleaned) <= limit:
        return cleaned
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return f"{cleaned[:limit - 9]}_{digest}"


def timer_job_name(prefix: str, rule: str, window: Window) -> str:
    """`<prefix>-<rule>-<start>-<end>` in UTC: the same (rule, window) always gives the same name."""
    start = compact(window.start) if window.start is not None else "all"
    return f"{prefix}-{_safe_part(rule, 40)}-{start}-{compact(window.end)}"


def upload_digest(objects: Sequence[UploadedObject]) -> str:
    """A short hash of what was uploaded; a redelivered event hashes the same, a new upload does not."""
    lines = sorted(f"{o.bucket}\n{o.key}\n{o.etag}\n{o.size}\n{o.version_id}\n{o.request_id}" for o in objects)
    return hashlib.sha256("\n\n".join(lines).encode("utf-8")).hexdigest()[:20]


def upload_job_name(prefix: str, digest: str) -> str:
    return f"{prefix}-upload-{digest}"


def upload_batch_job_name(prefix: str, slot: datetime, n: int) -> str:
    """`<prefix>-upload-batch-<slot start, UTC>-<n>`: one name per batch, so a takeover finds the job it made."""
    return f"{prefix}-upload-batch-{compact(slot)}-{n}"


def inventory_job_name(prefix: str, inventory_id: str, day: str, n: int) -> str:
    """`<prefix>-inv-<inventory id>-<YYYYMMDD>-<n>`: the report's (id, date) and the part, so a takeover finds it."""
    cleaned = _safe_part(inventory_id, 40)
    if cleaned == inventory_id.replace(".", "_") and "." in inventory_id:
        # '.' is allowed in an inventory id, not in a job name: keep `a.b` and `a_b` apart.
        cleaned = f"{cleaned[:31]}_{hashlib.sha256(inventory_id.encode('utf-8')).hexdigest()[:8]}"
    return f"{prefix}-inv-{cleaned}-{day}-{n}"


def is_batch_job_id(text: str) -> bool:
    """Whether text has the form of a batch-job id, so it may go into a URL path (GET /inventorytriggerjob/<id>)."""
    return bool(_BATCH_JOB_ID.match(text))


def is_our_job(name: Optional[str], prefix: str) -> bool:
    return bool(name) and str(name).startswith(f"{prefix}-")


def object_url(bucket: str, region: str, key: str) -> str:
    """The object's COS URL, key percent-encoded so spaces, '+', '%', CJK and `.`/`..` segments survive."""
    return f"https://{bucket}.cos.{region}.myqcloud.com/{_encoded_path(key)}"


def _encoded_path(key: str) -> str:
    # A `.` or `..` segment is removed by any client that resolves the URL (RFC 3986 §5.2.4 remove_dot_segments), so
    # `a/../b.png` would name `b.png`; `%2E` is not a dot segment (§6.2.2.3). The SDK guards the same way: its
    # CosConfig.uri writes `./` as `.%2F` (cos_client.py). COS keys are opaque, so the decoded key is unchanged.
    segments = quote(key, safe="/-_.~").split("/")
    return "/".join(s.replace(".", "%2E") if s in (".", "..") else s for s in segments)


def manifest_lines(bucket: str, region: str, keys: List[str]) -> str:
    """A UrlFile's content: one object URL per line."""
    return "".join(f"{object_url(bucket, region, k)}\n" for k in keys)
