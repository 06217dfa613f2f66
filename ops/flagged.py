"""Flagged images across batch jobs, read from CI: what hides inside, what CI did, where the image is now.

The flags come from CI's per-object ImageInspect results (never from the bucket), so an object an attacker plants
under abnormal_images_backup/ is never taken for a flagged image; the review state joins them by key and time."""

from __future__ import annotations

from datetime import datetime
from typing import Iterator, List, Literal, Optional

from pydantic import BaseModel, ConfigDict

from lib.client import CiClient, InspectObjectResult, JobDetail
from lib.config import BACKUP_PREFIX, Settings
from lib.jobs import is_our_job
from lib.review import Action, ReviewRecord, reviewed_after
from lib.windows import format_ci_time, parse_ci_time

Status = Literal["pending", "restored", "released"]
_ACTIONS = ("BackupObject", "SwitchObjectToPrivate", "DeleteObject")


class FlaggedImage(BaseModel):
    """One image a batch job flagged, with what CI did to it and the operator's decision (if any)."""

    model_config = ConfigDict(frozen=True)
    key: str
    size: Optional[int] = None  # the image's size: CI's SuspiciousEndByte + 1 (the hidden data runs to the end)
    hidden_type: str = ""
    begin_byte: Optional[int] = None
    end_byte: Optional[int] = None
    hidden_size: Optional[int] = None
    action: Action = "none"  # what CI did: the job's ProcessType when AutoProcess was on and CI says it succeeded
    action_result: str = ""  # CI's AutoProcessResult (code and message), as it said it
    job_id: str
    job_name: str = ""
    flagged_at: Optional[datetime] = None  # the batch job's creation time
    inspect_job_id: str = ""
    status: Status = "pending"
    decided_at: Optional[datetime] = None

    @property
    def backup_key(self) -> str:
        return BACKUP_PREFIX + self.key

    @property
    def location(self) -> str:
        """Where CI left the image: the backup copy, the key itself (private or untouched), or nowhere (deleted)."""
        if self.action == "BackupObject":
            return self.backup_key
        return "" if self.action == "DeleteObject" else self.key


def requested_action(job: JobDetail) -> Action:
    """What the batch job asked CI to do to a flagged image: its JobParam.ImageInspect, or none (AutoProcess off)."""
    param = job.Operation.get("JobParam")
    inspect = (param if isinstance(param, dict) else {}).get("ImageInspect")
    inspect = inspect if isinstance(inspect, dict) else {}
    if str(inspect.get("AutoProcess", "false")).strip().lower() != "true":
        return "none"
    process = str(inspect.get("ProcessType") or "BackupObject").strip()  # BackupObject is CI's default
    return process if process in _ACTIONS else "none"  # type: ignore[return-value]


def action_taken(job: JobDetail, result: InspectObjectResult) -> Action:
    """The job's action, unless CI's AutoProcessResult says it failed (a code other than Success/0, or Failed)."""
    code = result.action_code.strip().lower()
    if code and code not in ("success", "0"):
        return "none"
    return requested_action(job)


def flag_of(job: JobDetail, result: InspectObjectResult) -> FlaggedImage:
    action_result = " ".join(p for p in (result.action_code, result.action_message) if p)
    try:
        flagged_at: Optional[datetime] = parse_ci_time(job.CreationTime)
    except ValueError:
        flagged_at = None
    return FlaggedImage(key=result.key, size=None if result.end_byte is None else result.end_byte + 1,
                        hidden_type=result.suspicious_type, begin_byte=result.begin_byte, end_byte=result.end_byte,
                        hidden_size=result.suspicious_size, action=action_taken(job, result),
                        action_result=action_result, job_id=job.JobId, job_name=job.Name, flagged_at=flagged_at,
                        inspect_job_id=result.job_id)


def with_review(flag: FlaggedImage, records: List[ReviewRecord]) -> FlaggedImage:
    """The flag with the operator's decision on its key made after the flag (restoring/releasing count as made)."""
    record = reviewed_after(records, flag.key, flag.flagged_at)
    if record is None:
        return flag
    status: Status = "released" if record.decision in ("released", "releasing") else "restored"
    return flag.model_copy(update={"status": status, "decided_at": record.decided_at})


def inspect_jobs(settings: Settings, client: CiClient, start: datetime, end: datetime) -> Iterator[JobDetail]:
    """Our ImageInspect batch jobs created in [start, end] (all of them with REPORT_ALL_JOBS)."""
    for job in client.iter_jobs("Job", States="All", OrderByTime="Asc", StartCreationTime=format_ci_time(start),
                                EndCreationTime=format_ci_time(end)):
        if job.per_object_kind == "ImageInspect" and (settings.report_all_jobs
                                                      or is_our_job(job.Name, settings.job_name_prefix)):
            yield job


def read_flagged(settings: Settings, client: CiClient, start: datetime, end: datetime,
                 records: List[ReviewRecord]) -> List[FlaggedImage]:
    """Every image our ImageInspect jobs of [start, end] flagged, oldest job first, each with its review status."""
    out = []
    for job in inspect_jobs(settings, client, start, end):
        for result in client.iter_media_jobs(job.JobId):
            if result.suspicious and result.key:
                out.append(with_review(flag_of(job, result), records))
    return out
