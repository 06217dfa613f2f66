"""``python -m emulator --host 127.0.0.1 --port 9000 --data DIR --secret-id ID --secret-key KEY``."""
from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import sys
import threading
from typing import List, Optional

from .runtime import EmulatorHandle, check_latency

# Real batch jobs queue before they run; the SDK's ut/test.py polls a new job every 5 s and sees it unfinished
# (test_ci_create_inventory_trigger_jobs), so a user's create → get → list → cancel finds it Submitted or Running.
DEFAULT_JOB_PACE = 5.0


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m emulator",
                                     description="Local Tencent COS + CI emulator (reach it through the SDK's "
                                                 "Proxies={'http': URL} with Scheme='http').")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9000, help="port (default 9000; 0 picks a free one)")
    parser.add_argument("--data", default=None, help="directory that keeps buckets, objects, jobs and workflows "
                                                      "across restarts (default: in memory)")
    parser.add_argument("--secret-id", default=os.environ.get("EMULATOR_SECRET_ID", "AKIDtest"))
    parser.add_argument("--secret-key", default=os.environ.get("EMULATOR_SECRET_KEY", "test-secret-key"))
    parser.add_argument("--token", default=os.environ.get("EMULATOR_TOKEN") or None,
                        help="require this x-cos-security-token / x-ci-security-token")
    parser.add_argument("--bucket", action="append", default=[], help="create this bucket at start (repeatable)")
    parser.add_argument("--no-autorun", action="store_true",
                        help="do not run jobs on a worker thread (use POST /_emulator/run-pending)")
    parser.add_argument("--job-pace", type=float, default=os.environ.get("EMULATOR_JOB_PACE", str(DEFAULT_JOB_PACE)),
                        help="seconds a new batch job stays Submitted, and then at least Running, before its objects "
                             f"are processed (default {DEFAULT_JOB_PACE:g}, env EMULATOR_JOB_PACE; 0 runs jobs at once)")
    parser.add_argument("--latency", type=float, default=os.environ.get("EMULATOR_LATENCY", "0"),
                        help="seconds added to every request, as a real region's per-call latency (e.g. 0.02; "
                             "default 0, env EMULATOR_LATENCY)")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if args.job_pace < 0:
        print(f"--job-pace must be >= 0 seconds, got {args.job_pace:g}", file=sys.stderr)
        return 2
    try:
        check_latency(args.latency)
    except ValueError as exc:
        print(f"--{exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        handle = EmulatorHandle(host=args.host, port=args.port, secret_id=args.secret_id,
                                secret_key=args.secret_key, token=args.token, data_dir=args.data,
                                autorun=not args.no_autorun, job_pace=args.job_pace,
                                latency=args.latency)
    except OSError as exc:  # a person gets a sentence and exit 2, not a traceback (issue 15)
        busy = exc.errno == errno.EADDRINUSE
        hint = "another process listens there; pick another --port (0 picks a free one)" if busy else str(exc)
        print(f"error: cannot serve on {args.host}:{args.port}: {hint}", file=sys.stderr)
        return 2
    for bucket in args.bucket:
        handle.backend.create_bucket(bucket, exist_ok=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    handle.start()
    print(f"emulator listening on {handle.url} (data: {args.data or 'memory'})", flush=True)
    try:
        stop.wait()
    finally:
        handle.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
