"""`make demo`: the whole loop on one machine — timer -> batch job -> images inspected and acted on -> report."""
from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Callable, Dict, List, Optional, Tuple
from urllib.parse import quote

BUCKET = "demo-1250000000"
REGION = "ap-guangzhou"
# Under the checkout and in .gitignore: the emulator's data and a readable copy of the report objects stay after
# the demo, so a newcomer can open the report it describes; the next demo wipes it first and starts clean.
DEMO_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".demo")

# --- sample images, generated so the demo ships no binaries --------------------------------------------


def png(width: int = 4, height: int = 4, seed: int = 0) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + bytes((seed + x + y) % 256 for x in range(width * 3)) for y in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def jpeg(seed: int = 0) -> bytes:
    def segment(marker: int, payload: bytes) -> bytes:
        return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload

    scan = bytes(((seed * 31 + i * 7) % 254) for i in range(96)).replace(b"\xff", b"\xff\x00") + b"\xff\x00"
    return (b"\xff\xd8" + segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
            + segment(0xDB, b"\x00" + bytes(range(1, 65)))
            + segment(0xC0, b"\x08\x00\x08\x00\x08\x01\x01\x11\x00")
            + segment(0xC4, b"\x00" + bytes([0, 1] + [0] * 14) + b"\x00")
            + segment(0xDA, b"\x01\x01\x00\x00\x3f\x00") + scan + b"\xff\xd9")


def gif(seed: int = 0) -> bytes:
    palette = bytes((seed % 256, 0, 0, 255, 255, 255))
    return (b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + palette
            + b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00" + b"\x3b")


def bmp(seed: int = 0) -> bytes:
    pixels = bytes((seed % 256, 0x80, 0xFF, 0))
    header = struct.pack("<IiiHHIIiiII", 40, 1, 1, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + 40 + len(pixels), 0, 0, 54) + header + pixels


def webp(seed: int = 0) -> bytes:
    data = b"\x2f\x00\x00\x00\x00" + bytes((seed % 256,)) * 5
    chunk = b"VP8L" + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) % 2 else b"")
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def mpeg_ts(packets: int = 40) -> bytes:
    return b"".join(b"\x47" + struct.pack(">H", 0x4000 | (i % 32)) + bytes((0x10 | (i % 16),)) + bytes(184)
                    for i in range(packets))


def zip_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.txt", "not an image\n" * 20)
    return buffer.getvalue()


def windows_exe() -> bytes:
    header = bytearray(b"MZ" + bytes(126))
    struct.pack_into("<I", header, 0x3C, 0x80)
    return bytes(header) + b"PE\x00\x00" + bytes(256)


CARRIERS: Dict[str, Callable[[int], bytes]] = {"jpg": jpeg, "png": png, "gif": gif, "bmp": bmp, "webp": webp}
PAYLOADS: Dict[str, Callable[[], bytes]] = {"a hidden MPEG-TS video": mpeg_ts, "a hidden ZIP archive": zip_archive,
                                            "a hidden Windows executable": windows_exe}


def sample_set() -> List[Tuple[str, bytes, str]]:
    """Thirty clean images and six with something appended: (key, bytes, what is hidden or '')."""
    items = []
    for i in range(6):
        for ext, make in CARRIERS.items():
            items.append((f"photos/{ext}/clean-{i}.{ext}", make(i), ""))
    for i, (what, payload) in enumerate(PAYLOADS.items()):
        for ext in ("png", "jpg"):
            items.append((f"photos/{ext}/suspect-{i}.{ext}", CARRIERS[ext](i) + payload(), what))
    return items


# --- the narrated loop ------------------------------------------------------------------------------------

def say(text: str = "") -> None:
    print(text, flush=True)


def _wait_for(client, job_id: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        job = client.get_job(job_id)
        if job is not None and job.State in ("Success", "Failed", "Cancel"):
            return job
        if time.monotonic() > deadline:
            raise SystemExit(f"job {job_id} did not finish within {timeout:.0f}s")
        time.sleep(0.1)


def _timer_event(template: str, moment: datetime) -> dict:
    with open(os.path.join("events", template), encoding="utf-8") as handle:
        event = json.load(handle)
    event["Time"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


def _upload_event(keys: List[str], etags: Optional[List[str]] = None) -> dict:
    """COS's upload event for keys (the sample's shape); `etags` are the objects' real ETags, else the sample's."""
    with open(os.path.join("events", "cos-upload-one.json"), encoding="utf-8") as handle:
        template = json.load(handle)["Records"][0]
    records = []
    for i, key in enumerate(keys):
        record = json.loads(json.dumps(template))
        if etags:
            record["cos"]["cosObject"]["meta"]["ETag"] = etags[i]
        record["cos"]["cosBucket"].update(name="demo", appid="1250000000")
        record["cos"]["cosObject"]["key"] = f"/1250000000/demo/{key}"
        record["cos"]["cosObject"]["url"] = f"http://{BUCKET}.cos.{REGION}.myqcloud.com/{quote(key, safe='/-_.~')}"
        record["cos"]["cosObject"]["meta"]["x-cos-request-id"] = f"demo-upload-{i}-{time.time_ns()}"
        records.append(record)
    return {"Records": records}


def _describe_bucket(backend, before: Dict[str, str]) -> None:
    keys = set(backend.list_keys(BUCKET))
    moved = sorted(k for k in keys if k.startswith("abnormal_images_backup/"))
    for key in moved:
        original = key[len("abnormal_images_backup/"):]
        say(f"    flagged and moved: {original}  ->  {key}   ({before.get(original, 'unknown')})")
    if not moved:
        say("    nothing was flagged")


def _fresh_demo_dir() -> str:
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    os.makedirs(DEMO_DIR)
    return os.path.join(DEMO_DIR, "emulator")


def _export_reports(backend, prefix: str) -> List[str]:
    """Copy the report objects to .demo/bucket/<key> so a browser can open them; returns the local paths."""
    paths = []
    for key in backend.list_keys(BUCKET, prefix=prefix):
        path = os.path.join(DEMO_DIR, "bucket", *key.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(backend.get_object(BUCKET, key).data)
        paths.append(path)
    return paths


def main() -> int:
    from emulator.testing import run_emulator

    started = time.monotonic()
    with run_emulator(autorun=True, data_dir=_fresh_demo_dir()) as emu:
        # The functions' environment, passed to their entries as SCF passes os.environ (the demo's own stays as it is).
        env = {
            "COS_BUCKET": BUCKET, "COS_REGION": REGION, "COS_EMULATOR_URL": emu.url,
            "TENCENTCLOUD_SECRETID": emu.secret_id, "TENCENTCLOUD_SECRETKEY": emu.secret_key,
            "INSPECT_AUTO_PROCESS": "true", "INSPECT_PROCESS_TYPE": "BackupObject", "INPUT_PREFIX": "photos/",
            "REPORT_NOTIFY": "always", "REPORT_LOOKBACK": "1d",
        }
        from lib import logs
        from lib.client import make_client
        from lib.config import load_settings

        logs.configure(level=40)  # the demo narrates in plain words; the JSON decision lines stay quiet
        client = make_client(load_settings(env))
        say(f"1. Started the local COS + CI emulator at {emu.url} (the official SDK talks to it over HTTP).")
        emu.backend.create_bucket(BUCKET)
        hidden: Dict[str, str] = {}
        samples = sample_set()
        for key, data, what in samples:
            client.put_object(key, data, "image/" + key.rsplit(".", 1)[1])
            hidden[key] = what or "clean"
        flagged_expected = sum(1 for _, _, what in samples if what)
        say(f"2. Uploaded {len(samples)} images to bucket {BUCKET} under photos/: "
            f"{len(samples) - flagged_expected} clean JPEG/PNG/GIF/BMP/WebP, {flagged_expected} hiding a video, "
            "a ZIP or an executable.")

        from handlers.submit import invoke as submit_entry
        from lib.windows import format_utc, parse_ci_time

        submit = partial(submit_entry, environ=env, client_factory=make_client)
        tick = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=1)
        result = submit(_timer_event("timer-hourly.json", tick), {"request_id": "demo-timer"})
        job = result["jobs"][0]
        start, end = (format_utc(parse_ci_time(job[k])) for k in ("window_start", "window_end"))
        say(f"3. Timer tick at {end}: the submit function created batch job {job['job_id']}")
        say(f"   ({job['name']}): ImageInspect over {job['input']}, uploads from {start} to {end}, "
            "AutoProcess=BackupObject.")
        say(f"   Counted before it was sent: {_estimate_line(job['estimate'])}.")
        done = _wait_for(client, job["job_id"])
        say(f"4. The job ran and ended {done.State}. What happened to the images:")
        _describe_bucket(emu.backend, hidden)

        new = [("uploads/new-avatar.png", png(8, 8, 7), "clean"),
               ("uploads/holiday video.png", png(2, 2, 9) + mpeg_ts(60), "a hidden MPEG-TS video")]
        for key, data, what in new:
            client.put_object(key, data, "image/png")
            hidden[key] = what
        again = submit(_timer_event("timer-hourly.json", tick), {"request_id": "demo-timer-redelivered"})
        say(f"5. The same timer event delivered again: {again.get('note') or again}. No second job.")
        upload = submit(_upload_event([k for k, _, _ in new]), {"request_id": "demo-upload"})
        ujob = upload["jobs"][0]
        say(f"6. Two files were uploaded to uploads/; the COS trigger fired and the submit function created job "
            f"{ujob['job_id']} over exactly those objects ({ujob['input']}).")
        udone = _wait_for(client, ujob["job_id"])
        say(f"   It ended {udone.State}:")
        for key, _, what in new:
            moved = f"abnormal_images_backup/{key}" in emu.backend.list_keys(BUCKET, prefix="abnormal_images_backup/")
            say(f"    {key}: {'flagged (' + what + ') and moved to abnormal_images_backup/' if moved else 'clean, left in place'}")

        try:
            from handlers.report import invoke as report_entry
        except ImportError:
            report = None
        else:
            report = partial(report_entry, environ=env, client_factory=make_client)
        if report is not None:
            # The report function also ran a day earlier, before any image arrived: today has a yesterday to beat.
            report(_timer_event("timer-hourly.json", tick + timedelta(minutes=1) - timedelta(days=1)),
                   {"request_id": "demo-report-yesterday"})
            summary = report(_timer_event("timer-hourly.json", tick + timedelta(minutes=1)), {"request_id": "demo-report"})
            say("7. The report function listed every job of the last day:")
            for line in _report_lines(summary["summary"]):
                say(f"    {line}")
            for delivery in summary["deliveries"]:
                state = "delivered" if delivery["delivered"] else f"NOT delivered ({delivery['detail']})"
                say(f"    {delivery['channel']}: {state}")
            today = tick + timedelta(minutes=1)
            for key in emu.backend.list_keys(BUCKET, prefix=f"autopilot/reports/{today:%Y/%m/%d}/"):
                say(f"    report object: cos://{BUCKET}/{key}")
            pages = [p for p in _export_reports(emu.backend, "autopilot/reports/") if p.endswith(".html")]
            if pages:
                say(f"8. Open today's report in a browser: {pages[-1]}")
                say(f"   (the emulator's data and every report object stay in {DEMO_DIR}; the next demo wipes it)")
        else:
            jobs = list(client.iter_jobs("Job"))
            say("7. Jobs in the bucket now: " + ", ".join(f"{j.Name} {j.State}" for j in jobs))
        _show_inventory(emu)
        _show_caps(env, client)
        _show_restore(env, client)
        say(f"Done in {time.monotonic() - started:.1f}s. The emulator stops now; nothing left running.")
    return 0


def _estimate_line(estimate: dict) -> str:
    from lib.spend import Estimate

    return Estimate.model_validate(estimate).shown()


def _show_caps(env: Dict[str, str], client) -> None:
    """No surprise bill (issue 25): with a per-job cap, an upload of three objects is held, then confirmed."""
    from handlers.submit import invoke as submit_entry
    from lib.client import make_client
    from lib.config import load_settings
    from lib.submit.confirm import confirm_plan
    from lib.submit.run import Deps

    capped = dict(env, MAX_OBJECTS_PER_JOB="2")
    keys = [f"uploads/batch-{i}.png" for i in range(3)]
    for i, key in enumerate(keys):
        client.put_object(key, png(4, 4, 20 + i), "image/png")
    result = submit_entry(_upload_event(keys), {"request_id": "demo-capped"}, environ=capped,
                          client_factory=make_client)
    held = result["held"][0]
    say("10. No surprise bill: with MAX_OBJECTS_PER_JOB=2, three more uploads were counted and HELD as plan "
        f"{held['plan_id']}")
    say(f"    ({_estimate_line(held['estimate'])}; {held['reason']}); nothing was sent.")
    settings = load_settings(capped)
    ref = confirm_plan(settings, Deps(client=client, owner="demo-operator"), held["plan_id"])
    say(f"    `python -m ops plans confirm {held['plan_id']}` sent exactly that job, once: {ref.job_id} "
        f"({ref.name}).")


def _show_restore(env: Dict[str, str], client) -> None:
    """Review and undo (issue 26): a camera's trailer after the image's end is flagged and moved aside; the operator
    finds it harmless and `flagged restore` puts the image back byte for byte."""
    from handlers.submit import invoke as submit_entry
    from lib.client import make_client

    key = "uploads/camera-trailer.png"
    image = png(4, 4, 3) + b"camera firmware 1.2 maker data\x00" * 3 + b"\x00" * 10  # harmless, after IEND
    client.put_object(key, image, "image/png")
    result = submit_entry(_upload_event([key]), {"request_id": "demo-review"}, environ=env, client_factory=make_client)
    _wait_for(client, result["jobs"][0]["job_id"])
    say(f"11. Review and undo: {key} ends with a camera's {len(image) - len(png(4, 4, 3))} bytes of maker data after")
    say("    its last chunk; the job flagged it and moved it to abnormal_images_backup/. A false positive, so:")
    # The operator's command as a person runs it (the demo is a tool over the deployed code, never over ops).
    done = subprocess.run([sys.executable, "-m", "ops", "flagged", "restore", key, "--yes"], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60, check=False)
    say(f"    `python -m ops flagged restore {key} --yes` (exit {done.returncode}):")
    for line in (done.stdout or done.stderr).splitlines():
        say(f"      {line}")
    back = client.get_object(key)
    say(f"    {key} is back, byte for byte: {back == image}.")
    # The restore wrote the key, so COS sends its upload event: the restored content is left out of the job.
    etag = (client.head_object(key) or {}).get("ETag", "")
    again = submit_entry(_upload_event([key], [etag]), {"request_id": "demo-restored"}, environ=env,
                         client_factory=make_client)
    why = next((s["reason"] for s in again["skipped"] if s["key"] == key), "not skipped")
    say(f"    The upload event of that write made {len(again['jobs'])} job(s): {key} skipped, {why}.")


def _show_inventory(emu) -> None:
    """COS Inventory (issue 24): configure one through the official SDK, have the emulator deliver today's report."""
    sdk = emu.client(region=REGION)
    sdk.put_bucket_inventory(Bucket=BUCKET, Id="demo-daily", InventoryConfiguration={
        "Destination": {"COSBucketDestination": {"Bucket": f"qcs::cos:{REGION}::{BUCKET}", "Format": "CSV",
                                                 "Prefix": "autopilot/inventory"}},
        "IsEnabled": "true", "IncludedObjectVersions": "Current", "Schedule": {"Frequency": "Daily"},
        "OptionalFields": {"Field": ["Size", "LastModifiedDate", "ETag", "StorageClass"]}})
    report = emu.run_inventory(BUCKET, "demo-daily")
    say("9. COS Inventory: a daily inventory configured through the SDK (PUT Bucket inventory); the emulator")
    say(f"   delivered today's report now: {report.rows} objects listed in {len(report.data_keys)} gzip CSV file(s).")
    say(f"    manifest: cos://{BUCKET}/{report.manifest_key} (manifest.checksum written last)")


def _report_lines(summary: dict) -> List[str]:
    objects = summary["objects"]
    by_state = ", ".join(f"{row['count']} {row['type']}/{row['group']} {row['state']}" for row in summary["counts"])
    lines = [f"{summary['total_jobs']} jobs ({by_state or 'none'}); {summary['failed_total']} failed, "
             f"{summary['stuck_total']} stuck",
             f"{objects['inspected']} images inspected, {objects['suspicious']} flagged, {objects['acted']} acted on",
             f"{summary['api_calls']} API calls; verdict: "
             f"{'needs attention' if summary['problem'] else 'all clear'}"]
    lines += [f"rule {cp['rule']}: next window starts {cp['next_window_start']}" for cp in summary["checkpoints"]]
    return lines


if __name__ == "__main__":
    sys.exit(main())
