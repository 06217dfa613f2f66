"""Thread-safe log of the requests the emulator served (for assertions such as "exactly one create")."""
from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Iterator, List, Optional


@dataclass
class RequestRecord:
    method: str
    service: str
    bucket: str
    path: str
    query: Dict[str, str]
    status: int
    fault: Optional[str] = None
    at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


class RequestLog:
    """List-like and thread-safe: iterate, index, ``len()``, ``clear()``, ``filter(method=..., path=...)``.

    ``status`` is 0 for requests whose connection was reset or whose response was dropped (see ``fault``)."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._records: List[RequestRecord] = []

    def append(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)
            self._lock.notify_all()

    def wait_for(self, timeout: float = 5.0, **fields: Any) -> Optional[RequestRecord]:
        """Block until a record with these attribute values is logged (a request finished); None on timeout."""
        def find() -> Optional[RequestRecord]:
            return next((r for r in self._records if all(getattr(r, k) == v for k, v in fields.items())), None)

        with self._lock:
            self._lock.wait_for(lambda: find() is not None, timeout=timeout)
            return find()

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def snapshot(self) -> List[RequestRecord]:
        with self._lock:
            return list(self._records)

    def filter(self, predicate: Optional[Callable[[RequestRecord], bool]] = None, **fields: Any
               ) -> List[RequestRecord]:
        """Records whose attributes equal ``fields`` (and satisfy ``predicate``)."""
        return [r for r in self.snapshot()
                if all(getattr(r, k) == v for k, v in fields.items()) and (predicate is None or predicate(r))]

    def __iter__(self) -> Iterator[RequestRecord]:
        return iter(self.snapshot())

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def __getitem__(self, index):
        with self._lock:
            return self._records[index]
