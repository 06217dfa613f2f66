"""Records the backend keeps: objects, batch jobs, per-object ImageInspect jobs, workflows, executions."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any, Dict, List, Optional

TERMINAL_STATES = ("Success", "Failed", "Cancel")
JOB_STATES = ("Submitted", "Running", "Success", "Failed", "Pause", "Cancel")
PROCESS_TYPES = ("BackupObject", "SwitchObjectToPrivate", "DeleteObject")
BACKUP_PREFIX = "abnormal_images_backup/"


def _dt_out(value: Optional[datetime]) -> Optional[str]:
    return value.isoformat() if value is not None else None


def _dt_in(value: Optional[str]) -> Optional[datetime]:
    return datetime.fromisoformat(value) if value else None


class _Record:
    """JSON round-trip for dataclass records whose datetime fields end in ``_time``/``_modified``."""

    _transient: tuple = ()

    def to_json(self) -> Dict[str, Any]:
        out = {}
        for f in fields(self):  # type: ignore[arg-type]
            if f.name in self._transient:
                continue
            value = getattr(self, f.name)
            out[f.name] = _dt_out(value) if isinstance(value, datetime) else value
        return out

    @classmethod
    def from_json(cls, data: Dict[str, Any]):
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        kwargs = {}
        for name, value in data.items():
            if name not in names:
                continue
            if (name.endswith("_time") or name == "last_modified") and isinstance(value, str):
                value = _dt_in(value)
            kwargs[name] = value
        return cls(**kwargs)


@dataclass
class ObjectRecord(_Record):
    """One stored object. ``acl`` is 'default', 'private' or 'public-read'; ``metadata`` maps user-metadata
    names (without ``x-cos-meta-``) to values; ``etag`` is the quoted MD5 hex, as COS sends it; ``headers`` keeps
    the standard headers sent on PUT that GET/HEAD return (Cache-Control, Content-Disposition, …).
    ``version_id`` is '' in a bucket that never had versioning; a delete marker has no data, ETag or ACL."""

    key: str
    data: bytes
    etag: str
    content_type: str
    last_modified: datetime
    metadata: Dict[str, str] = field(default_factory=dict)
    acl: str = "default"
    headers: Dict[str, str] = field(default_factory=dict)
    version_id: str = ""
    delete_marker: bool = False
    _transient = ("data",)

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class BatchJob(_Record):
    """A batch job (``/inventorytriggerjob``). ``input_xml``/``operation_xml`` are the request's elements,
    echoed verbatim in responses."""

    job_id: str
    seq: int
    bucket: str
    region: str
    name: str
    type: str
    tag: str
    state: str
    creation_time: datetime
    input_kind: str
    input_value: str
    input_xml: str
    operation_xml: str
    code: str = "Success"
    message: str = ""
    start_time: Optional[datetime] = None
    end_time: Optional[datetime] = None
    interval_start: Optional[str] = None
    interval_end: Optional[str] = None
    workflow_ids: List[str] = field(default_factory=list)
    auto_process: bool = False
    process_type: str = "BackupObject"
    processed: int = 0


@dataclass
class InspectJob(_Record):
    """The per-object ImageInspect job a batch job or workflow execution spawns (listed under ``GET /jobs``).

    ``result`` is the detector's dict (Tencent field names) when inspection ran; ``auto_code``/``auto_message``
    are set when AutoProcess acted on a suspicious image."""

    job_id: str
    seq: int
    bucket: str
    region: str
    key: str
    state: str
    creation_time: datetime
    auto_process: bool
    process_type: str
    code: str = "Success"
    message: str = ""
    start_time: Optional[datetime] = None
    end_time: Optional[datetime] = None
    result: Optional[Dict[str, Any]] = None
    auto_code: Optional[str] = None
    auto_message: Optional[str] = None
    batch_job_id: str = ""
    workflow_id: str = ""
    run_id: str = ""


@dataclass
class Workflow(_Record):
    """A workflow whose nodes are Start, ImageInspect nodes and End; ``nodes`` lists the ImageInspect nodes in
    topology order as ``{"name", "auto_process", "process_type"}``."""

    workflow_id: str
    seq: int
    bucket: str
    name: str
    state: str
    creation_time: datetime
    update_time: datetime
    topology_xml: str
    nodes: List[Dict[str, Any]] = field(default_factory=list)


@dataclass
class WorkflowExecution(_Record):
    """One run of a workflow on one object."""

    run_id: str
    seq: int
    bucket: str
    workflow_id: str
    workflow_name: str
    key: str
    state: str
    creation_time: datetime
    end_time: Optional[datetime] = None
    batch_job_id: str = ""
    task_job_ids: List[str] = field(default_factory=list)
    task_names: List[str] = field(default_factory=list)


@dataclass(frozen=True)
class ObjectVersion:
    """One entry of GET Bucket ?versions: an object version, or a delete marker (no data, ETag '')."""

    key: str
    version_id: str
    is_latest: bool
    is_delete_marker: bool
    etag: str
    data: bytes
    last_modified: datetime

    @property
    def size(self) -> int:
        return len(self.data)


def record_copy(record):
    """Shallow copy of a dataclass record (callers get snapshots, not live state)."""
    return type(record)(**{f.name: getattr(record, f.name) for f in fields(record)})


__all__ = ["ObjectRecord", "ObjectVersion", "BatchJob", "InspectJob", "Workflow", "WorkflowExecution", "asdict",
           "TERMINAL_STATES", "JOB_STATES", "PROCESS_TYPES", "BACKUP_PREFIX", "record_copy"]
