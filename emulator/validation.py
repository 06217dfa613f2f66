"""Validation of batch-job and workflow request bodies, as the CI service does it (400 InvalidArgument)."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # noqa: S405 - only used on already-parsed trees
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from .errors import invalid_argument
from .models import PROCESS_TYPES
from .xmlio import parse_ci_time, raw_of, text

NAME_RE = re.compile(r"^[A-Za-z0-9_\-\u4e00-\u9fff]{1,128}$")
INPUT_KINDS = ("Manifest", "UrlFile", "Prefix", "Object")
JOB_TYPES = ("Workflow", "Job")
SUPPORTED_TAGS = ("ImageInspect",)
WORKFLOW_ID_RE = re.compile(r"^w[0-9a-zA-Z]{1,64}$")
WORKFLOW_NODE_TYPES = ("Start", "End", "ImageInspect")


@dataclass
class BatchJobSpec:
    name: str
    type: str
    tag: str
    input_kind: str
    input_value: str
    input_xml: str
    operation_xml: str
    interval_start: Optional[str] = None
    interval_end: Optional[str] = None
    workflow_ids: List[str] = field(default_factory=list)
    auto_process: bool = False
    process_type: str = "BackupObject"


def _bool(value: Optional[str], field_name: str) -> bool:
    if value is None or value == "":
        return False
    if value.lower() not in ("true", "false"):
        raise invalid_argument(f"{field_name} must be true or false, got {value!r}")
    return value.lower() == "true"


def parse_image_inspect(elem: Optional[ET.Element], where: str) -> Dict[str, Any]:
    """``<ImageInspect><AutoProcess/><ProcessType/></ImageInspect>`` → ``{"auto_process", "process_type"}``."""
    auto = _bool(text(elem, "AutoProcess"), f"{where}.AutoProcess")
    process_type = text(elem, "ProcessType") or "BackupObject"
    if process_type not in PROCESS_TYPES:
        raise invalid_argument(f"{where}.ProcessType must be one of {', '.join(PROCESS_TYPES)}, "
                               f"got {process_type!r}")
    return {"auto_process": auto, "process_type": process_type}


def _input_kind(input_elem: ET.Element) -> str:
    """The one Input child that says something; empty siblings are ignored, a lone empty Prefix is the whole bucket.

    The create page lists Manifest, UrlFile, Prefix and Object as optional strings
    (https://cloud.tencent.com/document/api/436/76888, read 2026-12-01; its sample sends Prefix alone) and issue 13
    reports a documented sample with all four present and three empty, so both shapes are accepted."""
    present = [k for k in INPUT_KINDS if input_elem.find(k) is not None]
    given = [k for k in present if text(input_elem, k) or len(list(input_elem.find(k)))]  # type: ignore[arg-type]
    if len(given) > 1 or not present:
        raise invalid_argument(f"Input must have exactly one non-empty child of {', '.join(INPUT_KINDS)}, "
                               f"got {', '.join(given or present) or 'none'}")
    if given:
        return given[0]
    return "Prefix" if "Prefix" in present else present[0]


def parse_batch_job(root: ET.Element) -> BatchJobSpec:
    """Validate a ``POST /inventorytriggerjob`` body.

    Raises:
        EmulatorError: 400 InvalidArgument naming the offending field.
    """
    name = text(root, "Name")
    if not name:
        raise invalid_argument("Name is required")
    if not NAME_RE.match(name):
        raise invalid_argument("Name must be 1-128 characters of Chinese, letters, digits, - and _")
    job_type = text(root, "Type") or "Workflow"
    if job_type not in JOB_TYPES:
        raise invalid_argument(f"Type must be Workflow or Job, got {job_type!r}")

    input_elem = root.find("Input")
    if input_elem is None:
        raise invalid_argument("Input is required")
    kind = _input_kind(input_elem)
    value = text(input_elem, kind) or ""
    if kind != "Prefix" and not value:
        raise invalid_argument(f"Input.{kind} must not be empty")

    op = root.find("Operation")
    if op is None:
        raise invalid_argument("Operation is required")
    interval_start = interval_end = None
    interval = op.find("TimeInterval")
    if interval is not None:
        interval_start = text(interval, "Start") or None
        interval_end = text(interval, "End") or None
        start = parse_ci_time(interval_start, "TimeInterval.Start") if interval_start else None
        end = parse_ci_time(interval_end, "TimeInterval.End") if interval_end else None
        if start is not None and end is not None and start >= end:
            raise invalid_argument("TimeInterval.Start must be before TimeInterval.End")

    spec = BatchJobSpec(name=name, type=job_type, tag="Workflow", input_kind=kind, input_value=value,
                        input_xml=raw_of(input_elem), operation_xml=raw_of(op),
                        interval_start=interval_start, interval_end=interval_end)
    if job_type == "Workflow":
        ids = [(e.text or "").strip() for e in op.findall("WorkflowIds")]
        ids = [i for part in ids for i in part.split(",") if i.strip()]
        if not ids:
            raise invalid_argument("Operation.WorkflowIds is required for Type Workflow")
        bad = [i for i in ids if not WORKFLOW_ID_RE.match(i.strip())]
        if bad:
            raise invalid_argument(f"Operation.WorkflowIds has an invalid id {bad[0]!r}")
        spec.workflow_ids = [i.strip() for i in ids]
    else:
        tag = text(op, "Tag")
        if not tag:
            raise invalid_argument("Operation.Tag is required for Type Job")
        if tag not in SUPPORTED_TAGS:
            raise invalid_argument(f"Operation.Tag {tag!r} is not supported (emulated: ImageInspect)")
        spec.tag = tag
        params = parse_image_inspect(op.find("JobParam/ImageInspect"), "Operation.JobParam.ImageInspect")
        spec.auto_process = params["auto_process"]
        spec.process_type = params["process_type"]
    return spec


@dataclass
class WorkflowSpec:
    name: str
    state: str
    topology_xml: str
    nodes: List[Dict[str, Any]]


def parse_workflow(root: ET.Element) -> WorkflowSpec:
    """Validate a ``POST /workflow`` body whose nodes are Start, ImageInspect and End (the SDK demo's shape).

    Raises:
        EmulatorError: 400 InvalidArgument.
    """
    wf = root.find("MediaWorkflow")
    if wf is None:
        raise invalid_argument("MediaWorkflow is required")
    name = text(wf, "Name")
    if not name or not NAME_RE.match(name):
        raise invalid_argument("MediaWorkflow.Name is required: 1-128 Chinese, letters, digits, - and _")
    state = text(wf, "State") or "Paused"
    if state not in ("Active", "Paused"):
        raise invalid_argument(f"MediaWorkflow.State must be Active or Paused, got {state!r}")
    topology = wf.find("Topology")
    if topology is None:
        raise invalid_argument("MediaWorkflow.Topology is required")
    deps = topology.find("Dependencies")
    nodes_elem = topology.find("Nodes")
    if deps is None or nodes_elem is None:
        raise invalid_argument("Topology needs Dependencies and Nodes")
    nodes = {child.tag: child for child in nodes_elem}
    for node_name, node in nodes.items():
        node_type = text(node, "Type")
        if node_type not in WORKFLOW_NODE_TYPES:
            raise invalid_argument(f"node {node_name} has Type {node_type!r}; emulated node types: "
                                   f"{', '.join(WORKFLOW_NODE_TYPES)}")
    edges = {child.tag: (child.text or "").strip() for child in deps}
    if "Start" not in edges:
        raise invalid_argument("Dependencies must start at Start")
    ordered: List[Dict[str, Any]] = []
    current, seen = "Start", set()
    while current and current != "End":
        if current in seen:
            raise invalid_argument("Dependencies contain a cycle")
        seen.add(current)
        if current not in nodes and current != "Start":
            raise invalid_argument(f"Dependencies name an unknown node {current!r}")
        node = nodes.get(current)
        if node is not None and text(node, "Type") == "ImageInspect":
            params = parse_image_inspect(node.find("Operation/ImageInspect"), f"Nodes.{current}.Operation"
                                                                              ".ImageInspect")
            ordered.append({"name": current, **params})
        nxt = edges.get(current, "")
        if "," in nxt:
            raise invalid_argument("parallel branches are not emulated")
        current = nxt
    if current != "End":
        raise invalid_argument("Dependencies must end at End")
    return WorkflowSpec(name=name, state=state, topology_xml=raw_of(topology), nodes=ordered)
