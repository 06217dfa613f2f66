"""The report use case: every batch job in a window, its outcome, its per-object results, as one summary."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterator, List, Optional

from pydantic import ValidationError

from lib import upload_state
from lib.client import CiClient, JobDetail
from lib.config import Settings
from lib.errors import CloudApiError, CloudError, TamperedStateError
from lib.report.cache import NewResults, PreviousResults, cache_key
from lib.report.classify import STUCK_STATES, group_of, in_scope, in_window, is_failing, is_stuck, job_line
from lib.report.duplicates import LiveNames, describe, settle_duplicates
from lib.report.inventory import inventory_lines
from lib.report.models import CountRow, ObjectTotals, ReportSummary, RuleCheckpoint
from lib.report.objects import PerObjectReads, note_unread_jobs
from lib.report.review import irreversible_line, review_flags
from lib.report.spend import SpendReader
from lib.report.tally import Tally
from lib.report.uploads import PENDING_TOO_LONG, uploads_summary
from lib.state import Checkpoint, check_checkpoint
from lib.windows import as_utc, floor_second, format_ci_time

JOB_TYPES = ("Job", "Workflow")  # the list API returns one Type per call and defaults to Workflow

Progress = Callable[[str], None]


def connections_needed(settings: Settings) -> int:
    """The report client's connection pool: one per reader thread and one for the listing thread."""
    return settings.report_concurrency + 1


def build_report(settings: Settings, client: CiClient, end: datetime, *, lookback: Optional[timedelta] = None,
                 progress: Optional[Progress] = None, deadline: Optional[float] = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 clock: Optional[Callable[[], datetime]] = None) -> ReportSummary:
    """List every batch job created in [end - lookback, end) (both Types, all pages) and summarise it.

    Raises CloudError or PaginationError only when the job list itself cannot be read, or the bucket does not
    exist: without them there is no report (the report function's webhook says so, delivery.notify_failure). Per-object results and checkpoints that cannot be read become notes instead, and so does running
    past `deadline` (a monotonic time): the rest of the jobs are counted without their per-object results.
    `clock` (default: `end`, the timer's time) dates the spend section's today and decides which held plans are due.
    """
    end = floor_second(end)  # the list bounds are whole seconds: the window is too, so reports tile exactly
    start = floor_second(end - (lookback or settings.report_lookback))
    tally = Tally()
    calls_before = client.calls  # the client counts every request it sends: retries and cancels too
    _load_cache(client, settings, tally)
    now = clock() if clock is not None else as_utc(end)
    spend_reader = SpendReader(settings, client, start, end, now, tally)  # its ledger first: jobs match as they stream
    live = LiveNames()
    with PerObjectReads(client, settings.report_concurrency, tally) as reads:
        for job in _jobs_in_window(settings, client, start, end, tally, progress):
            _count_job(job, end, settings.report_stuck_after, tally)
            spend_reader.add(job)
            if job.live:
                live.add(job)
            batch = upload_state.batch_of_job(settings.job_name_prefix, job.Name)
            if batch is not None:
                tally.batch_jobs += 1
                tally.recent_batches.append((job, *batch))
            if job.State == "Submitted":  # a job that has not started has spawned nothing to list
                continue
            if deadline is not None and not tally.out_of_time and monotonic() > deadline:
                tally.out_of_time = True  # in-flight reads still finish; nothing more is dispatched
            reads.add(job)
    note_unread_jobs(tally)
    _save_cache(client, settings, tally)
    total = len(tally.seen)
    duplicates = settle_duplicates(client, live.twins(), settings.report_cancel_duplicates, settings.job_name_prefix)
    for duplicate in duplicates:
        tally.note(describe(duplicate))
    _older_stuck_jobs(settings, client, start, end, tally)
    checkpoints = _read_checkpoints(client, settings.state_prefix, tally, settings.job_name_prefix, end)
    uploads = uploads_summary(settings, client, end, tally) if settings.upload_batch_seconds or tally.batch_jobs else None
    inventories = inventory_lines(client, settings, max(as_utc(end), datetime.now(timezone.utc)))
    spend = spend_reader.finish()
    # Records are checked against the later of the report's and the real time, as plans and checkpoints are.
    jobs_with_objects, review = review_flags(settings, client, tally.jobs_with_objects, tally.suspicious,
                                             lambda: max(as_utc(now), datetime.now(timezone.utc)), tally)
    irreversible = irreversible_line(settings, client, tally)
    failed, stuck = spend_reader.with_spend(tally.failed), spend_reader.with_spend(tally.stuck)
    if any(line.status == "unreadable" for line in inventories):
        tally.incomplete = True
    waiting_long = uploads is not None and uploads.oldest_pending_slot is not None \
        and end - uploads.oldest_pending_slot > PENDING_TOO_LONG
    failing = is_failing(tally.failed_total, total, settings.report_fail_above)
    objects = ObjectTotals(inspected=tally.inspected, by_state=dict(sorted(tally.object_states.items())),
                           suspicious=tally.suspicious, acted=tally.acted,
                           workflow_executions=dict(sorted(tally.executions.items())),
                           jobs_without_results=tally.jobs_without_results, cached_jobs=tally.cached_jobs)
    complete = not (tally.out_of_time or tally.incomplete or tally.unavailable)
    # An incomplete report may be hiding a flagged image (issue 22): it is a problem, so on-problem still notifies.
    problem = bool(duplicates or waiting_long or tally.tampered or tally.failed_total or tally.stuck_total or tally.suspicious or failing
                   or tally.object_states.get("Failed") or tally.executions.get("Failed") or not complete)
    problem = problem or any(line.problem for line in inventories)  # a missing or late inventory is never silent
    problem = problem or bool(spend.held_total or spend.expired_now)  # a held job waits for the operator
    return ReportSummary(
        bucket=settings.bucket, region=settings.region, window_start=start, window_end=end,
        all_jobs=settings.report_all_jobs, job_name_prefix=settings.job_name_prefix, total_jobs=total,
        counts=[CountRow(type=t, group=g, state=s, count=n) for (t, g, s), n in sorted(tally.counts.items())],
        failed_total=tally.failed_total, failed=failed,
        stuck_after_seconds=int(settings.report_stuck_after.total_seconds()),
        stuck_total=tally.stuck_total, stuck=stuck, objects=objects,
        jobs_with_objects=jobs_with_objects, checkpoints=checkpoints, uploads=uploads,
        inventories=inventories, spend=spend, review=review, irreversible=irreversible, notes=tally.notes,
        complete=complete,
        api_calls=client.calls - calls_before, failed_share=round(tally.failed_total / total, 4) if total else 0.0,
        fail_above=settings.report_fail_above, failing=failing, problem=problem,
    )


def _jobs_in_window(settings: Settings, client: CiClient, start: datetime, end: datetime, tally: Tally,
                    progress: Optional[Progress]) -> Iterator[JobDetail]:
    """Both Types, every state, every page, each JobId once; only our jobs unless REPORT_ALL_JOBS."""
    for job_type in JOB_TYPES:

        def on_page(page: int, job_type: str = job_type) -> None:
            if progress is not None:
                progress(f"listing {job_type} jobs: page {page} ({len(tally.seen)} in the report so far)")

        for job in client.iter_jobs(job_type, on_page=on_page, States="All", OrderByTime="Asc",
                                    StartCreationTime=format_ci_time(start), EndCreationTime=format_ci_time(end)):
            if job.JobId in tally.seen or not in_scope(settings, job) or not in_window(job, start, end):
                continue
            tally.seen.add(job.JobId)
            yield job


def _older_stuck_jobs(settings: Settings, client: CiClient, start: datetime, end: datetime, tally: Tally) -> None:
    """Jobs created before the window and still Submitted/Running: stuck for days, they must not drop out of sight.

    One filtered list call per Type (more only if hundreds are stuck); they join the stuck list, not the counts."""
    for job_type in JOB_TYPES:
        for job in client.iter_jobs(job_type, States=",".join(sorted(STUCK_STATES)),
                                    OrderByTime="Asc", EndCreationTime=format_ci_time(start)):
            if job.JobId in tally.seen or not in_scope(settings, job) or in_window(job, start, end):
                continue
            tally.seen.add(job.JobId)
            if is_stuck(job, end, settings.report_stuck_after):
                tally.add_stuck(job_line(job, end))


def _count_job(job: JobDetail, now: datetime, stuck_after: timedelta, tally: Tally) -> None:
    tally.counts[(job.Type, group_of(job), job.State or "-")] += 1
    if job.State == "Failed":
        tally.add_failed(job_line(job, now))
    elif is_stuck(job, now, stuck_after):
        tally.add_stuck(job_line(job, now))


def _load_cache(client: CiClient, settings: Settings, tally: Tally) -> None:
    """The previous report's cache; a missing one is normal, an unreadable one a note (every job is then read)."""
    key = cache_key(settings.state_prefix)
    tally.keep = NewResults(settings.bucket)
    try:
        # listed first: a GET of a missing key would log an SDK error on every first report
        if key not in client.list_keys(key):
            return
        raw = client.get_object(key)
        if raw is not None:
            tally.cached = PreviousResults.parse(raw, settings.bucket)
    except (CloudError, ValueError) as exc:
        if isinstance(exc, CloudApiError) and exc.code == "NoSuchBucket":
            raise  # COS_BUCKET names no bucket: nothing this report could say would be true, and nothing was read
        tally.note(f"the per-object results cache {key} was not used ({exc}); every finished job was read")


def _save_cache(client: CiClient, settings: Settings, tally: Tally) -> None:
    """This report's cache, replacing the last one: only its window's jobs, so it never grows past one window."""
    found, tally.cached = tally.cached is not None, None  # done with: free it before the new one is serialised
    keep, tally.keep = tally.keep, None
    if keep is None or not (keep.count or found):
        return
    key = cache_key(settings.state_prefix)
    try:
        client.put_object(key, keep.dump(), "application/json")
    except CloudError as exc:  # the report is still right; the next one just reads more
        tally.note(f"the per-object results cache {key} could not be written: {exc}")


def _read_checkpoints(client: CiClient, state_prefix: str, tally: Tally, job_name_prefix: str,
                      end: datetime) -> List[RuleCheckpoint]:
    """Each timer rule's checkpoint (small JSON objects); unreadable ones become a note, not a failed report.

    Each is checked as the submit run checks it (lib.state.check_checkpoint, one job GET each): a tampered one is
    left out and made a problem through tally.tampered_state. The clock it is checked against is the later of the
    report's end and the real time, so a report over an earlier window never flags today's checkpoint."""
    prefix = f"{state_prefix}checkpoints/"
    now = max(as_utc(end), datetime.now(timezone.utc))
    out: List[RuleCheckpoint] = []
    try:
        keys = [k for k in client.list_keys(prefix) if k.endswith(".json")]
        for key in sorted(keys):
            raw = client.get_object(key)
            if raw is None:
                continue
            try:
                cp = Checkpoint.model_validate_json(raw)
            except ValidationError:
                tally.incomplete = True
                tally.note(f"checkpoint {key} is unreadable")
                continue
            try:
                check_checkpoint(client, cp, key[len(prefix):-len(".json")], job_name_prefix, now)
            except TamperedStateError as exc:
                tally.tampered_state(exc)
                continue
            out.append(RuleCheckpoint(rule=cp.rule, next_window_start=as_utc(cp.end), last_job_id=cp.job_id))
    except CloudError as exc:
        tally.incomplete = True
        tally.note(f"checkpoints under {prefix} could not be read: {exc}")
    return out
