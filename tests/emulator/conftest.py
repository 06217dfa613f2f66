"""Fixtures for emulator tests: an SDK client through the emulator, a bucket, and signed raw CI calls."""
from __future__ import annotations

from typing import Dict, List, Optional

import pytest
from qcloud_cos import CosS3Client
from qcloud_cos.cos_auth import CosS3Auth
from qcloud_cos.cos_comm import format_dict, xml_to_dict

from emulator.testing import EmulatorHandle
from tests.emulator.factories import BUCKET, REGION


@pytest.fixture
def client(emulator: EmulatorHandle) -> CosS3Client:
    """The project's client config (Proxies → emulator, Scheme http, retry=0)."""
    return emulator.client(region=REGION)


@pytest.fixture
def bucket(emulator: EmulatorHandle) -> str:
    emulator.backend.create_bucket(BUCKET)
    return BUCKET


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
