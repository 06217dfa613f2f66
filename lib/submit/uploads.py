"""COS upload events: one job over exactly the uploaded objects (or, coalescing, a record per upload)."""

from typing import List, Optional, Tuple

from pydantic import BaseModel, ConfigDict

from lib import logs
from lib.config import Settings
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
from lib.state import Lease, StateStore
from lib.submit.ensure import ensure_job
from lib.submit.run import Deps, SkippedKey, SubmitResult, job_ref, lease_ttl
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
    for item in skipped:
        logs.log("upload_skip", key=item.key, reason=item.reason)
    if not objects:
        return SubmitResult(trigger="cos", skipped=skipped, note="nothing to inspect in this event")
    if settings.upload_batch_seconds:
        from lib.submit.coalesce import coalesce_upload

        return coalesce_upload(settings, objects, skipped, deps)
    plan = plan_upload(settings, objects)
    store = StateStore(deps.client, settings.state_prefix, deps.clock)
    proposal = Lease(lease_id=plan.body.Name, owner=deps.owner, generation=0, expires_at=deps.clock(),
                     job_name=plan.body.Name)
    with store.holding(proposal, lease_ttl(settings, deps.time_limit)):
        if plan.manifest_key is not None and plan.manifest_text is not None:
            # Same records, same bytes: rewriting it on a redelivery is harmless.
            deps.client.put_object(plan.manifest_key, plan.manifest_text.encode("utf-8"), "text/plain; charset=utf-8")
        job, created = ensure_job(deps.client, plan.body, deps.sleep)
        ref = job_ref(job, created, plan.described, None)  # the input CI holds, as the timer's line says it
        logs.log("job_created" if created else "job_found", job_id=job.JobId, job_name=job.Name, input=ref.input)
    return SubmitResult(trigger="cos", jobs=[ref], skipped=skipped)
