"""The kill harness: a relay between the submit handler's process and the emulator that SIGKILLs the process
right after its k-th request reached the service (issue 17), and a zygote that starts one process per run."""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Mapping, Optional
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Relay:
    """An HTTP proxy (the SDK's Proxies setting) in front of the emulator that counts one run's requests.

    With kill_after=k the k-th request is carried out by the service, then the run's process is SIGKILLed before
    the answer reaches it; nothing after it is forwarded (a dead process sends nothing)."""

    def __init__(self, upstream: str) -> None:
        target = urlsplit(upstream)
        self.upstream = (target.hostname or "127.0.0.1", target.port or 80)
        self.lock = threading.Lock()
        self.pid_known = threading.Event()
        self.arm(None)
        relay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # each answer goes out in two writes: no 40 ms delayed-ACK stall

            def log_message(self, *_args: Any) -> None:
                pass

            def _any(self) -> None:
                relay.handle(self)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def arm(self, kill_after: Optional[int]) -> None:
        """Start counting a new run's requests; kill it after the kill_after-th (None: let it finish)."""
        with self.lock:
            self.kill_after = kill_after
            self.count = 0
            self.pid: Optional[int] = None
            self.killed = False
            self.pid_known.clear()
            self.requests: List[str] = []

    def run_started(self, pid: int) -> None:
        self.pid = pid
        self.pid_known.set()

    def handle(self, req: BaseHTTPRequestHandler) -> None:
        length = int(req.headers.get("Content-Length") or 0)
        if length and hasattr(socket, "TCP_QUICKACK"):
            # The SDK sends headers and body in two writes with Nagle on: ACK the headers now, or the body waits 40 ms.
            req.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        body = req.rfile.read(length) if length else None
        with self.lock:
            if self.killed:
                req.close_connection = True
                return
            self.count += 1
            n = self.count
            self.requests.append(f"{req.command} {urlsplit(req.path).path}")
        conn = http.client.HTTPConnection(*self.upstream, timeout=10)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # headers and body go in two writes
        headers = {k: v for k, v in req.headers.items() if k.lower() not in HOP_BY_HOP}
        conn.request(req.command, req.path, body=body, headers=headers)
        answer = conn.getresponse()
        data = answer.read()
        status, reply_headers = answer.status, answer.getheaders()
        conn.close()
        if n == self.kill_after:
            assert self.pid_known.wait(10), "the run's process id never arrived"
            with self.lock:  # before the kill: once the process is reaped the harness arms the next run
                self.killed = True
            os.kill(self.pid, signal.SIGKILL)  # type: ignore[arg-type]
            req.close_connection = True
            return
        req.send_response(status)
        for key, value in reply_headers:
            if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                req.send_header(key, value)
        # A HEAD answer's Content-Length is the object's size (HEAD Object, 436/7745), not the empty body's.
        size = answer.getheader("Content-Length") if req.command == "HEAD" else None
        req.send_header("Content-Length", size or str(len(data)))
        req.end_headers()
        if req.command != "HEAD":
            req.wfile.write(data)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Outcome:
    """One run's end: killed by the relay, failed (an error SCF would retry), or its handler's result."""

    killed: bool
    requests: List[str]
    result: Optional[Dict[str, Any]] = None
    error: Optional[str] = None

    @property
    def completed(self) -> bool:
        return not self.killed and self.error is None


class Runner:
    """Runs the submit handler in a fresh process per delivery, through the relay, at a given wall-clock time."""

    def __init__(self, relay: Relay, env: Mapping[str, str], time_limit_ms: int,
                 patch: Optional[Mapping[str, Any]] = None) -> None:
        self.patch = dict(patch or {})  # module attributes each run's process sets before it runs (kill_child)
        self.relay = relay
        self.env = dict(env, COS_EMULATOR_URL=relay.url)
        self.time_limit_ms = time_limit_ms
        self._tmp = tempfile.TemporaryDirectory(prefix="kills-")
        self.dir = self._tmp.name
        self.runs = 0
        self.zygote = subprocess.Popen([sys.executable, "-m", "tests.reliability.kill_child"], cwd=ROOT,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def deliver(self, event: Mapping[str, Any], now: datetime, kill_after: Optional[int] = None,
                entry: str = "") -> Outcome:
        """One run of the submit handler (or of `entry`, "module:function" taking the event and the context)."""
        self.runs += 1
        out = os.path.join(self.dir, f"run{self.runs}.json")
        self.relay.arm(kill_after)
        spec = {"event": event, "env": self.env, "now": now.isoformat(), "request_id": f"req-{self.runs}",
                "time_limit_ms": self.time_limit_ms, "out": out, "log": os.path.join(self.dir, "runs.log"),
                "patch": self.patch, "entry": entry}
        assert self.zygote.stdin is not None and self.zygote.stdout is not None
        self.zygote.stdin.write(json.dumps(spec) + "\n")
        self.zygote.stdin.flush()
        self.relay.run_started(json.loads(self.zygote.stdout.readline())["pid"])
        ended = json.loads(self.zygote.stdout.readline())
        requests = list(self.relay.requests)
        if ended["signal"]:
            assert self.relay.killed, f"run {self.runs} died of signal {ended['signal']} the relay did not send"
            return Outcome(killed=True, requests=requests)
        with open(out, encoding="utf-8") as fh:
            data = json.load(fh)
        return Outcome(killed=False, requests=requests, result=data.get("result"), error=data.get("error"))

    def close(self) -> None:
        if self.zygote.stdin is not None:
            self.zygote.stdin.close()
        self.zygote.wait(10)
        self._tmp.cleanup()
