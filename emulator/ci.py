"""CI actions: batch jobs, per-object ImageInspect jobs, workflows and workflow executions."""
from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Callable, List, Optional, Tuple

from .backend import Backend, ListFilter
from .dispatch import Request, Response, Route, route, xml_response
from .errors import EmulatorError, invalid_argument, no_such_bucket
from .executor import object_url, run_workflow
from .models import BatchJob, InspectJob, Workflow, WorkflowExecution
from .validation import parse_batch_job, parse_workflow
from .xmlio import Raw, ci_time, parse_body, render

Nodes = List[Tuple[str, object]]


def _filter(request: Request, bounds: str) -> ListFilter:
    """The list filter of a request; ``bounds`` says how its creation-time bounds compare, per the API page."""
    p = request.params
    return ListFilter(states=p.get("states") or "All", order=p.get("orderByTime") or "Desc",
                      size=p.get("size") or "10", next_token=p.get("nextToken", ""),
                      start=p.get("startCreationTime") or None, end=p.get("endCreationTime") or None, bounds=bounds)


def _page(request: Request) -> Tuple[int, int]:
    """``pageNumber`` (default 1) and ``pageSize`` (default 10) of a paged workflow or queue list."""
    try:
        return int(request.params.get("pageNumber") or 1), int(request.params.get("pageSize") or 10)
    except ValueError as exc:
        raise invalid_argument("pageNumber and pageSize must be integers") from exc


# How each list's startCreationTime / endCreationTime compare, as the API pages word them (read 2026-12-01):
# batch jobs, cloud.tencent.com/document/product/436/71518: 大于等于 / 小于等于 (both inclusive);
# workflow executions, cloud.tencent.com/document/api/436/80048: 大于等于 / 小于等于 (both inclusive);
# GET /jobs, cloud.tencent.com/document/product/1545/65273: 大于 / 小于 (both strict).
BATCH_JOB_BOUNDS = EXECUTION_BOUNDS = "inclusive"
MEDIA_JOB_BOUNDS = "strict"


def media_queue_id(bucket: str) -> str:
    """The one media-processing queue each bucket has here: stable, `p` + 32 hex digits like the documented ids."""
    return "p" + hashlib.sha256(bucket.encode("utf-8")).hexdigest()[:32]


def queue_nodes(bucket: str, now: str) -> Nodes:
    """A QueueList entry, in the element order of the API page's sample (cloud.tencent.com 436/54045)."""
    return [("QueueId", media_queue_id(bucket)), ("Name", f"queue-{bucket}"), ("State", "Active"),
            ("NotifyConfig", [("State", "Off")]), ("MaxSize", 10000), ("MaxConcurrent", 10),
            ("UpdateTime", now), ("CreateTime", now), ("Category", "Transcoding")]


def batch_job_nodes(job: BatchJob) -> Nodes:
    """A batch job's JobsDetail, in the documented element order (reference §8 / §11.1)."""
    return [("Code", job.code), ("Message", job.message or None), ("JobId", job.job_id), ("Tag", job.tag),
            ("State", job.state), ("CreationTime", ci_time(job.creation_time)),
            ("StartTime", ci_time(job.start_time)), ("EndTime", ci_time(job.end_time)), ("QueueId", "-"),
            ("Name", job.name), ("Type", job.type), ("Input", Raw(job.input_xml)),
            ("Operation", Raw(job.operation_xml))]


def inspect_job_nodes(job: InspectJob) -> Nodes:
    """A per-object ImageInspect job's JobsDetail (``GET /jobs``)."""
    result: Nodes = [("State", job.state), ("Code", job.code), ("Message", job.message or None),
                     ("InputObjectName", job.key),
                     ("InputObjectUrl", object_url(job.bucket, job.region, job.key))]
    if job.result is not None:
        r = job.result
        process: Nodes = [("PicSize", r.get("picSize")), ("PicType", r.get("picType")),
                          ("Suspicious", bool(r.get("suspicious")))]
        if r.get("suspicious"):
            process += [("SuspiciousBeginByte", r.get("suspiciousBeginByte")),
                        ("SuspiciousEndByte", r.get("suspiciousEndByte")),
                        ("SuspiciousSize", r.get("suspiciousSize")),
                        ("SuspiciousType", r.get("suspiciousType"))]
            if job.auto_code is not None:
                process.append(("AutoProcessResult", [("Code", job.auto_code),
                                                      ("Message", job.auto_message or None)]))
        result.append(("ProcessResult", process))
    operation: Nodes = [("ImageInspect", [("AutoProcess", job.auto_process), ("ProcessType", job.process_type)]),
                        ("ImageInspectResult", result)]
    if job.batch_job_id:
        operation.append(("InventoryTriggerJobId", job.batch_job_id))
    if job.workflow_id:
        operation.append(("WorkflowId", job.workflow_id))
    return [("Code", job.code), ("Message", job.message or None), ("JobId", job.job_id),
            ("Tag", "ImageInspect"), ("State", job.state), ("CreationTime", ci_time(job.creation_time)),
            ("StartTime", ci_time(job.start_time)), ("EndTime", ci_time(job.end_time)),
            ("QueueId", media_queue_id(job.bucket)),
            ("Input", [("Region", job.region), ("Bucket", job.bucket), ("Object", job.key)]),
            ("Operation", operation)]


def workflow_nodes(wf: Workflow) -> Nodes:
    return [("Name", wf.name), ("State", wf.state), ("WorkflowId", wf.workflow_id),
            ("CreateTime", ci_time(wf.creation_time)), ("UpdateTime", ci_time(wf.update_time)),
            ("BucketId", wf.bucket), ("Topology", Raw(wf.topology_xml))]


def execution_summary_nodes(ex: WorkflowExecution) -> Nodes:
    """One listed execution, in the element order of the API page's sample (cloud.tencent.com 436/80048)."""
    return [("RunId", ex.run_id), ("WorkflowId", ex.workflow_id), ("Object", ex.key),
            ("CreateTime", ci_time(ex.creation_time)), ("State", ex.state)]


class CiActions:
    """Each action's docstring says what it does not emulate."""

    def __init__(self, backend: Backend):
        self.backend = backend

    def routes(self) -> List[Route]:
        served = [
            route("ci", "POST", "/inventorytriggerjob", self.create_inventory_trigger_job),
            route("ci", "PUT", r"/inventorytriggerjob/(?P<job_id>[^/]+)", self.cancel_inventory_trigger_job,
                  flag=("cancel", None)),
            route("ci", "GET", r"/inventorytriggerjob/(?P<job_id>[^/]+)", self.describe_inventory_trigger_job),
            route("ci", "GET", "/inventorytriggerjob", self.describe_inventory_trigger_jobs),
            route("ci", "GET", "/jobs", self.describe_media_jobs),
            route("ci", "GET", r"/jobs/(?P<job_id>[^/]+)", self.describe_media_job),
            route("ci", "GET", "/queue", self.describe_media_queues),
            route("ci", "POST", "/workflow", self.create_media_workflow),
            route("ci", "GET", "/workflow", self.describe_media_workflows),
            route("ci", "PUT", r"/workflow/(?P<workflow_id>[^/]+)", self.update_workflow_state,
                  flag=("active", None)),
            route("ci", "PUT", r"/workflow/(?P<workflow_id>[^/]+)", self.update_workflow_state,
                  flag=("paused", None)),
            route("ci", "PUT", r"/workflow/(?P<workflow_id>[^/]+)", self.update_media_workflow),
            route("ci", "POST", "/triggerworkflow", self.trigger_workflow),
            route("ci", "DELETE", r"/workflow/(?P<workflow_id>[^/]+)", self.delete_media_workflow),
            route("ci", "GET", "/workflowexecution", self.describe_workflow_executions),
            route("ci", "GET", r"/workflowexecution/(?P<run_id>[^/]+)", self.describe_workflow_execution),
        ]
        return [replace(r, action=self._on_existing_bucket(r.action)) for r in served]

    def _on_existing_bucket(self, action: Callable[..., Response]) -> Callable[..., Response]:
        """A request to a bucket that does not exist is 404 NoSuchBucket, as on the COS host, never an empty list.

        COS's code and status (error-code page cloud.tencent.com/document/api/436/7730, SDK ut
        test_put_object_non_exist_bucket); CI's own error-code page (436/53983) does not list it: inference."""
        def checked(request: Request, **groups: str) -> Response:
            if not self.backend.has_bucket(request.bucket):
                raise no_such_bucket(request.bucket)
            return action(request, **groups)

        return checked

    def _response(self, request: Request, nodes: Nodes) -> Response:
        return xml_response(render("Response", [("RequestId", request.request_id)] + nodes))

    # ----- batch jobs ----------------------------------------------------------------------------------
    def create_inventory_trigger_job(self, request: Request) -> Response:
        """Create a batch job (Type Workflow or Job/ImageInspect) after validating the body like the service.
        Manifest input runs over the inventory report's rows (executor ``_read_manifest``). Not emulated: QueueId,
        CallBack*, Output, JobLevel,
        UserData (echoed only), Tags other than ImageInspect (400)."""
        spec = parse_batch_job(parse_body(request.body))
        job = self.backend.create_batch_job(request.bucket, request.region, spec)
        return self._response(request, [("JobsDetail", batch_job_nodes(job))])

    def describe_inventory_trigger_job(self, request: Request, job_id: str) -> Response:
        """Get batch jobs by id (comma-separated ids allowed); unknown ids go to NonExistJobIds with a 200.
        Not emulated: Progress."""
        ids = [i for i in job_id.split(",") if i]
        found, missing = self.backend.find_batch_jobs(request.bucket, ids)
        nodes: Nodes = [("JobsDetail", batch_job_nodes(j)) for j in found]
        if missing:
            nodes.append(("NonExistJobIds", ",".join(missing)))
        return self._response(request, nodes)

    def describe_inventory_trigger_jobs(self, request: Request) -> Response:
        """List batch jobs with every documented filter (type, states, name, jobId, workflowId, creation time
        range [start, end] inclusive as documented, orderByTime) and NextToken paging (size ≤ 100).
        Not emulated: nothing known."""
        p = request.params
        job_type = p.get("type") or "Workflow"
        if job_type not in ("Workflow", "Job"):
            raise invalid_argument(f"type must be Workflow or Job, got {job_type!r}")
        flt = _filter(request, BATCH_JOB_BOUNDS)
        jobs, token = self.backend.list_batch_jobs(request.bucket, flt, job_type, name=p.get("name") or None,
                                                   job_id=p.get("jobId", ""), workflow_id=p.get("workflowId", ""))
        nodes: Nodes = [("JobsDetail", batch_job_nodes(j)) for j in jobs]
        if token:
            nodes.append(("NextToken", token))
        return self._response(request, nodes)

    def cancel_inventory_trigger_job(self, request: Request, job_id: str) -> Response:
        """Cancel a Submitted or Running batch job: 200 with an empty body; cancelling a cancelled job again is
        a 200 no-op. Not emulated: what the real service answers for a finished job (here 400 InvalidArgument)
        or an unknown one (here 404 NoSuchJob)."""
        self.backend.cancel_batch_job(request.bucket, job_id)
        return Response(content_type=None)

    # ----- per-object jobs -----------------------------------------------------------------------------
    def describe_media_jobs(self, request: Request) -> Response:
        """List per-object ImageInspect jobs (``tag`` required) filtered by queueId, inventoryTriggerJobId,
        workflowId, inputObject, states and creation time (both bounds strict, as documented), with NextToken
        paging. A queueId that is not the bucket's queue lists nothing ("拉取该队列 ID 下的任务"). Not emulated:
        refusing a call without queueId (the API page says required, SDK pages optional), tags other than
        ImageInspect (empty list)."""
        p = request.params
        if not p.get("tag"):
            raise invalid_argument("tag is required")
        if p.get("queueId") and p["queueId"] != media_queue_id(request.bucket):
            return self._response(request, [])
        flt = _filter(request, MEDIA_JOB_BOUNDS)
        jobs, token = self.backend.list_inspect_jobs(request.bucket, flt, p["tag"],
                                                     batch_job_id=p.get("inventoryTriggerJobId", ""),
                                                     workflow_id=p.get("workflowId", ""),
                                                     input_object=p.get("inputObject", ""))
        nodes: Nodes = [("JobsDetail", inspect_job_nodes(j)) for j in jobs]
        if token:
            nodes.append(("NextToken", token))
        return self._response(request, nodes)

    def describe_media_job(self, request: Request, job_id: str) -> Response:
        """Get one per-object ImageInspect job. Not emulated: other media job kinds (NonExistJobIds)."""
        job = self.backend.get_inspect_job(request.bucket, job_id)
        if job is None:
            return self._response(request, [("NonExistJobIds", job_id)])
        return self._response(request, [("JobsDetail", inspect_job_nodes(job))])

    # ----- queues --------------------------------------------------------------------------------------
    def describe_media_queues(self, request: Request) -> Response:
        """List the bucket's media-processing queue (one per bucket, Active, category Transcoding), filtered by
        queueIds (unknown ids under NonExistPIDs, as the Go SDK reads them) and state, paged by pageNumber and
        pageSize; its times are the bucket's creation time. Not emulated: creating, updating or pausing queues;
        notification settings (State Off)."""
        p = request.params
        page_number, page_size = _page(request)
        ids = [i for i in (p.get("queueIds") or "").split(",") if i]
        ours = media_queue_id(request.bucket)
        listed = (not ids or ours in ids) and (p.get("state") or "All") in ("All", "Active") \
            and (p.get("category") or "Transcoding") in ("Transcoding", "CateAll")
        created = ci_time(self.backend.bucket_created.get(request.bucket) or self.backend.clock())
        queues = [queue_nodes(request.bucket, created)] if listed else []
        page = queues[(page_number - 1) * page_size: page_number * page_size]
        nodes: Nodes = [("TotalCount", len(queues)), ("PageNumber", page_number), ("PageSize", page_size)]
        nodes += [("QueueList", q) for q in page]
        nodes += [("NonExistPIDs", i) for i in ids if i != ours]
        return self._response(request, nodes)

    # ----- workflows -----------------------------------------------------------------------------------
    def create_media_workflow(self, request: Request) -> Response:
        """Create a workflow made of Start, ImageInspect and End nodes in a chain (the SDK demo's shape).
        Not emulated: other node types (400), parallel branches, Start-node filters and notifications (echoed
        only), automatic triggering on upload."""
        spec = parse_workflow(parse_body(request.body))
        wf = self.backend.create_workflow(request.bucket, spec)
        return self._response(request, [("MediaWorkflow", workflow_nodes(wf))])

    def describe_media_workflows(self, request: Request) -> Response:
        """Get workflows by ids (comma-separated) or list them (optionally by exact name), paged by
        pageNumber/pageSize. Not emulated: nothing known."""
        p = request.params
        ids = [i for i in (p.get("ids") or "").split(",") if i]
        page_number, page_size = _page(request)
        if page_number < 1 or not 1 <= page_size <= 100:
            raise invalid_argument("pageNumber must be >= 1 and pageSize 1..100")
        found, missing = self.backend.get_workflows(request.bucket, ids, name=p.get("name") or "")
        total = len(found)
        page = found[(page_number - 1) * page_size: page_number * page_size]
        nodes: Nodes = [("MediaWorkflowList", workflow_nodes(w)) for w in page]
        nodes += [("NonExistIDs", m) for m in missing]
        nodes += [("TotalCount", total), ("PageNumber", page_number), ("PageSize", page_size)]
        return self._response(request, nodes)

    def update_workflow_state(self, request: Request, workflow_id: str) -> Response:
        """Activate or pause a workflow (``?active`` / ``?paused``), answering with its MediaWorkflow (the SDK's
        ut/test.py test_ci_workflow reads MediaWorkflow.State). Not emulated: nothing known."""
        state = "Active" if "active" in request.params else "Paused"
        wf = self.backend.set_workflow_state(request.bucket, workflow_id, state)
        return self._response(request, [("MediaWorkflow", workflow_nodes(wf))])

    def update_media_workflow(self, request: Request, workflow_id: str) -> Response:
        """Replace a workflow's name, state and topology (``PUT /workflow/<id>``, Go SDK UpdateMediaWorkflow: the
        create body, answered with MediaWorkflow). Not emulated: refusing to update an Active workflow (unknown)."""
        spec = parse_workflow(parse_body(request.body))
        wf = self.backend.update_workflow(request.bucket, workflow_id, spec)
        return self._response(request, [("MediaWorkflow", workflow_nodes(wf))])

    def trigger_workflow(self, request: Request) -> Response:
        """Run a workflow on one object now (``POST /triggerworkflow?workflowId=&object=``), answering InstanceId
        (https://www.tencentcloud.com/zh/document/product/1045/50340, read 2026-12-01). The SDK's ut/test.py
        triggers a Paused workflow and expects success, so the state is not checked. A missing object gives a
        Failed execution (inference). Not emulated: ``name``, asynchrony (the run ends before the answer)."""
        p = request.params
        workflow_id, key = p.get("workflowId") or "", p.get("object") or ""
        if not workflow_id or not key:
            raise invalid_argument("workflowId and object are required")
        wf = self.backend.get_workflow(request.bucket, workflow_id)
        ex = run_workflow(self.backend, wf, request.bucket, request.region, key)
        return self._response(request, [("InstanceId", ex.run_id)])

    def delete_media_workflow(self, request: Request, workflow_id: str) -> Response:
        """Delete a workflow. Not emulated: refusing to delete an Active workflow."""
        self.backend.delete_workflow(request.bucket, workflow_id)
        return self._response(request, [("WorkflowId", workflow_id)])

    # ----- workflow executions -------------------------------------------------------------------------
    def describe_workflow_executions(self, request: Request) -> Response:
        """List workflow executions by workflowId, name (object key), jobId (batch job), states, creation time
        (both bounds inclusive, as documented), with NextToken paging. Not emulated: executions triggered by
        uploads (only batch jobs and ``POST /triggerworkflow`` create them)."""
        p = request.params
        executions, token = self.backend.list_workflow_executions(
            request.bucket, _filter(request, EXECUTION_BOUNDS), workflow_id=p.get("workflowId", ""),
            name=p.get("name", ""), batch_job_id=p.get("jobId", ""))
        # WorkflowExecutionList, as the API page and the Go SDK name it (not the Python SDK's WorkflowExecution).
        nodes: Nodes = [("WorkflowExecutionList", execution_summary_nodes(e)) for e in executions]
        nodes.append(("NextToken", token or None))
        return self._response(request, nodes)

    def describe_workflow_execution(self, request: Request, run_id: str) -> Response:
        """Get one workflow execution with its ImageInspect tasks. Not emulated: CosHeaders, task templates."""
        ex = self.backend.get_workflow_execution(request.bucket, run_id)
        if ex is None:
            raise EmulatorError(404, "NoSuchWorkflowExecution", f"workflow execution not exist: {run_id}")
        tasks: Nodes = []
        for task_id, name in zip(ex.task_job_ids, ex.task_names):
            job: Optional[InspectJob] = self.backend.get_inspect_job(request.bucket, task_id)
            if job is None:
                continue
            tasks.append(("Tasks", [("Type", "ImageInspect"), ("CreateTime", ci_time(job.creation_time)),
                                    ("EndTime", ci_time(job.end_time)), ("State", job.state),
                                    ("JobId", job.job_id), ("Name", name), ("Code", job.code),
                                    ("Message", job.message or None)]))
        detail: Nodes = [("RunId", ex.run_id), ("BucketId", ex.bucket), ("Object", ex.key),
                         ("WorkflowId", ex.workflow_id), ("WorkflowName", ex.workflow_name),
                         ("CreateTime", ci_time(ex.creation_time)), ("State", ex.state)] + tasks
        return self._response(request, [("WorkflowExecution", detail)])
