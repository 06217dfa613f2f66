"""Fault injection: make the next N requests matching a route fail, stall, reset or lose their response."""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

ACTIONS = ("status", "slow", "reset", "drop_response")


@dataclass
class Fault:
    """One rule. ``status``: answer ``status`` with the service's error XML, carry nothing out.
    ``slow``: wait ``delay`` seconds, then carry the request out normally.
    ``reset``: close the connection with a TCP reset before carrying anything out.
    ``drop_response``: carry the request out, then close the connection without answering."""

    method: Optional[str]
    path_regex: str
    service: Optional[str]
    action: str
    count: int
    status: int = 500
    delay: float = 2.0
    bucket: Optional[str] = None
    fired: int = 0
    _pattern: Any = field(default=None, repr=False)

    def matches(self, method: str, service: str, bucket: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        if self.service and self.service != service:
            return False
        if self.bucket and self.bucket != bucket:
            return False
        return self._pattern.search(path) is not None

    def to_dict(self) -> Dict[str, Any]:
        return {"method": self.method, "path_regex": self.path_regex, "service": self.service,
                "action": self.action, "count": self.count, "status": self.status, "delay": self.delay,
                "bucket": self.bucket, "fired": self.fired}


class Faults:
    """Thread-safe set of fault rules; each matching request consumes one ``count`` of the first rule."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: List[Fault] = []

    def add(self, method: Optional[str] = "POST", path_regex: str = r"^/inventorytriggerjob$",
            service: Optional[str] = "ci", action: str = "status", count: int = 1, status: int = 500,
            delay: float = 2.0, bucket: Optional[str] = None) -> Fault:
        """Make the next ``count`` requests matching (method, path_regex, service[, bucket]) fail with ``action``.

        ``method``/``service``/``bucket`` None match anything; ``path_regex`` is searched in the decoded path.
        """
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}, got {action!r}")
        if count < 1:
            raise ValueError("count must be >= 1")
        if action == "status" and not 400 <= int(status) <= 599:
            raise ValueError("status must be a 4xx/5xx code")
        fault = Fault(method=method, path_regex=path_regex, service=service, action=action, count=int(count),
                      status=int(status), delay=float(delay), bucket=bucket,
                      _pattern=re.compile(path_regex))
        with self._lock:
            self._rules.append(fault)
        return fault

    def take(self, method: str, service: str, bucket: str, path: str) -> Optional[Fault]:
        """Return (and consume one use of) the first rule matching this request, if any."""
        with self._lock:
            for fault in self._rules:
                if fault.matches(method, service, bucket, path):
                    fault.count -= 1
                    fault.fired += 1
                    if fault.count <= 0:
                        self._rules.remove(fault)
                    return fault
        return None

    def pending(self) -> List[Fault]:
        with self._lock:
            return list(self._rules)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
