"""Control endpoints under ``/_emulator/`` (loopback only, never signature-checked): reset, run, inventory, log,
faults."""
from __future__ import annotations

import json
from typing import Any, List

from .backend import Backend
from .dispatch import Request, Response, Route, route
from .errors import EmulatorError
from .faults import Faults
from .inventory import ROWS_PER_FILE
from .requestlog import RequestLog


def _json(payload: Any, status: int = 200) -> Response:
    return Response(status=status, body=json.dumps(payload).encode("utf-8"), content_type="application/json")


class ControlActions:
    def __init__(self, backend: Backend, faults: Faults, request_log: RequestLog):
        self.backend = backend
        self.faults = faults
        self.request_log = request_log

    def routes(self) -> List[Route]:
        return [
            route("control", "POST", "/_emulator/reset", self.reset),
            route("control", "POST", "/_emulator/run-pending", self.run_pending),
            route("control", "POST", "/_emulator/inventory/run", self.run_inventory),
            route("control", "GET", "/_emulator/requests", self.requests),
            route("control", "DELETE", "/_emulator/requests", self.clear_requests),
            route("control", "POST", "/_emulator/faults", self.add_fault),
            route("control", "GET", "/_emulator/faults", self.list_faults),
            route("control", "DELETE", "/_emulator/faults", self.clear_faults),
        ]

    def reset(self, request: Request) -> Response:
        """Forget all state, faults and the request log."""
        self.backend.reset()
        self.faults.clear()
        self.request_log.clear()
        return _json({"reset": True})

    def run_pending(self, request: Request) -> Response:
        """Run every unfinished job to completion now."""
        return _json({"ran": self.backend.run_pending()})

    def run_inventory(self, request: Request) -> Response:
        """``?bucket=<b>&id=<id>[&date=YYYYMMDD][&rows_per_file=N]``: produce that inventory's report now."""
        p = request.params
        if not p.get("bucket") or not p.get("id"):
            raise EmulatorError(400, "InvalidArgument", "bucket and id are required")
        try:
            rows = int(p.get("rows_per_file") or ROWS_PER_FILE)
        except ValueError as exc:
            raise EmulatorError(400, "InvalidArgument", "rows_per_file must be an integer") from exc
        report = self.backend.run_inventory(p["bucket"], p["id"], date=p.get("date") or None, rows_per_file=rows)
        return _json(report.to_json())

    def requests(self, request: Request) -> Response:
        return _json([r.to_dict() for r in self.request_log])

    def clear_requests(self, request: Request) -> Response:
        self.request_log.clear()
        return _json({"cleared": True})

    def add_fault(self, request: Request) -> Response:
        """Body: the keyword arguments of ``Faults.add`` as JSON."""
        try:
            spec = json.loads(request.body.decode("utf-8") or "{}")
            if not isinstance(spec, dict):
                raise ValueError("body must be a JSON object")
            fault = self.faults.add(**spec)
        except (ValueError, TypeError) as exc:
            raise EmulatorError(400, "InvalidArgument", f"bad fault: {exc}") from exc
        return _json(fault.to_dict(), status=201)

    def list_faults(self, request: Request) -> Response:
        return _json([f.to_dict() for f in self.faults.pending()])

    def clear_faults(self, request: Request) -> Response:
        self.faults.clear()
        return _json({"cleared": True})
