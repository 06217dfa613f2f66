"""Coalesced uploads in a report: which uploads went into the newest batch jobs, and how many still wait."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Dict, List, Optional

from lib import upload_state
from lib.client import CiClient
from lib.config import Settings
from lib.errors import AppError, TamperedStateError
from lib.report.models import UploadBatchLine, UploadsSummary
from lib.report.tally import Tally
from lib.windows import format_ci_time

BATCH_KEYS_SHOWN = 3

PENDING_TOO_LONG = timedelta(hours=1)  # uploads waiting longer than this for a batch job make the report a problem


def uploads_summary(settings: Settings, client: CiClient, end: datetime, tally: Tally) -> UploadsSummary:
    """Which uploads went into the newest batch jobs (their ledgers), and how many still wait (lib.upload_state).

    State objects that fail a check (forged records, ledgers, a checkpoint after the clock) are counted through
    tally.tampered_state: those met here and those a flush marked under refused/ within the report's look-back."""
    refused: Dict[str, TamperedStateError] = {}
    lines = []
    for job, slot, n in tally.recent_batches:
        try:
            ledger = upload_state.read_ledger(client, settings, slot, n)
            if ledger is not None and ledger.job_id and ledger.job_id != job.JobId:
                raise TamperedStateError(f"batch ledger of slot {format_ci_time(slot)} batch {n} names job "
                                         f"{ledger.job_id!r}, not CI's job {job.JobId} of its name; it is ignored")
        except TamperedStateError as exc:
            refused.setdefault(f"ledger {format_ci_time(slot)} {n}", exc)
            ledger = None
        keys = ledger.keys if ledger is not None else []
        lines.append(UploadBatchLine(job_id=job.JobId, name=job.Name, state=job.State, slot=slot, batch=n,
                                     uploads=len(ledger.records) if ledger is not None else None,
                                     keys=keys[:BATCH_KEYS_SHOWN], more_keys=max(0, len(keys) - BATCH_KEYS_SHOWN)))
    pending: Optional[int] = None
    oldest: Optional[datetime] = None
    if settings.upload_batch_seconds:
        try:
            found: List[upload_state.Refusal] = []
            waiting = upload_state.pending_uploads(client, settings, now=end, refused=found)
            found += upload_state.read_refusals(client, settings, end - settings.report_lookback)
        except AppError as exc:
            tally.note(f"uploads waiting for a batch job could not be counted: {exc}")
        else:
            for item in found:
                refused.setdefault(str(item.error), item.error)  # a flush's marker repeats what this read found
            pending = len(waiting)
            slots = [upload_state.parse_slot(s) for ss in waiting.values() for s in ss]
            oldest = min((s for s in slots if s is not None), default=None)
            if oldest is not None and end - oldest > PENDING_TOO_LONG:
                tally.note(f"{pending} uploaded key(s) have waited for a batch job since {format_ci_time(oldest)}: "
                           "a flush runs on the next upload event or submit timer tick; is the submit timer "
                           "deployed and enabled?")
    for error in refused.values():
        tally.tampered_state(error)
    return UploadsSummary(batch_jobs=tally.batch_jobs, batches=lines, pending=pending, oldest_pending_slot=oldest)
