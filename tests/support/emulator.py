"""The emulator from a test's side: settings and clients aimed at it, a fresh bucket, and signed raw CI reads."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

import pytest
from qcloud_cos import CosS3Client
from qcloud_cos.cos_auth import CosS3Auth
from qcloud_cos.cos_comm import format_dict, xml_to_dict

from emulator.testing import EmulatorHandle
from lib.client import CiClient, make_client
from lib.config import Settings, load_settings
from tests.support.settings import BUCKET, REGION

# The emulator's clock and the seeded objects' Last-Modified in emulator-backed handler tests; the function's own clock
# stays the real one (later), as a deployed function's would be.
EMULATOR_NOW = datetime(2026, 11, 28, 15, 30, tzinfo=timezone.utc)


def emulator_env(emulator: EmulatorHandle, **extra: str) -> Dict[str, str]:
    """A complete function environment aimed at the emulator's BUCKET."""
    env = {"COS_BUCKET": BUCKET, "COS_REGION": REGION, "COS_EMULATOR_URL": emulator.url,
           "TENCENTCLOUD_SECRETID": emulator.secret_id, "TENCENTCLOUD_SECRETKEY": emulator.secret_key,
           "API_TIMEOUT": "2"}
    env.update(extra)
    return env


def emulator_settings(emulator: EmulatorHandle, **extra: str) -> Settings:
    return load_settings(emulator_env(emulator, **extra))


def fast_client(settings: Settings) -> CiClient:
    """The real client over real HTTP, with our retries' back-off sleeps skipped."""
    return make_client(settings, sleep=lambda _s: None)


def fresh_bucket(emulator: EmulatorHandle, clock: Optional[Any] = None) -> None:
    """Empty the emulator, set its clock if given, and create BUCKET."""
    emulator.reset()
    if clock is not None:
        emulator.backend.set_clock(clock)
    emulator.backend.create_bucket(BUCKET)


def aim_process_env(emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the process environment (set up by the `env` fixture) at the emulator, with its credentials."""
    monkeypatch.setenv("COS_EMULATOR_URL", emulator.url)
    monkeypatch.setenv("TENCENTCLOUD_SECRETID", emulator.secret_id)
    monkeypatch.setenv("TENCENTCLOUD_SECRETKEY", emulator.secret_key)
    monkeypatch.delenv("TENCENTCLOUD_SESSIONTOKEN", raising=False)


def ci_get(client: CosS3Client, path: str, params: Dict[str, str], bucket: str = BUCKET,
           list_keys: Optional[List[str]] = None) -> dict:
    """GET a CI path the SDK has no method for, signed by the SDK's own CosS3Auth (as lib/ does)."""
    url = client._conf.uri(bucket=bucket, path=path, endpoint=client._conf._endpoint_ci)
    response = client.send_request(method="GET", url=url, bucket=bucket, auth=CosS3Auth(client._conf, path,
                                                                                       params=params),
                                   params=params, headers={}, ci_request=True)
    return format_dict(xml_to_dict(response.content), list_keys or ["JobsDetail"])


def inspect_jobs(client: CosS3Client, batch_job_id: str, **params: str) -> List[dict]:
    """Every per-object ImageInspect job of a batch job, following NextToken."""
    out: List[dict] = []
    token = ""
    while True:
        query = {"tag": "ImageInspect", "inventoryTriggerJobId": batch_job_id, "size": "100",
                 "nextToken": token, **params}
        page = ci_get(client, "/jobs", query)
        out.extend(page.get("JobsDetail", []))
        token = page.get("NextToken") or ""
        if not token:
            return out


def seed_image(backend: Any, key: str, data: bytes, uploaded: datetime = EMULATOR_NOW) -> None:
    """Put an image into the emulator's BUCKET as an upload at `uploaded` (its Last-Modified)."""
    backend.put_object(BUCKET, key, data, content_type="image/png", last_modified=uploaded)


def inspected_keys(backend: Any) -> List[str]:
    """Run every pending job, then the keys CI inspected, sorted."""
    while backend.run_pending():
        pass
    with backend.lock:
        return sorted(j.key for j in backend.inspect_jobs.values())
