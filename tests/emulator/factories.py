"""Bytes and request bodies for emulator tests: images with and without a hidden MPEG-TS stream, job bodies."""
from __future__ import annotations

import struct
import zlib
from typing import Any, Dict, Optional


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png(width: int = 4, height: int = 4, seed: int = 0) -> bytes:
    """A valid, complete RGB PNG (``seed`` varies the pixels, hence the ETag)."""
    raw = b"".join(b"\x00" + bytes((x * 40 + y * 7 + seed) % 256 for x in range(width * 3)) for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b""))


def ts_stream(packets: int = 8) -> bytes:
    """An MPEG-TS stream: ``packets`` 188-byte packets, each starting with the 0x47 sync byte."""
    return b"".join(b"\x47" + bytes([0x40 if i == 0 else 0x00, 0x11, 0x10 | (i % 16)]) + b"\xff" * 184
                    for i in range(packets))


def suspicious_png(seed: int = 0) -> bytes:
    """A valid PNG with an MPEG-TS stream appended after IEND: ImageInspect flags it as MPEG-TS."""
    return png(seed=seed) + ts_stream()


def job_body(name: str = "inspect-all", prefix: Optional[str] = "/", auto: str = "true",
             process_type: str = "BackupObject", start: Optional[str] = None, end: Optional[str] = None,
             input_: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """A Type=Job ImageInspect batch-job body in the SDK demo's shape."""
    operation: Dict[str, Any] = {}
    if start or end:
        operation["TimeInterval"] = {k: v for k, v in (("Start", start), ("End", end)) if v}
    operation["Tag"] = "ImageInspect"
    operation["JobParam"] = {"ImageInspect": {"AutoProcess": auto, "ProcessType": process_type}}
    return {"Name": name, "Type": "Job", "Input": input_ if input_ is not None else {"Prefix": prefix},
            "Operation": operation}


def workflow_job_body(workflow_id: str, name: str = "wf-batch", prefix: str = "/") -> Dict[str, Any]:
    return {"Name": name, "Type": "Workflow", "Input": {"Prefix": prefix},
            "Operation": {"WorkflowIds": workflow_id}}


def workflow_body(name: str = "inspect-flow", auto: str = "true", process_type: str = "BackupObject",
                  state: str = "Active") -> Dict[str, Any]:
    """The SDK demo's ImageInspect workflow (``ci_create_workflow_image_inspect``)."""
    return {"MediaWorkflow": {
        "Name": name, "State": state,
        "Topology": {
            "Dependencies": {"Start": "ImageInspectNode", "ImageInspectNode": "End"},
            "Nodes": {
                "Start": {"Type": "Start", "Input": {"ObjectPrefix": "", "ExtFilter": {"State": "On",
                                                                                        "Image": "true"}}},
                "ImageInspectNode": {"Type": "ImageInspect", "Operation": {
                    "ImageInspect": {"AutoProcess": auto, "ProcessType": process_type}}},
            },
        },
    }}
