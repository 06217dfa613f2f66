"""The report's side of the review loop: which flagged images still await the operator's decision (`python -m ops
flagged`, recorded by lib.review), and whether this bucket's automatic deletes could be undone.

Calls: none when nothing is flagged; else one listing of STATE_PREFIX/reviewed/ (a page per 1,000 records) and, only
when a flagged key has a decision listed, one GET per record of a flagged key (ReviewStore.records). Versioning: one GET Bucket
versioning, only when the settings delete flagged images (DeleteObject with AutoProcess)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Callable, Dict, List, Optional, Tuple

from lib.client import CiClient
from lib.config import Settings
from lib.errors import CloudError, PaginationError
from lib.irreversible import irreversible_note
from lib.report.models import FlaggedReview, JobObjects
from lib.report.tally import Tally
from lib.review import ReviewRecord, ReviewStore, reviewed_after, status_of


def review_flags(settings: Settings, client: CiClient, jobs: List[JobObjects], suspicious: int,
                 clock: Callable[[], datetime], tally: Tally) -> Tuple[List[JobObjects], Optional[FlaggedReview]]:
    """Each flagged line with its review status, and the counts; None when nothing was flagged.

    `suspicious` is every flag of the window, listed or not; `clock` dates the check of each record read back (a
    record dated after it is refused). Unreadable records are a note and leave the lines' status unknown; tampered
    ones count as no decision and are reported as tampered state."""
    flagged = [o.key for job in jobs for o in job.objects if o.suspicious]
    if not flagged and not suspicious:
        return jobs, None
    unlisted = max(suspicious - len(flagged), 0)
    store = ReviewStore(client, settings.state_prefix, clock)
    try:
        # The listing says which keys have any decision; only then are the records read, so a report whose flags
        # nobody has reviewed yet pays one listing.
        records = store.records(flagged) if any(store.may_cover(key) for key in flagged) else []
    except (CloudError, PaginationError) as exc:
        tally.incomplete = True
        tally.note(f"review records under {store.folder} could not be read: {exc}; whether the flagged images "
                   "await review is unknown (python -m ops flagged list)")
        return jobs, FlaggedReview(pending=None, unlisted=unlisted)
    finally:
        for error in store.tampered:
            tally.tampered_state(error)
    by_key: Dict[str, List[ReviewRecord]] = {}
    for record in records:  # newest first, kept so per key
        by_key.setdefault(record.key, []).append(record)
    counts: Counter = Counter()
    out = []
    for job in jobs:
        lines = []
        for line in job.objects:
            if line.suspicious:
                status = status_of(reviewed_after(by_key.get(line.key, []), line.key, job.created))
                counts[status] += 1
                line = line.model_copy(update={"review": status})
            lines.append(line)
        out.append(job.model_copy(update={"objects": lines}))
    return out, FlaggedReview(pending=counts["pending"], restored=counts["restored"], released=counts["released"],
                              unlisted=unlisted)


def irreversible_line(settings: Settings, client: CiClient, tally: Tally) -> str:
    """lib.irreversible's sentence when this function's deletes cannot be undone ('' otherwise, with no call when the
    settings delete nothing)."""
    if not settings.deletes_objects:
        return ""
    try:
        status = client.bucket_versioning()
    except CloudError as exc:
        tally.note(f"bucket versioning could not be read ({exc}); whether flagged images deleted by "
                   "INSPECT_PROCESS_TYPE=DeleteObject can be restored is unknown")
        return ""
    return irreversible_note(settings, status)
