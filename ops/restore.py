"""`flagged restore KEY` and `flagged release KEY` (issue 26): undo what CI did to a false positive, or confirm a true
one, and record the decision (key + ETag, lib.review) so every later job leaves that content out.

A command reads where things stand, says what it will do, asks, then takes its steps in an order where each is safe
to repeat: a run killed after any request and run again finds what was done and finishes the rest. It acts only on an
image CI flagged (ops.flagged.read_flagged, from CI's results), never on whatever sits under abnormal_images_backup/.

COS calls, as published: PUT Object - Copy with the metadata copied (cloud.tencent.com/document/product/436/10881),
PUT Object acl `x-cos-acl: default`, the bucket's ACL (436/7748), GET Bucket versioning (436/19889) and ?versions
(436/35521), DELETE Object with versionId, which removes a delete marker for good so the version under it is current
again (436/7743)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Dict, List, Optional

from lib.client import CiClient, ObjectVersion
from lib.config import BACKUP_PREFIX, Settings
from lib.escape import terminal
from lib.irreversible import versioning_words
from lib.review import Decision, ReviewRecord, ReviewStore, normal_etag
from lib.windows import as_utc, parse_duration
from ops.cli import EXIT_OK, Cli, ProblemFound, UsageError
from ops.flagged import FlaggedImage, read_flagged
from ops.jobview import show_time

DEFAULT_SINCE = "30d"
RESTORES = ("restoring", "restored")
RELEASES = ("releasing", "released")


@dataclass(frozen=True)
class Head:
    """What HEAD Object says of one object: its ETag (as compared, lib.review.normal_etag), size and time."""

    etag: str
    size: Optional[int]
    modified: str

    def shown(self) -> str:
        return f"ETag {self.etag}, {self.size if self.size is not None else '?'} bytes, Last-Modified {self.modified}"


def head(client: CiClient, key: str) -> Optional[Head]:
    headers = client.head_object(key)
    if headers is None:
        return None
    by_name = {k.lower(): v for k, v in headers.items()}
    length = by_name.get("content-length", "")
    return Head(normal_etag(by_name.get("etag", "")), int(length) if length.isdigit() else None,
                by_name.get("last-modified", "?"))


@dataclass
class Step:
    """One thing a command does: `plan` says it before asking; `run` does it and returns what was done."""

    plan: str
    run: Callable[[], str]


@dataclass
class Review:
    """One restore or release of one flag: where things stand, and the decisions recorded on the way."""

    cli: Cli
    settings: Settings
    client: CiClient
    store: ReviewStore
    flag: FlaggedImage
    records: List[ReviewRecord]  # decisions on the flag's key made since it was flagged, newest first
    steps: List[Step] = field(default_factory=list)
    already: str = ""  # nothing left to do: the state it is in
    outcome: str = ""  # the final state, in words
    etags: List[str] = field(default_factory=list)  # the content decided on (a copy may add one)
    version_id: str = ""  # a deleted image: the version brought back

    @property
    def key(self) -> str:
        return self.flag.key

    def decided(self, etag: str) -> Optional[ReviewRecord]:
        """The newest decision on (key, etag) made since the flag."""
        return next((r for r in self.records if normal_etag(r.etag) == normal_etag(etag)), None)

    def record(self, decision: Decision, etag: str, version_id: str = "") -> str:
        """Store the decision (the same name for the same key and ETag, so a rerun writes over its own)."""
        self.store.record(ReviewRecord(key=self.key, etag=normal_etag(etag), decision=decision,
                                       decided_at=self.cli.clock(), job_id=self.flag.job_id,
                                       action=self.flag.action, version_id=version_id))
        if etag and etag not in self.etags:
            self.etags.append(etag)
        return f"recorded {terminal(self.key)} (ETag {etag or 'none'}) as {decision}"

    def step(self, plan: str, run: Callable[[], str]) -> None:
        self.steps.append(Step(plan, run))

    def record_step(self, decision: Decision, etag: str, why: str, version_id: str = "") -> None:
        self.step(f"record {terminal(self.key)} (ETag {etag or 'none'}) as {decision}: {why}",
                  lambda: self.record(decision, etag, version_id))

    def refuse(self, kind: str, message: str, fix: str) -> ProblemFound:
        return ProblemFound(kind, f"{self.cli.args.flagged_command} {terminal(self.key)}: {message}; nothing was "
                            "changed", fix, key=self.key, action=self.flag.action)


# --- finding the flag ---------------------------------------------------------------------------------------------

def key_argument(cli: Cli) -> str:
    key = cli.args.key
    if not key or key.startswith("/"):
        raise UsageError(f"KEY {terminal(key) or '(empty)'}: give the object key as CI flagged it, without a leading / (as "
                         "`python -m ops flagged list` shows it)")
    return key


def refuse_without_terminal(cli: Cli, key: str) -> None:
    """Asking needs a person: without a terminal on stdin and without --yes nothing is done (exit 2)."""
    if cli.args.yes or getattr(cli.stdin, "isatty", lambda: False)():
        return
    verb = cli.args.flagged_command
    raise UsageError(f"flagged {verb} {terminal(key)}: stdin is not a terminal, so nobody can answer the question; "
                     f"add --yes to {verb} without asking (`flagged list` shows what CI did to it)")


def since_start(cli: Cli, now: datetime) -> datetime:
    text = cli.args.since or DEFAULT_SINCE
    try:
        return now - parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"--since {exc}") from None


def open_review(cli: Cli, key: str) -> Review:
    """The newest flag of KEY among our ImageInspect jobs of --since, with the decisions on KEY made since."""
    now = as_utc(cli.clock())
    start = since_start(cli, now)
    settings = cli.settings()
    client = cli.client(settings)
    store = ReviewStore(client, settings.state_prefix, cli.clock)
    records = store.records([key])
    flags = [f for f in read_flagged(settings, client, start, now, records) if f.key == key]
    if not flags:
        raise ProblemFound("not_flagged", f"{terminal(key)} was not flagged by any ImageInspect job of ours since "
                           f"{show_time(start, cli.zone)}; nothing was changed", "restore and release act only on "
                           "what CI flagged: `python -m ops flagged list --since 90d` shows the flags (a longer "
                           "--since looks further back)", key=key)
    flag = flags[-1]  # oldest job first: the last is the newest flag
    since = [r for r in records if flag.flagged_at is None or as_utc(r.decided_at) >= as_utc(flag.flagged_at)]
    return Review(cli, settings, client, store, flag, since)


def flag_line(flag: FlaggedImage, zone: str) -> str:
    hidden = f"{flag.hidden_type or 'data'} from byte {flag.begin_byte}" if flag.begin_byte is not None else \
        (flag.hidden_type or "hidden data")
    size = f" of {flag.size:,} bytes" if flag.size is not None else ""
    return (f"{terminal(flag.key)}: {terminal(hidden)}{size}, flagged by job {terminal(flag.job_id)} "
            f"{terminal(flag.job_name)} at {show_time(flag.flagged_at, zone)}; CI's action: {flag.action}")


# --- restore ------------------------------------------------------------------------------------------------------

def plan_restore(review: Review) -> None:
    flag = review.flag
    released = next((r for r in review.records if r.decision in RELEASES), None)
    if released is not None:
        by_hand = (f"copy {terminal(flag.backup_key)} back by hand if it is still there (RELEASE_KEEPS_BACKUP=true "
                   "keeps it)" if flag.action == "BackupObject" else "undo CI's action on it by hand")
        raise review.refuse("released", f"it was {released.decision} at {show_time(released.decided_at, review.cli.zone)}"
                            " (confirmed a true positive), so it is not restored", f"a release stands: if it was "
                            f"wrong, {by_hand}")
    {"BackupObject": restore_backup, "SwitchObjectToPrivate": restore_private, "DeleteObject": restore_deleted,
     "none": restore_untouched}[flag.action](review)


def _size_problem(review: Review, size: Optional[int]) -> str:
    """Why an object is not the image CI flagged ('' when its size is CI's SuspiciousEndByte + 1)."""
    if review.flag.size is None:
        return "CI's result gave no SuspiciousEndByte, so no object can be matched to the flag"
    if size != review.flag.size:
        return f"it has {size if size is not None else '?'} bytes, and the image CI flagged had {review.flag.size:,}"
    return ""


def restore_backup(review: Review) -> None:
    """Copy the backup back to KEY (never over other content unless --overwrite), delete the backup, record it."""
    client, key, backup_key = review.client, review.key, review.flag.backup_key
    backup, current = head(client, backup_key), head(client, key)
    if backup is None:
        return _backup_gone(review, current)
    problem = _size_problem(review, backup.size)
    if problem:
        raise review.refuse("not_the_flagged_image", f"{terminal(backup_key)} is not the image CI flagged: {problem} "
                            "(someone may have replaced it)", f"look at it first; `python -m ops flagged list` "
                            f"links it. It is left where it is and {terminal(key)} untouched")
    ours = current is not None and (current.etag == backup.etag or _restoring(review, current.etag))
    if current is not None and not ours and not review.cli.args.overwrite:
        raise review.refuse("newer_object", f"{terminal(key)} exists with other content than the backup ({current.shown()};"
                            f" the backup: ETag {backup.etag}): it was uploaded after the flag", f"--overwrite "
                            f"replaces it with the backup; without it {terminal(key)} is never written over")
    review.etags.append(backup.etag)
    review.record_step("restoring", backup.etag, "jobs made from now on leave this content out")
    if current is None or not ours:
        review.step(f"copy {terminal(backup_key)} back to {terminal(key)} (metadata copied)"
                    + (f", over its object with ETag {current.etag}" if current is not None else ""),
                    lambda: _copy_back(review, backup_key, backup.etag))
    review.step(f"delete {terminal(backup_key)}", lambda: _delete(review, backup_key))
    review.step(f"record {terminal(key)} as restored", lambda: _record_all(review, "restored"))
    review.outcome = f"{terminal(key)} holds the flagged image again and {terminal(backup_key)} is gone"


def _restoring(review: Review, etag: str) -> bool:
    record = review.decided(etag)
    return record is not None and record.decision in RESTORES


def _backup_gone(review: Review, current: Optional[Head]) -> None:
    """No backup: a restore of ours finished its copy and delete (KEY's content recorded), or nothing is left."""
    key, backup_key = review.key, review.flag.backup_key
    record = review.decided(current.etag) if current is not None else None
    if current is not None and record is not None and record.decision in RESTORES:
        review.etags.append(current.etag)
        _finish(review, record, f"{terminal(key)} holds the flagged image again and {terminal(backup_key)} is gone")
        return
    # CI's published pages name only the folder; abnormal_images_backup/<key> is inferred (docs/emulator.md).
    where = f"{BACKUP_PREFIX} holds a backup of it elsewhere (look with `python -m ops flagged list`), or "
    if current is not None:
        raise review.refuse("backup_gone", f"there is no {terminal(backup_key)} and {terminal(key)} holds content no "
                            f"restore of ours put there ({current.shown()})", f"nothing to restore unless {where}the "
                            f"backup was removed (by hand, a lifecycle rule or another tool); {terminal(key)} is left "
                            "as it is")
    raise review.refuse("backup_gone", f"there is no {terminal(backup_key)} and {terminal(key)} does not exist",
                        f"nothing can be restored unless {where}the backup was removed (by hand, a lifecycle rule or "
                        "another tool); upload the image again if you have it")


def _finish(review: Review, record: ReviewRecord, outcome: str) -> None:
    review.outcome = outcome
    if record.decision in ("restored", "released"):
        review.already = f"already {record.decision} at {show_time(record.decided_at, review.cli.zone)}"
        return
    done: Decision = "restored" if record.decision == "restoring" else "released"
    verb = "restore" if record.decision == "restoring" else "release"
    review.record_step(done, record.etag, f"finishing the {verb} begun at "
                       f"{show_time(record.decided_at, review.cli.zone)}", record.version_id)


def _copy_back(review: Review, source: str, etag: str, version_id: str = "") -> str:
    copied = review.client.copy_object(review.key, source, version_id)
    what = f"copied {terminal(source)}{f' (version {terminal(version_id)})' if version_id else ''} to " \
           f"{terminal(review.key)}, metadata copied: ETag {copied or '?'}"
    if copied and normal_etag(copied) != normal_etag(etag):
        # A copy of a multipart object gets an ETag of its own: that content is the one later jobs see.
        what += f"; {review.record('restoring', normal_etag(copied), version_id)}"
    return what


def _delete(review: Review, key: str, version_id: str = "") -> str:
    review.client.delete_object(key, version_id)
    return f"deleted {terminal(key)}" + (f" version {terminal(version_id)}" if version_id else "")


def _record_all(review: Review, decision: Decision) -> str:
    """The final decision on every ETag the command recorded (the backup's, and a copy's own)."""
    return "; ".join(review.record(decision, etag, review.version_id) for etag in list(review.etags))


def restore_private(review: Review) -> None:
    """Return KEY's ACL to `default` (the bucket's), if KEY still holds the image CI made private."""
    key = review.key
    current = head(review.client, key)
    if current is None:
        raise review.refuse("gone", f"{terminal(key)} does not exist any more (CI made it private; it was deleted "
                            "since)", "nothing to restore")
    problem = _size_problem(review, current.size)
    if problem:
        raise review.refuse("not_the_flagged_image", f"{terminal(key)} now holds other content than the image CI made"
                            f" private ({current.shown()}): {problem}", "nothing to restore: the new content was "
                            "written with its own ACL, and it is inspected as new content; its ACL is left alone")
    review.etags.append(current.etag)
    record = review.decided(current.etag)
    if record is not None and record.decision == "restored":
        _finish(review, record, f"{terminal(key)} has the bucket's ACL (default) again")
        return
    review.record_step("restoring", current.etag, "jobs made from now on leave this content out")
    review.step(f"set {terminal(key)}'s ACL to default (the bucket's) instead of private",
                lambda: _acl_default(review))
    review.step(f"record {terminal(key)} as restored", lambda: _record_all(review, "restored"))
    review.outcome = f"{terminal(key)} has the bucket's ACL (default) again"


def _acl_default(review: Review) -> str:
    review.client.put_object_acl(review.key, "default")
    return f"set {terminal(review.key)}'s ACL to default"


def restore_deleted(review: Review) -> None:
    """Bring back the version under CI's delete marker by removing the marker(s) above it (versioned buckets only)."""
    client, key = review.client, review.key
    status = client.bucket_versioning()
    versions = client.list_versions(key)
    latest = versions[0] if versions else None
    if latest is not None and not latest.delete_marker:
        record = review.decided(latest.etag)
        if record is not None and record.decision in RESTORES:
            review.etags.append(latest.etag)
            review.version_id = record.version_id
            return _finish(review, record, f"{terminal(key)} is current again (ETag {latest.etag})")
    now = {"": "was never enabled", "Suspended": "is Suspended"}.get(status, f"is {versioning_words(status)}")
    if not versions:
        raise review.refuse("no_versions", f"CI's delete was final: bucket versioning {now}, and no version of it is "
                            "left", "nothing can bring it back from COS; upload the image again if you have it (with "
                            "versioning Enabled a later delete can be undone)")
    marker = next((i for i, v in enumerate(versions) if v.delete_marker), None)
    if marker is None:
        raise review.refuse("not_deleted", f"no delete marker lies over a version of it ({len(versions)} version(s), "
                            f"the latest {_version_words(versions[0])})", "nothing CI deleted can be found; the "
                            "object at the key is left as it is")
    below = next((i for i in range(marker + 1, len(versions)) if not versions[i].delete_marker), None)
    if below is None:
        raise review.refuse("no_previous_version", "CI's delete was final: no version lies under its delete marker "
                            f"(bucket versioning {now}; it was not Enabled when CI deleted it)", "nothing can bring "
                            "it back from COS; upload the image again if you have it")
    version = versions[below]
    problem = _size_problem(review, version.size)
    if problem:
        raise review.refuse("not_the_flagged_image", f"the version under the delete marker "
                            f"({_version_words(version)}) is not the image CI flagged: {problem}",
                            "look at it with `python -m ops flagged list`; nothing is restored")
    above = versions[:below]
    newer = [v for v in above if not v.delete_marker]
    if newer and not review.cli.args.overwrite:
        raise review.refuse("newer_object", f"{terminal(key)} was uploaded again after CI deleted it (the newest: "
                            f"{_version_words(newer[0])})", f"--overwrite copies the deleted version back over it as "
                            f"a new version; without it {terminal(key)} is never written over")
    review.etags.append(version.etag)
    review.version_id = version.version_id
    review.record_step("restoring", version.etag, "jobs made from now on leave this content out", version.version_id)
    if newer:
        review.step(f"copy version {terminal(version.version_id)} of {terminal(key)} over the newer object",
                    lambda: _copy_back(review, key, version.etag, version.version_id))
    else:
        for entry in above:  # delete markers alone: removing them makes the version current again
            review.step(f"delete the delete marker {terminal(entry.version_id)} over version "
                        f"{terminal(version.version_id)}",
                        lambda v=entry.version_id: _delete(review, key, v))
    review.step(f"record {terminal(key)} as restored", lambda: _record_all(review, "restored"))
    review.outcome = f"{terminal(key)} is current again: version {terminal(version.version_id)}, ETag {version.etag}"


def _version_words(version: ObjectVersion) -> str:
    if version.delete_marker:
        return f"a delete marker of {version.last_modified}"
    return f"version {terminal(version.version_id)}, ETag {version.etag}, {version.size} bytes, {version.last_modified}"


def restore_untouched(review: Review) -> None:
    """CI took no action: the review records the content clean, so later jobs leave it alone."""
    key = review.key
    current = head(review.client, key)
    if current is None:
        raise review.refuse("gone", f"{terminal(key)} does not exist any more", "nothing to restore")
    problem = _size_problem(review, current.size)
    if problem:
        raise review.refuse("not_the_flagged_image", f"{terminal(key)} now holds other content ({current.shown()}): "
                            f"{problem}", "nothing to restore: new content is inspected by the next job anyway")
    review.etags.append(current.etag)
    record = review.decided(current.etag)
    if record is not None and record.decision == "restored":
        _finish(review, record, f"{terminal(key)} is recorded clean")
        return
    review.record_step("restored", current.etag, "CI took no action, so nothing is moved; the review records it "
                       "clean and later jobs leave this content alone")
    review.outcome = f"{terminal(key)} is recorded clean (CI had left it in place)"


# --- release ------------------------------------------------------------------------------------------------------

def plan_release(review: Review) -> None:
    flag = review.flag
    restored = next((r for r in review.records if r.decision in RESTORES), None)
    if restored is not None:
        finish = f"`python -m ops flagged restore {terminal(flag.key)}` finishes the restore that was cut short; " \
            if restored.decision == "restoring" else ""
        raise review.refuse("restored", f"it was {restored.decision} at {show_time(restored.decided_at, review.cli.zone)}"
                            " (a false positive), so it is not released", f"{finish}if the image is bad after all, "
                            "delete it by hand (new content at the key is inspected again)")
    if flag.action == "BackupObject":
        return release_backup(review)
    if flag.action == "DeleteObject":
        etag = _deleted_etag(review)
        where = "it stays deleted"
    else:
        current = head(review.client, flag.key)
        etag = current.etag if current is not None else ""
        where = ("it stays private at its key" if flag.action == "SwitchObjectToPrivate" else
                 "CI left it in place: it is still at its key, as readable as before; delete it or make it private "
                 "yourself")
    record = review.decided(etag)
    review.outcome = f"{terminal(flag.key)} is released: {where}"
    if record is not None and record.decision == "released":
        review.already = f"already released at {show_time(record.decided_at, review.cli.zone)}"
        return
    review.record_step("released", etag, "confirmed a true positive; the review list no longer shows it pending")


def _deleted_etag(review: Review) -> str:
    """The ETag of the version CI deleted, where versions exist ('' where the delete was final)."""
    versions = review.client.list_versions(review.key)
    marker = next((i for i, v in enumerate(versions) if v.delete_marker), None)
    below = [v for v in versions[marker + 1:] if not v.delete_marker] if marker is not None else []
    return below[0].etag if below else ""


def release_backup(review: Review) -> None:
    """Delete ONLY abnormal_images_backup/KEY (never KEY) unless RELEASE_KEEPS_BACKUP=true, and record it released."""
    backup_key, keep = review.flag.backup_key, review.settings.release_keeps_backup
    backup = head(review.client, backup_key)
    if backup is None:
        record = next((r for r in review.records if r.decision in RELEASES), None)
        if record is not None:
            return _finish(review, record, f"{terminal(review.key)} is released; its backup is gone")
        review.outcome = f"{terminal(review.key)} is released; its backup was gone already"
        review.record_step("released", "", f"{terminal(backup_key)} is gone already, so only the decision is "
                           "recorded")
        return
    problem = _size_problem(review, backup.size)
    if problem:
        raise review.refuse("not_the_flagged_image", f"{terminal(backup_key)} is not the image CI flagged: {problem} "
                            "(someone may have replaced it)", "look at it first; it is left where it is")
    record = review.decided(backup.etag)
    if record is not None and record.decision == "released" and keep:
        review.already = f"already released at {show_time(record.decided_at, review.cli.zone)}"
        review.outcome = f"{terminal(review.key)} is released; its backup is kept (RELEASE_KEEPS_BACKUP=true)"
        return
    review.etags.append(backup.etag)
    if keep:
        review.record_step("released", backup.etag, f"{terminal(backup_key)} is kept (RELEASE_KEEPS_BACKUP=true)")
        review.outcome = f"{terminal(review.key)} is released; its backup is kept (RELEASE_KEEPS_BACKUP=true)"
        return
    review.record_step("releasing", backup.etag, "so a rerun after a crash finishes the release")
    review.step(f"delete {terminal(backup_key)} (the backup only; {terminal(review.key)} is not touched)",
                lambda: _delete(review, backup_key))
    review.step(f"record {terminal(review.key)} as released", lambda: _record_all(review, "released"))
    review.outcome = f"{terminal(review.key)} is released; its backup {terminal(backup_key)} is deleted"


# --- the commands -------------------------------------------------------------------------------------------------

def agreed(cli: Cli, question: str) -> bool:
    if cli.args.yes:
        return True
    cli.stderr.write(question)
    cli.stderr.flush()
    return cli.stdin.readline().strip().lower() in ("y", "yes")


def carry_out(review: Review, verb: str, question: str) -> int:
    """Say what will be done, ask, do each step in order and say what was done; --json: one document at the end."""
    cli = review.cli
    done: List[Dict[str, Any]] = []
    if review.steps:
        cli.say("\n".join([f"flag   {flag_line(review.flag, cli.zone)}", f"{verb}:"]
                          + [f"  {n}. {s.plan}" for n, s in enumerate(review.steps, 1)]))
        if not agreed(cli, question):
            raise ProblemFound("declined", f"not {verb}d; nothing was changed", "answer y, or pass --yes",
                               key=review.key)
        for n, step in enumerate(review.steps, 1):
            result = step.run()
            done.append({"step": step.plan, "done": result})
            if not cli.args.json:
                cli.out(f"{n}. {result}")
    state = f"{review.already}: {review.outcome}" if review.already else f"{verb}d: {review.outcome}"
    if cli.args.json:
        cli.out_json({"key": review.key, "command": verb, "action": review.flag.action, "job_id": review.flag.job_id,
                      "job_name": review.flag.job_name,
                      "flagged_at": as_utc(review.flag.flagged_at).isoformat() if review.flag.flagged_at else None,
                      "size": review.flag.size, "steps": done, "already": bool(review.already),
                      "status": "restored" if verb == "restore" else "released",
                      "state": state, "etags": review.etags})
    else:
        cli.out(state)
    return EXIT_OK


def cmd_restore(cli: Cli) -> int:
    """Put a false positive back as it was before CI acted, and keep that content out of later jobs."""
    key = key_argument(cli)
    refuse_without_terminal(cli, key)
    review = open_review(cli, key)
    plan_restore(review)
    return carry_out(review, "restore", f"Restore {terminal(key)}? [y/N] ")


def cmd_release(cli: Cli) -> int:
    """Confirm a true positive: delete its backup (unless RELEASE_KEEPS_BACKUP=true) and record it released."""
    key = key_argument(cli)
    refuse_without_terminal(cli, key)
    review = open_review(cli, key)
    plan_release(review)
    return carry_out(review, "release", f"Release {terminal(key)} as a true positive? [y/N] ")


COMMANDS = {"restore": cmd_restore, "release": cmd_release}
