"""Flagged images across batch jobs, read from CI: what hides inside, what CI did, where the image is now.

The flags come from CI's per-object ImageInspect results (never from the bucket), so an object an attacker plants
under abnormal_images_backup/ is never taken for a flagged image; the review state joins them by key and time."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Callable, Dict, Iterable, Iterator, List, Literal, Optional
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, ConfigDict

from lib.client import CiClient, InspectObjectResult, JobDetail
from lib.config import BACKUP_PREFIX, Settings
from lib.errors import CloudApiError
from lib.escape import terminal
from lib.jobs import is_our_job
from lib.report.render import LEFT_IN_PLACE, plural
from lib.review import Action, ReviewRecord, ReviewStore, reviewed_after
from lib.windows import as_utc, format_ci_time, format_duration, parse_ci_time, parse_duration
from ops.cli import EXIT_OK, EXIT_PROBLEM, Cli, ProblemFound, UsageError, _duration, _job_id
from ops.jobview import show_time

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


def inspect_jobs(settings: Settings, client: CiClient, start: datetime, end: datetime,
                 job_id: str = "") -> Iterator[JobDetail]:
    """Our ImageInspect batch jobs created in [start, end] (all of them with REPORT_ALL_JOBS); with job_id, that one."""
    only = {"JobId": job_id} if job_id else {}  # the list API's jobId filter, as `jobs list --job-id` sends it
    for job in client.iter_jobs("Job", States="All", OrderByTime="Asc", StartCreationTime=format_ci_time(start),
                                EndCreationTime=format_ci_time(end), **only):
        if job.per_object_kind == "ImageInspect" and (settings.report_all_jobs
                                                      or is_our_job(job.Name, settings.job_name_prefix)):
            yield job


def read_flagged(settings: Settings, client: CiClient, start: datetime, end: datetime,
                 records: List[ReviewRecord]) -> List[FlaggedImage]:
    """Every image our ImageInspect jobs of [start, end] flagged, oldest job first, each with its review status."""
    return flags_of(client, inspect_jobs(settings, client, start, end), records).flags


@dataclass
class Flags:
    """What the jobs' per-object results hold: the flags, and how many results could not be read at all."""

    flags: List[FlaggedImage] = field(default_factory=list)
    jobs: int = 0
    unreadable: int = 0


def flags_of(client: CiClient, jobs: Iterable[JobDetail], records: List[ReviewRecord]) -> Flags:
    out = Flags()
    for job in jobs:
        out.jobs += 1
        for result in client.iter_media_jobs(job.JobId):
            out.unreadable += result.unreadable
            if result.suspicious and result.key:
                out.flags.append(with_review(flag_of(job, result), records))
    return out


# --- flagged list -------------------------------------------------------------------------------------------------

# COS publishes no longest life for a presigned URL (cloud.tencent.com/document/product/436/68284 offers long-lived
# ones for sharing). A review link is for a look now: one that outlives the review is a leak of what was flagged.
MAX_LINK_EXPIRY = timedelta(days=7)
DEFAULT_SINCE = "7d"
Where = Literal["backup", "key", "previous_version", "deleted", "gone", "unknown"]
FETCHABLE = ("backup", "key", "previous_version")
UNFINISHED = ("restoring", "releasing")  # a restore or release that stopped before its last step


class Whereabouts(BaseModel):
    """Where a flagged image is now, as one request found it: the object (and version) a look fetches, or why none."""

    model_config = ConfigDict(frozen=True)
    where: Where
    key: str = ""  # the object a presigned GET fetches ('' when there is none)
    version_id: str = ""
    private: bool = False  # CI made it private and no restore has put the bucket's default back
    size: Optional[int] = None
    etag: str = ""
    why: str = ""  # deleted, gone or unknown: why there is nothing to fetch


def looked_at(flag: FlaggedImage, decision: str) -> str:
    """The object that should hold the image now: its key once a restore finished, else where CI left it ('' if
    deleted); a restore begun and not finished may not have put it back yet."""
    return flag.key if decision == "restored" else flag.location


def where_now(client: CiClient, flag: FlaggedImage, decision: str, versioning: Callable[[], str]) -> Whereabouts:
    """One request per image: a HEAD of where it should be, or for a deleted one GET ?versions (a versioned bucket
    only; `versioning` reads GET Bucket versioning once per run)."""
    target = looked_at(flag, decision)
    try:
        if not target:
            return _deleted(client, flag, versioning)
        head = client.head_object(target)
    except CloudApiError as exc:
        return Whereabouts(where="unknown", why=f"not known: {exc.action} answered HTTP {exc.status} {exc.code}")
    if head is None:
        where = "its backup copy " + flag.backup_key if target != flag.key else "its key"
        why = f"not at {where} any more"
        if flag.status == "released":
            why += " (released: the backup is deleted unless RELEASE_KEEPS_BACKUP=true)"
        return Whereabouts(where="gone", why=why)
    private = flag.action == "SwitchObjectToPrivate" and decision != "restored"
    return Whereabouts(where="key" if target == flag.key else "backup", key=target, private=private,
                       size=_int(head.get("Content-Length")), etag=head.get("ETag", "").strip('"'))


def _deleted(client: CiClient, flag: FlaggedImage, versioning: Callable[[], str]) -> Whereabouts:
    status = versioning()
    if status not in ("Enabled", "Suspended"):
        return Whereabouts(where="deleted", why="deleted for good: the bucket has no versioning, so no earlier "
                                                "version was kept")
    kept = next((v for v in client.list_versions(flag.key) if not v.delete_marker), None)
    if kept is None:
        return Whereabouts(where="deleted", why=f"deleted for good: no version of the key is kept (versioning "
                                                f"{status})")
    if kept.is_latest:  # put back since (a restore, or a new upload): the key holds it
        return Whereabouts(where="key", key=flag.key, size=kept.size, etag=kept.etag)
    return Whereabouts(where="previous_version", key=flag.key, version_id=kept.version_id, size=kept.size,
                       etag=kept.etag)


def _int(text: Optional[str]) -> Optional[int]:
    try:
        return int(str(text))
    except (TypeError, ValueError):
        return None


def link_expiry(text: str) -> timedelta:
    """--link-expiry as a duration, more than nothing and at most MAX_LINK_EXPIRY."""
    try:
        expiry = parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"--link-expiry {exc}") from None
    if expiry > MAX_LINK_EXPIRY:
        raise UsageError(f"--link-expiry {text!r} is longer than 7d, the longest a review link may work: a link "
                         "that outlives the review leaks the flagged image; use e.g. 15m, 1h or 7d")
    return expiry


def signed_until(url: str) -> Optional[datetime]:
    """When a presigned URL stops working: the end of its q-sign-time (COS 请求签名, 436/7778), as the SDK signed it."""
    window = parse_qs(urlsplit(url).query).get("q-sign-time", [""])[0].split(";")
    try:
        return datetime.fromtimestamp(int(window[-1]), tz=timezone.utc)
    except ValueError:
        return None


def shell_word(key: str) -> str:
    """KEY as one shell word to paste: shlex-quoted, or, when it holds characters a terminal acts on, bash's $'...'
    with each of them escaped (\\n, \\x1b; \\uXXXX past ASCII, which bash writes as UTF-8), so it is shown inert and
    still names the key exactly."""
    if terminal(key) == key:
        return shlex.quote(key)
    return "$'" + "".join(_shell_char(c) for c in key) + "'"


def _shell_char(char: str) -> str:
    if char in "'\\":
        return "\\" + char
    if terminal(char) == char:
        return char
    return terminal(char) if ord(char) < 0x80 else f"\\u{ord(char):04x}"


@dataclass
class Row:
    """One flagged image as `flagged list` shows it: the flag, where it is now, a link to it, the open decision."""

    flag: FlaggedImage
    now: Whereabouts
    link: str = ""
    link_until: Optional[datetime] = None
    decision: str = ""  # the record's decision; restoring/releasing: begun and not finished (rerun the command)

    def commands(self, word: Callable[[str], str]) -> Dict[str, str]:
        """What acts on it: both while it awaits review, the one to finish a decision begun and not finished."""
        verbs = {"pending": ("restore", "release"), "restoring": ("restore",), "releasing": ("release",)}
        return {verb: f"python -m ops flagged {verb} {word(self.flag.key)}"
                for verb in verbs.get(self.decision or self.flag.status, ())}

    def to_json(self) -> Dict[str, Any]:
        return {**self.flag.model_dump(mode="json"), "backup_key": self.flag.backup_key,
                "decision": self.decision or None, "now": self.now.model_dump(mode="json"),
                "link": self.link or None, "link_expires_at": self.link_until.isoformat() if self.link_until else None,
                "commands": self.commands(shlex.quote)}


def _matches(flag: FlaggedImage, args: Any) -> bool:
    """--prefix and --action (--job is asked of CI; --status is applied after the pending count)."""
    return flag.key.startswith(args.prefix or "") and args.action in (None, flag.action)


def decision_on(records: List[ReviewRecord], flag: FlaggedImage) -> str:
    """The decision with_review read for the flag ('' for none): restoring/releasing are begun and not finished."""
    record = reviewed_after(records, flag.key, flag.flagged_at)
    return record.decision if record else ""


def cmd_list(cli: Cli) -> int:
    """Flagged images of our ImageInspect jobs of a period, each with where it is now and a link to look at it; exit 1
    while any awaits review or a decision on one is unfinished (whatever --status shows), a review record is refused,
    or where an image is could not be read.

    Cost: the jobs list (one request per 100 jobs), each job's per-object results (one per 100 objects), the review
    folder (one listing and one GET per record), then ONE request per image shown (HEAD, or GET ?versions for a deleted
    image, plus one GET ?versioning a run); the links are signed locally. A week of 10,000 flags is ~10,000 HEADs:
    narrow with --job, --prefix, --action or --status (HEADs are only sent for the images shown)."""
    args = cli.args
    since = _duration("--since", args.since or DEFAULT_SINCE)
    expiry = link_expiry(args.link_expiry)
    job_id = _job_id(args.job) if args.job else ""
    settings = cli.settings()
    client = cli.client(settings)
    now = as_utc(cli.clock())
    store = ReviewStore(client, settings.state_prefix, cli.clock)
    records = store.records()
    progress = cli.progress()
    found = flags_of(client, _told(inspect_jobs(settings, client, now - since, now, job_id), progress), records)
    if job_id and not found.jobs:
        raise ProblemFound("not_found", f"no ImageInspect batch job {job_id} of ours created in the last "
                           f"{format_duration(since)}", "`python -m ops jobs get ID` shows the job; a longer --since "
                           "reaches an older one", job_id=job_id)
    scope = [(f, decision_on(records, f)) for f in found.flags if _matches(f, args)]
    pending = sum(f.status == "pending" for f, _ in scope)
    unfinished = sum(d in UNFINISHED for _, d in scope)
    versioning = lru_cache(maxsize=None)(client.bucket_versioning)
    wanted = [(flag, decision) for flag, decision in scope if args.status in ("all", flag.status)]
    rows = []
    for n, (flag, decision) in enumerate(wanted, 1):
        if progress is not None:
            progress(f"looking where each image is now: {n} of {len(wanted)}")
        rows.append(row_of(client, flag, decision, versioning, expiry))
    cli.end_progress(progress)
    refused = [str(e) for e in store.tampered]
    unknown = sum(r.now.where == "unknown" for r in rows)
    if args.json:
        cli.out_json({"flags": [r.to_json() for r in rows], "shown": len(rows), "pending": pending,
                      "unfinished": unfinished, "jobs": found.jobs, "unreadable": found.unreadable,
                      "period": {"start": (now - since).isoformat(), "end": now.isoformat()},
                      "link_expiry_seconds": int(expiry.total_seconds()), "refused": refused})
    else:
        blocks = ["\n".join(row_lines(r, cli.zone)) + "\n" for r in rows]
        cli.out("\n".join(blocks + [footer(rows, pending, unfinished, found, since, refused)]))
    return EXIT_PROBLEM if pending or unfinished or refused or unknown else EXIT_OK


def _told(jobs: Iterable[JobDetail], progress: Optional[Callable[[str], None]]) -> Iterator[JobDetail]:
    for n, job in enumerate(jobs, 1):
        if progress is not None:
            progress(f"reading the per-object results of job {n} ({job.JobId})")
        yield job


def row_of(client: CiClient, flag: FlaggedImage, decision: str, versioning: Callable[[], str],
           expiry: timedelta) -> Row:
    """The flag with where it is now (one request) and a link signed for `expiry` to whatever holds it."""
    now = where_now(client, flag, decision, versioning)
    link = client.presigned_get_url(now.key, expiry, now.version_id) if now.where in FETCHABLE else ""
    return Row(flag, now, link, signed_until(link) if link else None, decision)


ACTION_WORDS = {"BackupObject": "moved to abnormal_images_backup/ (BackupObject)",
                "SwitchObjectToPrivate": "made private (SwitchObjectToPrivate)", "DeleteObject": "deleted (DeleteObject)",
                "none": LEFT_IN_PLACE}


def hidden_text(flag: FlaggedImage) -> str:
    """`MPEG-TS from byte 1024 (188 bytes hidden; the image is 1212 bytes)`."""
    what = flag.hidden_type or "hidden data"
    start = "" if flag.begin_byte is None else f" from byte {flag.begin_byte}"
    sizes = [f"{flag.hidden_size} bytes hidden"] if flag.hidden_size is not None else []
    sizes += [f"the image is {flag.size} bytes"] if flag.size is not None else []
    return what + start + (f" ({'; '.join(sizes)})" if sizes else "")


def now_text(now: Whereabouts, flag: FlaggedImage) -> str:
    size = "" if now.size is None else f" ({now.size} bytes)"
    if now.where == "backup":
        return f"backup copy {now.key}{size}"
    if now.where == "key":
        return "at its key" + (", private (CI made it private)" if now.private else "") + size
    if now.where == "previous_version":
        return f"deleted; its previous version {now.version_id} is kept{size}"
    return now.why


def row_lines(row: Row, zone: str) -> List[str]:
    flag = row.flag
    did = ACTION_WORDS[flag.action] + (f"; CI said {flag.action_result}" if flag.action_result else "")
    status = flag.status + (f" at {show_time(flag.decided_at, zone)}" if flag.decided_at else "")
    if row.decision in UNFINISHED:
        status += f" ({row.decision}: begun, not finished; run it again)"
    lines = [f"{terminal(flag.key)}  {status}",
             f"  hidden     {terminal(hidden_text(flag))}",
             f"  CI did     {terminal(did)}",
             f"  job        {terminal(flag.job_id)} {terminal(flag.job_name)}, created {show_time(flag.flagged_at, zone)}",
             f"  now        {terminal(now_text(row.now, flag))}"]
    if row.link:
        lines.append(f"  look       {terminal(row.link)} (works until {show_time(row.link_until, zone)})")
    lines += [f"  {verb:<10} {command}" for verb, command in row.commands(shell_word).items()]
    return lines


def footer(rows: List[Row], pending: int, unfinished: int, found: Flags, since: timedelta, refused: List[str]) -> str:
    text = (f"{plural(len(rows), 'flagged image')} shown, from {plural(found.jobs, 'ImageInspect job')} of the last "
            f"{format_duration(since)}; ")
    if pending:
        text += (f"{pending} await{'s' if pending == 1 else ''} review: `flagged restore KEY` puts a false positive "
                 "back, `flagged release KEY` confirms a true one")
    else:
        text += "none awaits review"
    if unfinished:
        text += (f"; {plural(unfinished, 'decision')} begun and not finished (a restore or release stopped half-way): "
                 "run its command again")
    unknown = sum(r.now.where == "unknown" for r in rows)
    if unknown:
        text += f"\n{plural(unknown, 'image')} whose place could not be read (its `now` line says why)"
    if found.unreadable:
        text += f"\n{plural(found.unreadable, 'per-object result')} could not be read (`jobs get ID` shows them)"
    return text + "".join(f"\nrefused: {terminal(r)}" for r in refused)
