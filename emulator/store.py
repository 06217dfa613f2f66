"""Crash-safe on-disk persistence for ``--data DIR`` (every file written to a temp name, then os.replace)."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from typing import Any, Dict, List, Tuple

from .models import BatchJob, InspectJob, ObjectRecord, Workflow, WorkflowExecution


def _write_atomic(path: str, data: bytes) -> None:
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _write_json(path: str, payload: Any) -> None:
    _write_atomic(path, json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8"))


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class Store:
    """Layout under ``root``::

        buckets/<bucket>/bucket.json                       name, creation time, versioning status
        buckets/<bucket>/objects/<sha256(key)>.json        metadata (+ name of the data file)
        buckets/<bucket>/objects/<sha256(key)>.<md5>.bin   data
        buckets/<bucket>/versions/<sha256(key)>.json       a versioned key: every version, oldest first
        buckets/<bucket>/versions/<sha256(key)>.<md5>.bin  data, shared by the key's versions with that content
        buckets/<bucket>/inventory/<sha256(id)>.json       inventory configuration
        jobs/<job_id>.json                                 batch job + its per-object jobs and executions
        workflows/<workflow_id>.json

    An object's metadata file is replaced after its data file is in place, so a crash leaves either the old
    or the new object, plus at worst an orphan data file that the next load removes. A key of a bucket that has
    versioning lives in ``versions/`` (which wins over an ``objects/`` file left by a crash while it moved)."""

    def __init__(self, root: str):
        self.root = os.path.abspath(root)
        os.makedirs(self.root, exist_ok=True)

    def _bucket_dir(self, bucket: str) -> str:
        return os.path.join(self.root, "buckets", bucket)

    def save_bucket(self, bucket: str, created: str, versioning: str = "") -> None:
        _write_json(os.path.join(self._bucket_dir(bucket), "bucket.json"),
                    {"name": bucket, "created": created, "versioning": versioning})

    def delete_bucket(self, bucket: str) -> None:
        shutil.rmtree(self._bucket_dir(bucket), ignore_errors=True)

    def save_object(self, bucket: str, record: ObjectRecord) -> None:
        objects = os.path.join(self._bucket_dir(bucket), "objects")
        base = _key_hash(record.key)
        md5 = record.etag.strip('"')
        data_name = f"{base}.{md5}.bin"
        _write_atomic(os.path.join(objects, data_name), record.data)
        meta = record.to_json()
        meta["data_file"] = data_name
        meta_path = os.path.join(objects, base + ".json")
        old = self._read_json(meta_path)
        _write_json(meta_path, meta)
        if old and old.get("data_file") not in (None, data_name):
            self._unlink(os.path.join(objects, old["data_file"]))

    def delete_object(self, bucket: str, key: str) -> None:
        objects = os.path.join(self._bucket_dir(bucket), "objects")
        meta_path = os.path.join(objects, _key_hash(key) + ".json")
        old = self._read_json(meta_path)
        self._unlink(meta_path)
        if old and old.get("data_file"):
            self._unlink(os.path.join(objects, old["data_file"]))

    def save_versions(self, bucket: str, key: str, history: List[ObjectRecord]) -> None:
        """Write a versioned key's versions (none: forget the key), then drop its ``objects/`` files."""
        directory = os.path.join(self._bucket_dir(bucket), "versions")
        base = _key_hash(key)
        path = os.path.join(directory, base + ".json")
        metas = []
        for record in history:
            meta = record.to_json()
            if not record.delete_marker:
                md5 = record.etag.strip('"')
                meta["data_file"] = f"{base}.{md5}.bin"
                _write_atomic(os.path.join(directory, meta["data_file"]), record.data)
            metas.append(meta)
        old = self._read_json(path) or []
        if metas:
            _write_json(path, metas)
        else:
            self._unlink(path)
        kept = {m.get("data_file") for m in metas}
        for name in {m.get("data_file") for m in old} - kept:
            if name:
                self._unlink(os.path.join(directory, name))
        self.delete_object(bucket, key)

    def save_inventory(self, bucket: str, inventory_id: str, payload: Dict[str, Any]) -> None:
        _write_json(os.path.join(self._bucket_dir(bucket), "inventory", _key_hash(inventory_id) + ".json"), payload)

    def delete_inventory(self, bucket: str, inventory_id: str) -> None:
        self._unlink(os.path.join(self._bucket_dir(bucket), "inventory", _key_hash(inventory_id) + ".json"))

    def save_job(self, job: BatchJob, inspect_jobs: List[InspectJob], executions: List[WorkflowExecution]) -> None:
        _write_json(os.path.join(self.root, "jobs", job.job_id + ".json"), {
            "job": job.to_json(),
            "inspect_jobs": [j.to_json() for j in inspect_jobs],
            "executions": [e.to_json() for e in executions],
        })

    def save_workflow(self, workflow: Workflow) -> None:
        _write_json(os.path.join(self.root, "workflows", workflow.workflow_id + ".json"), workflow.to_json())

    def delete_workflow(self, workflow_id: str) -> None:
        self._unlink(os.path.join(self.root, "workflows", workflow_id + ".json"))

    def wipe(self) -> None:
        for name in ("buckets", "jobs", "workflows"):
            shutil.rmtree(os.path.join(self.root, name), ignore_errors=True)

    def load(self) -> Dict[str, Any]:
        """Everything on disk: ``{"buckets": {name: (created, {key: ObjectRecord})}, "jobs": [(job, inspect_jobs,
        executions)], "workflows": [Workflow], "inventories": {bucket: [configuration JSON]}, "versioning": {bucket:
        status}, "versions": {bucket: {key: [ObjectRecord, oldest first]}}}``."""
        buckets: Dict[str, Tuple[str, Dict[str, ObjectRecord]]] = {}
        inventories: Dict[str, List[Dict[str, Any]]] = {}
        versioning: Dict[str, str] = {}
        versions: Dict[str, Dict[str, List[ObjectRecord]]] = {}
        bucket_root = os.path.join(self.root, "buckets")
        for name in sorted(os.listdir(bucket_root)) if os.path.isdir(bucket_root) else []:
            info = self._read_json(os.path.join(bucket_root, name, "bucket.json"))
            if not info:
                continue
            objects: Dict[str, ObjectRecord] = {}
            obj_dir = os.path.join(bucket_root, name, "objects")
            referenced = set()
            for entry in sorted(os.listdir(obj_dir)) if os.path.isdir(obj_dir) else []:
                if not entry.endswith(".json") or entry.startswith(".tmp-"):
                    continue
                meta = self._read_json(os.path.join(obj_dir, entry))
                if not meta or not meta.get("data_file"):
                    continue
                data_path = os.path.join(obj_dir, meta["data_file"])
                if not os.path.exists(data_path):
                    continue
                with open(data_path, "rb") as fh:
                    meta["data"] = fh.read()
                referenced.add(meta["data_file"])
                record = ObjectRecord.from_json(meta)
                objects[record.key] = record
            for entry in os.listdir(obj_dir) if os.path.isdir(obj_dir) else []:
                if (entry.endswith(".bin") and entry not in referenced) or entry.startswith(".tmp-"):
                    self._unlink(os.path.join(obj_dir, entry))
            buckets[name] = (info.get("created", ""), objects)
            versioning[name] = info.get("versioning", "")
            versions[name] = self._load_versions(os.path.join(bucket_root, name, "versions"))
            inventories[name] = self._read_dir(os.path.join(bucket_root, name, "inventory"))
        jobs = []
        for payload in self._read_dir(os.path.join(self.root, "jobs")):
            jobs.append((BatchJob.from_json(payload["job"]),
                         [InspectJob.from_json(j) for j in payload.get("inspect_jobs", [])],
                         [WorkflowExecution.from_json(e) for e in payload.get("executions", [])]))
        workflows = [Workflow.from_json(w) for w in self._read_dir(os.path.join(self.root, "workflows"))]
        return {"buckets": buckets, "jobs": jobs, "workflows": workflows, "inventories": inventories,
                "versioning": versioning, "versions": versions}

    def _load_versions(self, directory: str) -> Dict[str, List[ObjectRecord]]:
        """Every versioned key's versions; data files no version names are removed."""
        histories: Dict[str, List[ObjectRecord]] = {}
        referenced = set()
        for metas in self._read_dir(directory):
            history = []
            for meta in metas:
                data = b""
                if not meta.get("delete_marker"):
                    try:
                        with open(os.path.join(directory, meta["data_file"]), "rb") as fh:
                            data = fh.read()
                    except (OSError, KeyError):
                        continue
                    referenced.add(meta["data_file"])
                history.append(ObjectRecord.from_json(dict(meta, data=data)))
            if history:
                histories[history[0].key] = history
        for entry in os.listdir(directory) if os.path.isdir(directory) else []:
            if (entry.endswith(".bin") and entry not in referenced) or entry.startswith(".tmp-"):
                self._unlink(os.path.join(directory, entry))
        return histories

    def _read_dir(self, directory: str) -> List[Dict[str, Any]]:
        if not os.path.isdir(directory):
            return []
        out = []
        for entry in sorted(os.listdir(directory)):
            if entry.endswith(".json") and not entry.startswith(".tmp-"):
                payload = self._read_json(os.path.join(directory, entry))
                if payload:
                    out.append(payload)
        return out

    @staticmethod
    def _read_json(path: str) -> Any:
        try:
            with open(path, "rb") as fh:
                return json.loads(fh.read().decode("utf-8"))
        except (OSError, ValueError):
            return None

    @staticmethod
    def _unlink(path: str) -> None:
        try:
            os.unlink(path)
        except OSError:
            pass
