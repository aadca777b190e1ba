"""A lean HTTP/1.1 server for the serving contract: `GET /ping`, `POST /invocations`, `GET /execution-parameters`.

Threads over `http.server` with keep-alive and TCP_NODELAY, each response written in one send: per-request
overhead is a fraction of a millisecond (see benchmarks), so the model's own work dominates. `/ping` answers
200 only once the model is loaded (the server starts listening after loading).
"""

from __future__ import annotations

import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from emulator.serving.inference.handlers import InferenceHandler, Reply

MAX_BODY_BYTES = 100 * 1024 * 1024


class InferenceServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, port: int, handler: InferenceHandler, host: str = "") -> None:
        self.handler = handler
        super().__init__((host, port), _RequestHandler)

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: InferenceServer

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/ping":
            self._send(Reply(200, b"", "text/plain"))
        elif path == "/execution-parameters":
            reply = self.server.handler.execution_parameters()
            self._send(reply or Reply(404, b"Not Found", "text/plain"))
        else:
            self._send(Reply(404, b"Not Found", "text/plain"))

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0] != "/invocations":
            self._send(Reply(404, b"Not Found", "text/plain"))
            return
        body = self._body()
        if body is None:
            return
        headers = {key.lower(): value for key, value in self.headers.items()}
        self._send(self.server.handler.invoke(body, headers))

    def _body(self) -> bytes | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._chunked_body()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._send(Reply(413, b"Request body too large", "text/plain"))
            self.close_connection = True
            return None
        return self.rfile.read(length) if length else b""

    def _chunked_body(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline().strip():
                    pass
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def _send(self, reply: Reply) -> None:
        head = [f"HTTP/1.1 {reply.status} {_phrase(reply.status)}", f"Content-Type: {reply.content_type}"]
        head.append(f"Content-Length: {len(reply.body)}")
        head.extend(f"{key}: {value}" for key, value in reply.headers.items())
        if self.close_connection:
            head.append("Connection: close")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Access logs stay off (they would cost more than the request); errors still print."""

    def log_error(self, format: str, *args: Any) -> None:
        print(f"inference server: {format % args}", file=sys.stderr, flush=True)


def _phrase(status: int) -> str:
    return BaseHTTPRequestHandler.responses.get(status, ("Unknown",))[0]
