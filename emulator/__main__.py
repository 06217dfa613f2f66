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

from .runtime import TEST_SECRET_ID, TEST_SECRET_KEY, EmulatorHandle, check_latency

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
    # None when neither the flag nor the variable names it: the first line then prints the test pair to use.
    parser.add_argument("--secret-id", default=os.environ.get("EMULATOR_SECRET_ID"),
                        help=f"the only SecretId accepted (default {TEST_SECRET_ID}, env EMULATOR_SECRET_ID)")
    parser.add_argument("--secret-key", default=os.environ.get("EMULATOR_SECRET_KEY"),
                        help=f"its SecretKey (default {TEST_SECRET_KEY}, env EMULATOR_SECRET_KEY)")
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


def first_line(url: str, data: Optional[str], buckets: List[str], secret_id: str, test_pair: bool) -> str:
    """What a person needs to point a client at it: the address, the buckets, and the one key pair it accepts."""
    served = f"bucket {', '.join(buckets)}" if len(buckets) == 1 else (
        f"buckets {', '.join(buckets)}" if buckets else "no bucket yet (--bucket NAME creates one)")
    if test_pair:
        accepts = (f"accepts only the test credentials SecretId {TEST_SECRET_ID} / SecretKey {TEST_SECRET_KEY} "
                   "(no --secret-id given), every other key is refused as InvalidAccessKeyId")
    else:
        accepts = f"accepts only SecretId {secret_id}, signed with the --secret-key given"
    return f"emulator listening on {url} (data: {data or 'memory'}): serving {served}; {accepts}"


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
    test_pair = args.secret_id is None and args.secret_key is None
    try:
        handle = EmulatorHandle(host=args.host, port=args.port, secret_id=args.secret_id or TEST_SECRET_ID,
                                secret_key=args.secret_key or TEST_SECRET_KEY, token=args.token, data_dir=args.data,
                                autorun=not args.no_autorun, job_pace=args.job_pace,
                                latency=args.latency)
    except OSError as exc:  # a person gets a sentence and exit 2, not a traceback (issue 15)
        busy = exc.errno == errno.EADDRINUSE
        hint = "another process listens there; pick another --port (0 picks a free one)" if busy else str(exc)
        print(f"error: cannot serve on {args.host}:{args.port}: {hint}", file=sys.stderr)
        return 2
    for bucket in args.bucket:
        handle.backend.create_bucket(bucket, exist_ok=True)
    buckets = sorted(handle.backend.buckets)  # --bucket's and, with --data, those kept from an earlier run
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    handle.start()
    print(first_line(handle.url, args.data, buckets, handle.secret_id, test_pair), flush=True)
    try:
        stop.wait()
    finally:
        handle.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
