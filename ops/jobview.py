"""How the CLI shows batch jobs to a person: one time zone, state words, plurals, and what a job did per object."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Sequence

from lib.client import CiClient, JobDetail
from lib.escape import terminal
from lib.report.classify import group_of
from lib.report.models import ObjectLine
from lib.report.objects import read_job_objects as report_objects
from lib.report.render import outcome_text, plural, table
from lib.submit.ensure import describe_input
from lib.windows import CST, as_utc, parse_ci_time

# Human output uses one zone: UTC (as the report and every job name do); `--tz CST` shows CI's own +08:00 instead.
ZONES = {"UTC": timezone.utc, "CST": CST}
STATE_WORDS = {"Submitted": "submitted, not started yet", "Running": "running", "Success": "finished",
               "Failed": "failed", "Pause": "paused", "Cancel": "cancelled"}
TERMINAL = frozenset({"Success", "Failed", "Cancel"})


def state_word(state: str) -> str:
    """`Cancel` -> `cancelled`: what a person would say, for sentences (tables keep CI's word)."""
    return STATE_WORDS.get(state, state or "in an unknown state")


def show_time(moment: Optional[datetime], zone: str) -> str:
    if moment is None:
        return "-"
    local = as_utc(moment).astimezone(ZONES[zone])
    return local.strftime("%Y-%m-%d %H:%M:%S") + ("Z" if zone == "UTC" else "+08:00")


def show_ci_time(text: str, zone: str) -> str:
    """CI's `2026-11-28T10:00:00+0800` (or `-`) in the output's zone; text CI sent that is not a time stays as is."""
    try:
        return show_time(parse_ci_time(text), zone)
    except ValueError:
        return text


def jobs_table(jobs: Sequence[JobDetail], zone: str) -> str:
    """One row per job; INPUT is what CI holds for it (lib.submit.ensure.describe_input), never a setting."""
    rows = [(j.JobId, j.Type, group_of(j), j.State, show_ci_time(j.CreationTime, zone), j.Name,
             describe_input(j) or "-") for j in jobs]
    return table(("JOB", "TYPE", "TAG/WORKFLOW", "STATE", "CREATED", "NAME", "INPUT"), rows) + "\n"


@dataclass
class JobObjectsView:
    """What one batch job did per object, as `jobs get` shows it: counts by state and the objects worth a look.

    Built from the report's lib.report.models.JobObjects (same counts, its notes added) and named apart from it."""

    kind: str = ""
    by_state: Dict[str, int] = field(default_factory=dict)
    flagged: int = 0
    acted: int = 0
    notable: List[ObjectLine] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return self.by_state.get("Failed", 0)

    @property
    def problem(self) -> bool:
        return bool(self.flagged or self.failed)

    def to_json(self) -> Dict[str, Any]:
        return {"kind": self.kind, "by_state": self.by_state, "flagged": self.flagged, "acted": self.acted,
                "objects": [o.model_dump() for o in self.notable], "notes": self.notes}


def read_job_objects(client: CiClient, job: JobDetail) -> JobObjectsView:
    """The report's own per-object reader run over one job, so `jobs get` and the report cannot disagree."""
    if job.State == "Submitted":  # a job that has not started has spawned nothing to list
        return JobObjectsView()
    read, notes = report_objects(client, job)
    # The JSON names a kind only beside listed objects, as it did before the report gave this seam.
    return JobObjectsView(kind=read.kind if read.objects else "", by_state=dict(read.by_state), flagged=read.suspicious,
                          acted=read.acted, notable=list(read.objects), notes=list(notes))


def _offsets(obj: ObjectLine) -> str:
    return "" if obj.begin_byte is None else f"bytes {obj.begin_byte}-{obj.end_byte}"


# Why a job has no per-object results, by its state: "(yet)" only where more may still come.
NO_RESULTS = {
    "Submitted": "no per-object results yet: the job has not started",
    "Running": "no per-object results yet: the job is running",
    "Success": "no per-object results: the job finished and its input matched no object",
    "Failed": "no per-object results: the job failed before reaching any object (see code and message)",
    "Cancel": "no per-object results: the job was cancelled before reaching any object",
    "Pause": "no per-object results yet: the job is paused",
}


def objects_summary(objects: JobObjectsView, state: str) -> str:
    """`3 objects: 2 Success, 1 Failed; 1 image flagged, 1 acted on` (or why there is nothing to show)."""
    total = sum(objects.by_state.values())
    if not total:
        return objects.notes[0] if objects.notes else NO_RESULTS.get(state, "no per-object results")
    states = ", ".join(f"{n} {state}" for state, n in objects.by_state.items())
    text = f"{plural(total, 'object')}: {states}"
    if objects.flagged:
        text += f"; {plural(objects.flagged, 'image')} flagged, {objects.acted} acted on"
    return text


def job_view(job: JobDetail, objects: JobObjectsView, zone: str) -> str:
    """One job as `field  value` lines, then a table of its flagged and failed objects."""
    rows = [("job", job.JobId), ("name", job.Name), ("type", f"{job.Type} ({group_of(job)})"),
            ("state", f"{state_word(job.State)} ({job.State})"), ("created", show_ci_time(job.CreationTime, zone)),
            ("started", show_ci_time(job.StartTime, zone)), ("ended", show_ci_time(job.EndTime, zone)),
            ("input", ", ".join(f"{k}={v}" for k, v in job.Input.items()) or "-")]
    if job.State == "Failed" or (job.Code and job.Code != "Success"):
        rows += [("code", job.Code), ("message", job.Message or "-")]
    rows.append(("objects", objects_summary(objects, job.State)))
    width = max(len(k) for k, _ in rows)
    text = "\n".join(f"{k.ljust(width)}  {terminal(v)}" for k, v in rows) + "\n"
    if objects.notable:
        text += "\n" + table(("OBJECT", "STATE", "FOUND", "OFFSETS", "ACTION/ERROR"),
                             [(o.key, o.state, o.suspicious_type, _offsets(o), outcome_text(o))
                              for o in objects.notable]) + "\n"
    return text


def elapsed(seconds: float) -> str:
    whole = timedelta(seconds=int(seconds))
    return str(whole) if whole >= timedelta(hours=1) else f"{whole.seconds // 60}m{whole.seconds % 60:02d}s"
