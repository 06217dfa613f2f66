"""Making a batch job exactly once: find it by name, check a found one does what we ask, else create it."""

from datetime import datetime
from typing import Callable, List, Optional, Tuple

from lib import logs
from lib.client import CiClient, JobDetail
from lib.errors import AppError, CloudApiError, CloudUnavailableError, JobMismatchError
from lib.jobs import JobBody
from lib.windows import parse_ci_time

CREATE_ATTEMPTS = 3


def find_live_job(client: CiClient, name: str, job_type: str) -> Optional[JobDetail]:
    """A job with exactly this name that has not failed or been cancelled."""
    for job in client.iter_jobs(job_type, Name=name, States="All"):
        if job.Name == name and job.live:
            return job
    return None


def ensure_job(client: CiClient, body: JobBody, sleep: Callable[[float], None]) -> Tuple[JobDetail, bool]:
    """Create the job unless one with its name is live; look the name up before every attempt.

    After a create that got no answer (timeout, reset) the request may still be in flight and land after our
    lookup, so this run never creates again: it looks once more and, if the job is not there yet, fails loudly.
    The next run (SCF's retry a minute later) takes over the abandoned lease and looks the name up first.
    A job found by name must do what `body` asks (check_found_job), or JobMismatchError."""
    last: Optional[AppError] = None
    for attempt in range(CREATE_ATTEMPTS):
        existing = find_live_job(client, body.Name, body.Type)
        if existing is not None:
            return check_found_job(existing, body), False
        if isinstance(last, CloudUnavailableError):
            raise last
        try:
            return client.create_job(body), True
        except CloudApiError as exc:
            if not exc.retryable:
                raise
            last = exc
        except CloudUnavailableError as exc:
            last = exc  # the create may have happened or may still happen: look, but never create again
        logs.log("create_retry", job_name=body.Name, attempt=attempt + 1, error=str(last))
        sleep(0.5 * (2 ** attempt))
    existing = find_live_job(client, body.Name, body.Type)
    if existing is not None:
        return check_found_job(existing, body), False
    assert last is not None
    raise last


_INPUT_KINDS = ("Prefix", "Object", "UrlFile", "Manifest")


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _interval(value: object) -> Optional[Tuple[Optional[datetime], Optional[datetime]]]:
    """A TimeInterval as instants (CI answers in +0800, we send +0800 too, either may be Z); None when absent."""
    if not isinstance(value, dict):
        return None
    try:
        return tuple(parse_ci_time(_text(value.get(k))) for k in ("Start", "End"))  # type: ignore[return-value]
    except ValueError:
        return (None, None)


def job_differences(found: JobDetail, body: JobBody) -> List[Tuple[str, str, str]]:
    """(field, found value, our value) for each field of `body` the found job does otherwise.

    Compared: Type, Input (all four kinds), TimeInterval (as instants), WorkflowIds (as a list, however CI groups
    them), and, where the answer carries them, Operation.Tag and JobParam.ImageInspect (AutoProcess case-blind).
    The documented DescribeInventoryTriggerJob sample (tests/contract/samples) has no Tag; the Go SDK's
    InventoryTriggerJobOperation declares Tag and JobParam, both omitempty, so their absence is tolerated."""
    ours = body.to_sdk()
    out: List[Tuple[str, str, str]] = []
    if found.Type != body.Type:
        out.append(("Type", found.Type, body.Type))
    for kind in _INPUT_KINDS:
        there = _text(found.Input[kind]) if kind in found.Input else None
        here = _text(ours["Input"][kind]) if kind in ours["Input"] else None
        if (there is None) != (here is None) or _input_value(kind, there) != _input_value(kind, here):
            out.append((f"Input.{kind}", "(none)" if there is None else there, "(none)" if here is None else here))
    operation = ours["Operation"]
    there_interval, here_interval = _interval(found.Operation.get("TimeInterval")), _interval(
        operation.get("TimeInterval"))
    if there_interval != here_interval:
        out.append(("Operation.TimeInterval", _shown_interval(found.Operation.get("TimeInterval")),
                    _shown_interval(operation.get("TimeInterval"))))
    if "WorkflowIds" in operation or found.workflow_ids:
        here_ids = operation.get("WorkflowIds") or []
        here_ids = tuple(here_ids if isinstance(here_ids, list) else [here_ids])
        if found.workflow_ids != here_ids:
            out.append(("Operation.WorkflowIds", ",".join(found.workflow_ids) or "(none)",
                        ",".join(here_ids) or "(none)"))
    if found.Operation.get("Tag") is not None and _text(found.Operation.get("Tag")) != _text(operation.get("Tag")):
        out.append(("Operation.Tag", _text(found.Operation.get("Tag")), _text(operation.get("Tag")) or "(none)"))
    param = found.Operation.get("JobParam")
    there_inspect = param.get("ImageInspect") if isinstance(param, dict) else None
    here_inspect = (operation.get("JobParam") or {}).get("ImageInspect")
    if isinstance(there_inspect, dict):
        for item in ("AutoProcess", "ProcessType"):
            a, b = _text(there_inspect.get(item)), _text((here_inspect or {}).get(item))
            if (a.lower() != b.lower()) if item == "AutoProcess" else (a != b):  # CI may answer True/true
                out.append((f"Operation.JobParam.ImageInspect.{item}", a or "(none)", b or "(none)"))
    elif isinstance(param, dict) and here_inspect is not None:
        out.append(("Operation.JobParam.ImageInspect", "(none)", _text(here_inspect)))
    return out


def _input_value(kind: str, text: Optional[str]) -> Optional[str]:
    # INPUT_PREFIX "/" is the whole bucket; whether CI echoes it as "/" or "" is not published (inference): same.
    return text[1:] if kind == "Prefix" and text and text.startswith("/") else text


def _shown_interval(value: object) -> str:
    if not isinstance(value, dict):
        return "(none)"
    return f"{_text(value.get('Start'))}..{_text(value.get('End'))}"


def check_found_job(found: JobDetail, body: JobBody) -> JobDetail:
    """The found job, if it does what `body` asks; JobMismatchError naming each difference and the fix if not."""
    differences = job_differences(found, body)
    if differences:
        listed = "; ".join(f"{name} is {there!r} there, {here!r} here" for name, there, here in differences)
        raise JobMismatchError(
            f"job {found.Name} ({found.JobId}) already exists under the name this run would use, but {listed}: the "
            "work this run means is NOT done by it. The settings changed since that job was made: use a new "
            "RULE_NAME or JOB_NAME_PREFIX for them, or let this window pass (the next one gets its own name); to redo "
            f"this window with the new settings, cancel job {found.JobId} first")
    return found


def describe_input(job: JobDetail) -> str:
    """`Prefix=uploads/` etc.: the input CI holds for the job ('' if its answer carried none)."""
    for kind in _INPUT_KINDS:
        if kind in job.Input:
            return f"{kind}={_text(job.Input.get(kind))}"
    return ""
