"""COS upload events: one job over exactly the uploaded objects (or, coalescing, a record per upload)."""

from typing import Callable, List, Optional, Tuple

from pydantic import BaseModel, ConfigDict

from lib import logs
from lib.config import Settings
from lib.errors import PlanError
from lib.events import CosEvent, UnreadableRecord, UploadedObject, shown_key, uploaded_object
from lib.jobs import (
    JobBody,
    JobInput,
    build_job_body,
    manifest_lines,
    object_url,
    upload_digest,
    upload_job_name,
    xml_carries,
)
from lib.plans import HeldPlan, PlanSource
from lib.spend import Count
from lib.state import Lease, StateStore
from lib.submit.ensure import ensure_job
from lib.submit.gate import gate, held_note
from lib.submit.run import REVIEWED, Deps, HeldJob, JobRef, SkippedKey, SubmitResult, etag_now, job_ref, lease_ttl
from lib.upload_rules import skip_reason


def select_uploads(settings: Settings, event: CosEvent) -> Tuple[List[UploadedObject], List[SkippedKey]]:
    """The records worth inspecting, in event order without duplicates, and why the others were skipped."""
    chosen: List[UploadedObject] = []
    skipped: List[SkippedKey] = []
    seen = set()
    for bad in event.malformed:
        skipped.append(SkippedKey(key=bad.key, reason=f"malformed record {bad.index} of the event: {bad.reason}"))
    for record in event.records:
        try:
            obj = uploaded_object(record)
        except UnreadableRecord as exc:
            skipped.append(SkippedKey(key=shown_key(record.cos.cos_object.key), reason=f"unreadable record: {exc}"))
            continue
        reason = skip_reason(settings, obj)
        if reason:
            skipped.append(SkippedKey(key=obj.key, reason=reason))
        elif _identity(settings, obj) not in seen:
            seen.add(_identity(settings, obj))
            chosen.append(obj)
    return chosen, skipped


def leave_out_reviewed(settings: Settings, deps: Deps, objects: List[UploadedObject]
                       ) -> Tuple[List[UploadedObject], List[SkippedKey]]:
    """The objects whose uploaded content (key and ETag) no operator reviewed (lib.review), and the others as skipped
    keys: one listing of the review folder, a GET per record listed for a key here (none for an empty list)."""
    if not objects:
        return objects, []
    from lib.review import ReviewStore  # the upload path only: a timer tick never pays its import

    store = ReviewStore(deps.client, settings.state_prefix, deps.clock)
    split = store.split([(o.key, o.etag or None) for o in objects], lambda key: etag_now(deps.client, key))
    excluded = set(split.excluded)
    return [o for o in objects if o.key not in excluded], [SkippedKey(key=k, reason=REVIEWED) for k in split.excluded]


def _identity(settings: Settings, obj: UploadedObject) -> object:
    # One job per event needs each key once; coalescing keeps every upload (a re-upload is its own record).
    if not settings.upload_batch_seconds:
        return obj.key
    from lib.upload_state import record_id  # coalescing mode only: a per-event run never pays its import

    return record_id(obj)


class UploadPlan(BaseModel):
    """The job an upload event maps to, and the manifest it needs (if several objects)."""

    model_config = ConfigDict(frozen=True, defer_build=True)  # upload path only: a timer tick never builds it
    body: JobBody
    described: str
    manifest_key: Optional[str] = None
    manifest_text: Optional[str] = None


def plan_upload(settings: Settings, objects: List[UploadedObject]) -> UploadPlan:
    """Pure: Input.Object for one object, a UrlFile manifest for several; the name derives from the records.

    One object whose key XML cannot carry exactly (lib.jobs.xml_carries) goes in a one-line manifest, where its
    URL percent-encodes it: in Input.Object CI would inspect (and act on) another key, or refuse the body."""
    digest = upload_digest(objects)
    name = upload_job_name(settings.job_name_prefix, digest)
    if len(objects) == 1 and xml_carries(objects[0].key):
        body = build_job_body(settings, name, JobInput(Object=objects[0].key), None)
        return UploadPlan(body=body, described=f"Object={objects[0].key}")
    manifest = f"{settings.state_prefix}manifests/{digest}.txt"
    text = manifest_lines(settings.bucket, settings.region, [o.key for o in objects])
    url = object_url(settings.bucket, settings.region, manifest)
    body = build_job_body(settings, name, JobInput(UrlFile=url), None)
    count = f"{len(objects)} objects" if len(objects) > 1 else "1 object, its key not safe in XML"
    return UploadPlan(body=body, described=f"UrlFile={url} ({count})", manifest_key=manifest, manifest_text=text)


def submit_upload(settings: Settings, event: CosEvent, deps: Deps) -> SubmitResult:
    """One job over exactly the uploaded objects: Input.Object for one, a UrlFile manifest for several.

    With INPUT_SOURCE=inventory, an event for INVENTORY_ID's manifest.checksum runs the inventory rule instead."""
    if settings.input_source == "inventory":
        from lib.submit.inventory import inventory_upload  # inventory rules only

        result = inventory_upload(settings, event, deps)
        if result is not None:
            return result
    objects, skipped = select_uploads(settings, event)
    if not settings.upload_batch_seconds:  # coalescing, the flush leaves them out (lib.upload_state.Records.reviewed)
        objects, reviewed = leave_out_reviewed(settings, deps, objects)
        skipped += reviewed
    for item in skipped:
        logs.log("upload_skip", key=item.key, reason=item.reason)
    if not objects:
        return SubmitResult(trigger="cos", skipped=skipped, note="nothing to inspect in this event")
    if settings.upload_batch_seconds:
        from lib.submit.coalesce import coalesce_upload

        return coalesce_upload(settings, objects, skipped, deps)
    plan = plan_upload(settings, objects)
    store = StateStore(deps.client, settings.state_prefix, deps.clock)
    with store.holding(_lease(plan, deps), lease_ttl(settings, deps.time_limit)):
        passed = gate(settings, deps, plan.body, Count(objects=len(objects), method="upload event"),
                      PlanSource(kind="upload", claim=plan.body.Name, uploads=tuple(objects)))
        if passed.plan is not None:  # held (or declined/expired before): no manifest, no job
            return SubmitResult(trigger="cos", skipped=skipped, held=[HeldJob.of(passed.plan)],
                                note=held_note(passed.plan))
        ref = _send(settings, deps, plan)
    return SubmitResult(trigger="cos", jobs=[ref.model_copy(update={"estimate": passed.estimate})], skipped=skipped)


def _lease(plan: UploadPlan, deps: Deps) -> Lease:
    # The job name is the claim: a redelivered event (or a confirm of its held plan) meets the same lease.
    return Lease(lease_id=plan.body.Name, owner=deps.owner, generation=0, expires_at=deps.clock(),
                 job_name=plan.body.Name)


def _send(settings: Settings, deps: Deps, plan: UploadPlan) -> JobRef:
    """The manifest (if any), then the job, found by name when a run before this one made it."""
    if plan.manifest_key is not None and plan.manifest_text is not None:
        # Same records, same bytes: rewriting it on a redelivery is harmless.
        deps.client.put_object(plan.manifest_key, plan.manifest_text.encode("utf-8"), "text/plain; charset=utf-8")
    job, created = ensure_job(deps.client, plan.body, deps.sleep)
    ref = job_ref(job, created, plan.described, None)  # the input CI holds, as the timer's line says it
    logs.log("job_created" if created else "job_found", job_id=job.JobId, job_name=job.Name, input=ref.input)
    return ref


def confirm_held(settings: Settings, deps: Deps, plan: HeldPlan, store: StateStore,
                 count: Callable[[], None]) -> JobRef:
    """Send a held upload's job (lib.submit.confirm): rebuilt from its records under the current settings, and only
    if that is the body held; under the upload's own claim, so a redelivered event cannot send it alongside."""
    from lib.submit.confirm import held_body_problem  # the operator's confirm only

    uploads = list(plan.source.uploads)
    wrong = [o.key for o in uploads if o.bucket != settings.bucket or skip_reason(settings, o)]
    if not uploads or wrong:
        raise PlanError(f"plan {plan.plan_id} names {'no upload' if not uploads else repr(wrong[0][:200])}, which "
                        f"no upload event of BUCKET={settings.bucket} under the current rules would send; nothing "
                        "was sent. Decline it")
    rebuilt = plan_upload(settings, uploads)
    problem = held_body_problem(plan, rebuilt.body) or (
        "" if plan.source.claim == rebuilt.body.Name else f"its claim {plan.source.claim[:160]!r} is not its job name")
    if problem:
        raise PlanError(f"plan {plan.plan_id} cannot be confirmed: {problem}; nothing was sent")
    with store.holding(_lease(rebuilt, deps), lease_ttl(settings, deps.time_limit)):
        count()
        ref = _send(settings, deps, rebuilt)
    return ref.model_copy(update={"estimate": plan.estimate})
