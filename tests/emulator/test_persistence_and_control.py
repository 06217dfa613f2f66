"""``--data`` persistence across restarts, the CLI, control endpoints, and robustness under concurrency."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from emulator.dispatch import is_loopback
from emulator.testing import run_emulator
from tests.emulator.factories import job_body, png, suspicious_png, workflow_body
from tests.support.emulator import inspect_jobs
from tests.support.settings import BUCKET, REGION

pytestmark = pytest.mark.emulator
ROOT = Path(__file__).resolve().parents[2]


def test_restart_with_data_dir_keeps_objects_jobs_results_and_workflows(tmp_path):
    with run_emulator(data_dir=str(tmp_path)) as emu:
        sdk_client = emu.client(region=REGION)
        sdk_client.create_bucket(Bucket=BUCKET)
        sdk_client.put_object(Bucket=BUCKET, Key="ok.png", Body=png(), ContentType="image/png",
                              Metadata={"x-cos-meta-k": "v"})
        sdk_client.put_object(Bucket=BUCKET, Key="bad.png", Body=suspicious_png())
        sdk_client.put_object_acl(Bucket=BUCKET, Key="ok.png", ACL="public-read")
        wid = sdk_client.ci_create_workflow(Bucket=BUCKET, Body=workflow_body())["MediaWorkflow"]["WorkflowId"]
        job_id = sdk_client.ci_create_inventory_trigger_jobs(Bucket=BUCKET,
                                                             JobBody=job_body())["JobsDetail"][0]["JobId"]
        emu.backend.run_pending()
        before = inspect_jobs(sdk_client, job_id)
    with run_emulator(data_dir=str(tmp_path)) as emu:
        sdk_client = emu.client(region=REGION)
        record = emu.backend.get_object(BUCKET, "ok.png")
        assert (record.data, record.content_type, record.metadata, record.acl) == (
            png(), "image/png", {"k": "v"}, "public-read")
        assert emu.backend.list_keys(BUCKET) == ["abnormal_images_backup/bad.png", "ok.png"]
        got = sdk_client.ci_get_inventory_trigger_jobs(Bucket=BUCKET, JobID=job_id)
        assert got["JobsDetail"][0]["State"] == "Success"
        assert inspect_jobs(sdk_client, job_id) == before
        assert sdk_client.ci_get_workflow(Bucket=BUCKET, Ids=wid)["MediaWorkflowList"][0]["WorkflowId"] == wid
        new_id = sdk_client.ci_create_inventory_trigger_jobs(Bucket=BUCKET,
                                                             JobBody=job_body())["JobsDetail"][0]["JobId"]
        assert new_id != job_id


def test_restart_with_data_dir_keeps_versioning_versions_and_delete_markers(tmp_path):
    with run_emulator(data_dir=str(tmp_path)) as emu:
        emu.backend.create_bucket(BUCKET)
        emu.backend.put_object(BUCKET, "before.png", b"null version")
        emu.backend.set_versioning(BUCKET, "Enabled")
        emu.backend.put_object(BUCKET, "a.png", b"one")
        emu.backend.put_object(BUCKET, "a.png", b"two")
        emu.backend.delete_object(BUCKET, "a.png")
        emu.backend.put_object(BUCKET, "b.png", b"bee", acl="private")
        before = [(v.key, v.version_id, v.is_latest, v.is_delete_marker, v.data)
                  for v in emu.backend.list_versions(BUCKET)]
    with run_emulator(data_dir=str(tmp_path)) as emu:
        assert emu.backend.versioning(BUCKET) == "Enabled"
        assert [(v.key, v.version_id, v.is_latest, v.is_delete_marker, v.data)
                for v in emu.backend.list_versions(BUCKET)] == before
        assert emu.backend.list_keys(BUCKET) == ["b.png", "before.png"]
        assert emu.backend.get_object(BUCKET, "b.png").acl == "private"
        emu.backend.put_object(BUCKET, "a.png", b"three")
        assert len({v.version_id for v in emu.backend.list_versions(BUCKET, "a.png")}) == 4


def test_job_submitted_before_a_restart_runs_after_it(tmp_path):
    with run_emulator(data_dir=str(tmp_path)) as emu:
        emu.backend.create_bucket(BUCKET)
        emu.backend.put_object(BUCKET, "bad.png", suspicious_png())
        job_id = emu.client().ci_create_inventory_trigger_jobs(Bucket=BUCKET, JobBody=job_body())[
            "JobsDetail"][0]["JobId"]
    with run_emulator(data_dir=str(tmp_path)) as emu:
        assert emu.backend.run_pending() == 1
        assert emu.backend.get_job(job_id).state == "Success"


def test_data_dir_holds_no_temp_files_after_writes(tmp_path):
    with run_emulator(data_dir=str(tmp_path)) as emu:
        emu.backend.create_bucket(BUCKET)
        for i in range(3):
            emu.backend.put_object(BUCKET, "same.png", png(seed=i))
    leftovers = [p for p in tmp_path.rglob("*") if p.name.startswith(".tmp-")]
    data_files = list(tmp_path.rglob("*.bin"))
    assert (leftovers, len(data_files)) == ([], 1)


def test_restart_keeps_the_standard_headers_an_object_was_put_with(tmp_path):
    with run_emulator(data_dir=str(tmp_path)) as emu:
        emu.backend.create_bucket(BUCKET)
        emu.client(region=REGION).put_object(Bucket=BUCKET, Key="a.txt", Body=b"x", CacheControl="no-cache",
                                             ContentDisposition="attachment")
    with run_emulator(data_dir=str(tmp_path)) as emu:
        got = emu.client(region=REGION).get_object(Bucket=BUCKET, Key="a.txt")
        assert (got["Cache-Control"], got["Content-Disposition"]) == ("no-cache", "attachment")


def test_reset_wipes_the_data_dir(tmp_path):
    with run_emulator(data_dir=str(tmp_path)) as emu:
        emu.backend.create_bucket(BUCKET)
        emu.backend.put_object(BUCKET, "a.png", png())
        emu.backend.reset()
    with run_emulator(data_dir=str(tmp_path)) as emu:
        assert not emu.backend.has_bucket(BUCKET)


def test_command_line_server_starts_and_serves_the_sdk(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "emulator", "--host", "127.0.0.1", "--port", "0", "--data",
                             str(tmp_path), "--secret-id", "AKIDcli", "--secret-key", "cli-key", "--bucket", BUCKET],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        url = line.split(" on ", 1)[1].split()[0]
        from qcloud_cos import CosConfig, CosS3Client

        sdk_client = CosS3Client(CosConfig(Region=REGION, SecretId="AKIDcli", SecretKey="cli-key", Scheme="http",
                                           Proxies={"http": url}), retry=0)
        sdk_client.put_object(Bucket=BUCKET, Key="a.png", Body=b"x")
        assert sdk_client.head_object(Bucket=BUCKET, Key="a.png")["Content-Length"] == "1"
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    assert list(tmp_path.rglob("*.bin"))


def test_control_reset_run_pending_and_request_log(emulator, bucket, sdk_client):
    emulator.backend.put_object(bucket, "bad.png", suspicious_png())
    sdk_client.ci_create_inventory_trigger_jobs(Bucket=bucket, JobBody=job_body())
    assert requests.post(emulator.url + "/_emulator/run-pending", timeout=5).json() == {"ran": 1}
    log = requests.get(emulator.url + "/_emulator/requests", timeout=5).json()
    assert [(r["method"], r["service"], r["path"], r["status"]) for r in log] == [
        ("POST", "ci", "/inventorytriggerjob", 200), ("POST", "control", "/_emulator/run-pending", 200)]
    assert requests.post(emulator.url + "/_emulator/reset", timeout=5).status_code == 200
    assert not emulator.backend.has_bucket(bucket)


@pytest.mark.parametrize("ip, allowed", [("127.0.0.1", True), ("::1", True), ("10.0.0.5", False)])
def test_control_endpoints_are_for_loopback_clients_only(ip, allowed):
    assert is_loopback(ip) is allowed


def test_concurrent_writers_and_job_creators_leave_consistent_state(emulator, bucket):
    errors = []

    def worker(n):
        sdk_client = emulator.client(region=REGION)
        try:
            for i in range(10):
                sdk_client.put_object(Bucket=bucket, Key=f"t{n}/{i}.png", Body=png(seed=i))
                sdk_client.ci_create_inventory_trigger_jobs(Bucket=bucket, JobBody=job_body(name=f"t{n}-{i}"))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(emulator.backend.list_keys(bucket)) == 60
    assert len({j.name for j in emulator.backend.jobs.values()}) == 60


def test_request_log_records_query_and_status(emulator, bucket, sdk_client):
    sdk_client.list_objects(Bucket=bucket, Prefix="p/")
    (record,) = emulator.request_log.filter(method="GET")
    assert (record.service, record.bucket, record.path, record.query["prefix"], record.status) == (
        "cos", bucket, "/", "p/", 200)
    emulator.request_log.clear()
    assert len(emulator.request_log) == 0


def test_emulator_runs_without_pytest_installed():
    code = ("import sys; sys.modules['pytest'] = None; from emulator.testing import run_emulator\n"
            "with run_emulator() as h: print(h.url)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=30,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("http://127.0.0.1:")


def test_faults_listing_over_control_endpoint(emulator):
    emulator.faults.add(action="slow", delay=1)
    listed = requests.get(emulator.url + "/_emulator/faults", timeout=5).json()
    assert [(f["action"], f["count"]) for f in listed] == [("slow", 1)]
    assert json.loads(requests.delete(emulator.url + "/_emulator/faults", timeout=5).text) == {"cleared": True}
