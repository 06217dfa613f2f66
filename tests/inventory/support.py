"""Inventory rules over the emulator: a bucket with our inventory configuration, objects written at a chosen time,
reports produced by the emulator, and the objects each batch job covers read back from its UrlFile or Manifest."""
from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional
from urllib.parse import unquote, urlsplit

from emulator.testing import EmulatorHandle
from handlers.submit import invoke
from lib.client import CiClient
from lib.config import load_settings
from tests.support.emulator import emulator_env, fast_client
from tests.support.settings import BUCKET, REGION

UTC = timezone.utc
INVENTORY_ID = "daily"
DEST_PREFIX = "autopilot/inventory"  # the contract's destination: <STATE_PREFIX>inventory
ROOT = f"{DEST_PREFIX}/1250000000/examplebucket/{INVENTORY_ID}/"
CONTEXT = {"request_id": "req-inv", "function_name": "submit", "time_limit_in_ms": 60000}


class Bucket:
    """One emulator bucket with the inventory configuration, and the function's environment aimed at it."""

    def __init__(self, emulator: EmulatorHandle, **env: str) -> None:
        self.emulator = emulator
        self.now = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
        emulator.reset()
        emulator.backend.set_clock(lambda: self.now)
        emulator.backend.create_bucket(BUCKET)
        self.env = emulator_env(emulator, INPUT_SOURCE="inventory", INVENTORY_ID=INVENTORY_ID, **env)
        self.client: CiClient = fast_client(load_settings(self.env))
        self.configure()

    def configure(self, inventory_id: str = INVENTORY_ID, prefix: str = DEST_PREFIX,
                  fields: Optional[List[str]] = None, flt: Optional[Dict[str, Any]] = None,
                  optional_fields: bool = True) -> None:
        """PUT Bucket inventory through the SDK, in the shape the contract gives our deploy."""
        body: Dict[str, Any] = {
            "Destination": {"COSBucketDestination": {"Bucket": f"qcs::cos:{REGION}::{BUCKET}", "Format": "CSV",
                                                     "Prefix": prefix}},
            "IsEnabled": "true", "IncludedObjectVersions": "Current",
            "OptionalFields": {"Field": fields or ["Size", "LastModifiedDate", "ETag", "StorageClass"]},
            "Schedule": {"Frequency": "Daily"}}
        if flt is not None:
            body["Filter"] = flt
        if not optional_fields:
            del body["OptionalFields"]
        self.client.sdk.put_bucket_inventory(Bucket=BUCKET, Id=inventory_id, InventoryConfiguration=body)

    def put(self, *keys: str, at: Optional[datetime] = None, data: bytes = b"\x89PNG\r\n\x1a\n") -> None:
        """Objects written at `at` (the emulator's clock, so their LastModifiedDate)."""
        if at is not None:
            self.now = at
        for key in keys:
            self.emulator.backend.put_object(BUCKET, key, data)

    def report(self, day: str, inventory_id: str = INVENTORY_ID, rows_per_file: int = 1000) -> Any:
        """The emulator's report of the bucket as it is now, dated `day`."""
        return self.emulator.backend.run_inventory(BUCKET, inventory_id, date=day, rows_per_file=rows_per_file)

    def tick(self, message: str = "", time: str = "2026-12-01T00:00:00Z") -> Dict[str, Any]:
        event = {"Type": "Timer", "TriggerName": "inventory", "Time": time, "Message": message}
        return invoke(event, CONTEXT, environ=self.env, client_factory=fast_client)

    def checksum_event(self, key: str) -> Dict[str, Any]:
        """A COS upload event for `key`, in the documented record shape."""
        event = {"Records": [{
            "event": {"eventVersion": "1.0", "eventSource": "qcs::cos", "eventName": "cos:ObjectCreated:Put",
                      "eventTime": 1764547200, "eventQueue": "qcs:0:scf:ap-guangzhou:appid/1250000000:default.submit",
                      "requestParameters": {"requestSourceIP": "10.0.0.1", "requestHeaders": {}},
                      "reservedInfo": ""},
            "cos": {"cosSchemaVersion": "1.0", "cosNotificationId": "unkown",
                    "cosBucket": {"name": "examplebucket", "appid": "1250000000", "region": "gz"},
                    "cosObject": {"key": f"/1250000000/examplebucket/{key}", "size": 32,
                                  "url": f"https://{BUCKET}.cos.{REGION}.myqcloud.com/{key}",
                                  "meta": {"Content-Type": "text/plain", "x-cos-request-id": "req",
                                           "ETag": '"e"'}, "vid": ""}}}]}
        return invoke(event, CONTEXT, environ=self.env, client_factory=fast_client)

    def object(self, key: str) -> bytes:
        return self.emulator.backend.get_object(BUCKET, key).data

    def write(self, key: str, data: bytes) -> None:
        self.emulator.backend.put_object(BUCKET, key, data)

    def jobs(self) -> List[Any]:
        backend = self.emulator.backend
        with backend.lock:
            return sorted(backend.jobs.values(), key=lambda j: j.seq)

    def covered(self) -> List[str]:
        """Every key every batch job covers, with repeats: from its UrlFile lines, or its Manifest's data files."""
        keys: List[str] = []
        for job in self.jobs():
            path = unquote(urlsplit(job.input_value).path[1:])
            if job.input_kind == "UrlFile":
                keys += [unquote(urlsplit(line).path[1:]) for line in self.object(path).decode().splitlines()]
            elif job.input_kind == "Manifest":
                manifest = json.loads(self.object(path))
                for item in manifest["files"]:
                    text = gzip.decompress(self.object(item["key"])).decode()
                    keys += [unquote(row[2]) for row in csv.reader(text.splitlines()) if row]
        return keys


def day_after(moment: datetime, days: int = 2) -> str:
    """A report date whose cut (an hour before its Beijing midnight) lies after `moment`."""
    return (moment + timedelta(days=days)).strftime("%Y%m%d")


def rewrite_manifest(bucket: Bucket, day: str, change) -> None:  # type: ignore[no-untyped-def]
    """Change manifest.json with `change(dict)` and write a matching manifest.checksum, as a forger with PUT could."""
    key = f"{ROOT}{day}/manifest.json"
    manifest = json.loads(bucket.object(key))
    change(manifest)
    raw = json.dumps(manifest).encode()
    bucket.write(key, raw)
    bucket.write(f"{ROOT}{day}/manifest.checksum", hashlib.md5(raw).hexdigest().encode())


def data_file(rows: List[List[str]]) -> bytes:
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    return gzip.compress(text.getvalue().encode())
