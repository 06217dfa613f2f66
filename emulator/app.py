"""The HTTP layer: a ThreadingHTTPServer whose handler reads a request, applies faults and writes the response."""
from __future__ import annotations

import logging
import socket
import struct
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Tuple

from .dispatch import Dispatcher, Request, Response
from .errors import EmulatorError
from .faults import Faults
from .requestlog import RequestLog, RequestRecord

logger = logging.getLogger(__name__)
FAULT_CODES = {500: "InternalError", 502: "BadGateway", 503: "ServiceUnavailable", 504: "GatewayTimeout"}


class EmulatorServer(ThreadingHTTPServer):
    """One server for every bucket and both endpoints (the service and bucket come from the Host header)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: Tuple[str, int], dispatcher: Dispatcher, faults: Faults,
                 request_log: RequestLog, latency: float = 0.0):
        self.dispatcher = dispatcher
        self.faults = faults
        self.request_log = request_log
        self.latency = latency  # seconds added to every service request (read per request: settable at runtime)
        super().__init__(address, EmulatorRequestHandler)


class EmulatorRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes: avoid 40 ms delayed ACKs
    server: EmulatorServer

    def version_string(self) -> str:
        return "tencent-cos-emulator"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - BaseHTTPRequestHandler's signature
        logger.debug("%s - " + format, self.client_address[0], *args)

    def do_GET(self) -> None:
        self._serve()

    # Every other method too, so the dispatcher answers with the service's XML error, not http.server's HTML page.
    do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = do_GET

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def setup(self) -> None:
        super().setup()
        self._quick_ack()

    def _quick_ack(self) -> None:
        """Clients send headers and body in two writes; ACK at once so their Nagle wait ends (Linux only)."""
        if hasattr(socket, "TCP_QUICKACK"):
            try:
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            except OSError:
                pass

    def _serve(self) -> None:
        self._quick_ack()
        try:
            self._serve_one()
        finally:
            self._quick_ack()

    def _serve_one(self) -> None:
        dispatcher = self.server.dispatcher
        body = self._read_body()
        request = dispatcher.parse(self.command, self.path, self.headers, body, self.client_address[0])
        fault = None
        if request.service != "control":
            self._network_delay()
            fault = self.server.faults.take(request.method, request.service, request.bucket, request.path)
        if fault is not None and fault.action == "reset":
            self._log(request, 0, "reset")
            self._abort(rst=True)
            return
        if fault is not None and fault.action == "status":
            error = EmulatorError(fault.status, FAULT_CODES.get(fault.status, "InjectedFault"),
                                  "injected fault")
            response = dispatcher.error_response(request, error)
            response.headers.setdefault("x-ci-request-id" if request.service == "ci" else "x-cos-request-id",
                                        request.request_id)
        else:
            if fault is not None and fault.action == "slow":
                time.sleep(fault.delay)
            response = dispatcher.handle(request)
        if fault is not None and fault.action == "drop_response":
            self._log(request, 0, "drop_response")
            self._abort(rst=False)
            return
        # log first: a client that has its response can rely on the record being there
        self._log(request, response.status, fault.action if fault is not None else None)
        self._write(request, response)

    def _network_delay(self) -> None:
        """A real region's per-call latency; slept on this request's own thread, holding no lock, so concurrent
        requests overlap as they do on a network."""
        latency = self.server.latency
        if latency > 0:
            time.sleep(latency)

    def _write(self, request: Request, response: Response) -> None:
        self.send_response(response.status)
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        length_set = False
        for name, value in response.headers.items():
            if name.lower() == "content-length":
                length_set = True
            self.send_header(name, value)
        if not length_set:
            self.send_header("Content-Length", str(len(response.body)))
        if (request.header("Connection") or "").lower() == "close":
            # COS echoes a short connection's header (SDK ut/test.py test_short_connection_put_get_object)
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if request.method != "HEAD" and response.body:
            self.wfile.write(response.body)

    def _abort(self, rst: bool) -> None:
        """Close the connection without a response; ``rst`` makes it a TCP reset instead of a clean close."""
        self.close_connection = True
        try:
            if rst:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.connection.close()

    def _log(self, request: Request, status: int, fault=None) -> None:
        self.server.request_log.append(RequestRecord(
            method=request.method, service=request.service, bucket=request.bucket, path=request.path,
            query=request.params, status=status, fault=fault))
