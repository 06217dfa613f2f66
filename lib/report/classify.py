"""What a batch job is in a report: its group, its age, whether it is stuck, failing, in the window, ours."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional

from lib.client import InspectObjectResult, JobDetail
from lib.config import Settings
from lib.jobs import is_our_job
from lib.report.models import JobLine
from lib.windows import as_utc, floor_second, parse_ci_time

STUCK_STATES = frozenset({"Submitted", "Running"})


def group_of(job: JobDetail) -> str:
    """The Tag of a Job-type job (ImageInspect, …) or the workflow ids of a Workflow-type one."""
    if job.Type == "Workflow":
        return ",".join(job.workflow_ids) or "-"
    return job.inspect_tag or "-"


def age_of(job: JobDetail, now: datetime) -> Optional[timedelta]:
    created = created_at(job)
    return None if created is None else as_utc(now) - created


def is_stuck(job: JobDetail, now: datetime, stuck_after: timedelta) -> bool:
    """Submitted or Running for longer than stuck_after (strictly), counted from its creation."""
    age = age_of(job, now)
    return job.State in STUCK_STATES and age is not None and age > stuck_after


def in_window(job: JobDetail, start: datetime, end: datetime) -> bool:
    """Created in [start, end) at whole seconds; a job whose creation time CI did not give is kept (the server
    filtered it).

    The batch-job list documents startCreationTime as inclusive (大于等于) and endCreationTime as inclusive too
    (小于等于, cloud.tencent.com/document/product/436/71518), so a job created on the end second comes back in
    this report's list and in the next one's: it is left to the next report, which starts on that second, and so
    is counted once. Bounds are whole seconds because CreationTime and the list bounds carry no finer time."""
    created = created_at(job)
    return created is None or floor_second(start) <= created < floor_second(end)


def is_failing(failed: int, total: int, fail_above: Optional[float]) -> bool:
    return fail_above is not None and total > 0 and failed / total > fail_above


def created_at(job: JobDetail) -> Optional[datetime]:
    try:
        return parse_ci_time(job.CreationTime)
    except ValueError:
        return None


def job_line(job: JobDetail, now: datetime) -> JobLine:
    age = age_of(job, now)
    return JobLine(job_id=job.JobId, name=job.Name, type=job.Type, group=group_of(job), state=job.State,
                   code=job.Code, message=job.Message, created=created_at(job),
                   age_seconds=int(age.total_seconds()) if age is not None else None)


def action_of(result: InspectObjectResult) -> str:
    if not (result.action_code or result.action_message):
        return ""
    return " ".join(p for p in (result.action_code, result.action_message) if p)


def in_scope(settings: Settings, job: JobDetail) -> bool:
    """Our jobs (named JOB_NAME_PREFIX-*), or every job with REPORT_ALL_JOBS."""
    return settings.report_all_jobs or is_our_job(job.Name, settings.job_name_prefix)
