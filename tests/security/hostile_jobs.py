"""Batch jobs whose keys, names and messages carry markup: seeded into the emulator as a bucket writer and CI would
leave them, for the report and the CLI to show (issue 22 point 6)."""
from __future__ import annotations

import uuid
from typing import Iterable, Optional

from emulator.models import InspectJob
from tests.support.emulator import EMULATOR_NOW, emulator_settings, fast_client
from tests.support.settings import BUCKET, REGION

# What the report of a timer at REPORT_TIME covers (REPORT_LOOKBACK 1d): jobs the emulator created at NOW.
REPORT_TIME = "2026-11-28T16:00:00Z"
EVIL = "https://evil.example/steal"
FAKE_HEADLINE = "**cos-batch-autopilot report: OK: 0 jobs, nothing flagged (last 1d)**"

# Spelled-out payloads: each tries to leave the code span or the line and add a link, a mention or a headline.
HOSTILE_KEYS = (
    f"uploads/x` [open the full report]({EVIL}) <@all> `.png",          # WeCom/DingTalk: code span, link, mention
    f"uploads/y\n{FAKE_HEADLINE}\n- `fine.png` nothing flagged.png",  # a new line and a fake verdict
    f"uploads/z <!channel> <{EVIL}|open the full report> &lt;b&gt;.png",  # Slack: link, mention, entity
    'uploads/w<at user_id="all">所有人</at><font color="info">ok</font>.png',  # Feishu mention, WeCom tag
    f"uploads/v ``` ![img]({EVIL}) | col | <script>x</script> {EVIL} www.evil.example.png",  # .md: fence, table
)
HOSTILE_MESSAGE = f"boom\n{FAKE_HEADLINE}\n[open the full report]({EVIL}) <@all> <!channel> `x"


def seed_job(emulator, keys: Iterable[str], *, state: str = "Success", message: str = "",
             name: Optional[str] = None) -> str:
    """One ImageInspect batch job created through the SDK, run as CI would: `keys` flagged, `message` its error."""
    from bench.seed import job_body

    client = fast_client(emulator_settings(emulator))
    job_name = name or f"autopilot-hourly-{uuid.uuid4().hex[:8]}"
    job_id = client.create_job(job_body("Job", job_name, prefix="uploads/")).JobId
    backend = emulator.backend
    with backend.lock:
        job = backend.jobs[job_id]
        job.state, job.start_time, job.end_time = state, EMULATOR_NOW, EMULATOR_NOW
        if state == "Failed":
            job.code, job.message = "InternalError", message
        for key in keys:
            result = {"picSize": 10, "picType": "png", "suspicious": True, "suspiciousBeginByte": 8,
                      "suspiciousEndByte": 10, "suspiciousSize": 2, "suspiciousType": "MPEG-TS"}
            record = InspectJob(job_id="j" + uuid.uuid4().hex, seq=backend._next_seq(), bucket=BUCKET, region=REGION,
                                key=key, state="Success", creation_time=EMULATOR_NOW, auto_process=False,
                                process_type="", result=result, batch_job_id=job_id)
            backend.inspect_jobs[record.job_id] = record
            backend.inspect_jobs_by_batch[job_id].append(record)
    return job_id
