"""SCF events as the platform delivers them: one timer event builder, one COS upload event builder, the samples."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Sequence, Union
from urllib.parse import quote

from tests.support.settings import BUCKET, REGION

EVENTS = Path(__file__).resolve().parents[2] / "events"
TICK = "2026-11-28T16:00:00Z"
REPORT_TIMER = "daily-report"  # the report function's timer (serverless.yml)
AUTHORIZATION = "q-sign-algorithm=sha1&q-signature=REDACTED"
EVENT_TIME = 1764547200  # 2025-12-01T00:00:00Z
# A function clock a few minutes after cos_event's eventTime: its slot is due, well within RECORD_MAX_WAIT.
EVENT_CLOCK = datetime.fromtimestamp(EVENT_TIME + 300, tz=timezone.utc)
# The published samples' eventTime (events/cos-upload-*.json): 2022-04-15T09:49:16Z.
SAMPLE_EVENT_TIME = 1650016156


def load_event(name: str) -> Dict[str, Any]:
    """One of the published sample events in events/."""
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def timer_event(time: Union[str, datetime] = TICK, name: str = "hourly", message: str = "") -> Dict[str, Any]:
    """A timer trigger's event; `time` as SCF writes it (a UTC ISO string) or as a datetime."""
    if isinstance(time, datetime):
        time = time.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"Type": "Timer", "TriggerName": name, "Time": time, "Message": message}


def cos_event(keys: Iterable[str], *, event_time: Union[None, int, Sequence[Optional[int]]] = EVENT_TIME,
              request_ids: Optional[Sequence[str]] = None, etags: Optional[Sequence[str]] = None,
              authorization: str = AUTHORIZATION) -> Dict[str, Any]:
    """A COS upload delivery (the documented shape) naming `keys` in BUCKET; per record, `event_time` None (or a
    None in the list) leaves eventTime out, and request ids and ETags default to req-<i> and etag<i>."""
    keys = list(keys)
    times = list(event_time) if isinstance(event_time, (list, tuple)) else [event_time] * len(keys)
    records = []
    for i, key in enumerate(keys):
        event: Dict[str, Any] = {
            "eventName": "cos:ObjectCreated:Put", "eventSource": "qcs::cos", "eventTime": times[i],
            "requestParameters": {"requestHeaders": {"Authorization": authorization},
                                  "requestSourceIP": "203.0.113.7"}}
        if times[i] is None:
            del event["eventTime"]
        records.append({
            "cos": {
                "cosBucket": {"appid": "1250000000", "cosRegion": REGION, "name": "examplebucket", "region": "gz"},
                "cosObject": {"key": f"/1250000000/examplebucket/{key}",
                              "meta": {"Content-Type": "image/png",
                                       "ETag": f'"{etags[i]}"' if etags else f'"etag{i}"',
                                       "x-cos-request-id": request_ids[i] if request_ids else f"req-{i}"},
                              "size": 1024, "vid": "",
                              "url": f"http://{BUCKET}.cos.{REGION}.myqcloud.com/{quote(key, safe='/-_.~')}"},
                "cosSchemaVersion": "1.0"},
            "event": event,
        })
    return {"Records": records}
