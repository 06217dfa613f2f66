"""API calls counted through the emulator's request log: every request a function made, by operation."""
from __future__ import annotations

from collections import Counter
from typing import Any, Dict, Iterable, List

# Operation names in the order a reader meets them in the submit path, then the report's.
LIST_JOBS = "list batch jobs"


def operation(record: Any) -> str:
    """A short name for one logged request: service, method, path and query (RequestRecord or dict)."""
    get = record.get if isinstance(record, dict) else lambda name: getattr(record, name)
    service, method, path, query = get("service"), get("method"), get("path"), get("query") or {}
    if service == "ci":
        if path == "/inventorytriggerjob":
            if method == "POST":
                return "create batch job"
            listed = f"{LIST_JOBS} Type={query.get('type') or 'Workflow'}"
            # The report's second query: jobs from before the window that are still running (stuck candidates).
            return listed if query.get("states", "All") == "All" else f"{listed} states={query['states']}"
        if path.startswith("/inventorytriggerjob/"):
            return "get batch job" if method == "GET" else "cancel batch job"
        if path == "/jobs":
            return "list per-object jobs (GET /jobs)"
        if path == "/workflowexecution":
            return "list workflow executions"
        return f"ci {method} {path}"
    if service == "cos":
        if path == "/" and method == "GET":
            return "list objects"
        verb = {"GET": "get", "PUT": "put", "DELETE": "delete", "HEAD": "head"}.get(method, method)
        return f"{verb} object"
    return f"{service} {method} {path}"


def count(records: Iterable[Any]) -> Counter:
    """Operation -> number of requests (control requests to /_emulator/ are not API calls)."""
    return Counter(operation(r) for r in records
                   if (r.get("service") if isinstance(r, dict) else r.service) != "control")


def describe(counter: Counter) -> str:
    """`2 get object, 1 create batch job, …` in a stable order (most first, then by name)."""
    items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{n} {op}" for op, n in items) if items else "none"


def list_calls(counter: Counter, job_type: str) -> int:
    return counter.get(f"{LIST_JOBS} Type={job_type}", 0)


def per_object_calls(counter: Counter) -> int:
    return counter.get("list per-object jobs (GET /jobs)", 0) + counter.get("list workflow executions", 0)


def as_dict(counter: Counter) -> Dict[str, int]:
    return dict(sorted(counter.items()))


def total(counter: Counter) -> int:
    return sum(counter.values())


def operations(counter: Counter) -> List[str]:
    return sorted(counter)
