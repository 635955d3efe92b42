"""A small fake of the API Gateway management API (``POST /{stage}/@connections/{id}``).

Serves on 127.0.0.1 with a ThreadingHTTPServer (HTTP/1.1 keep-alive, so botocore's connection
pool is exercised as against AWS). Each connection id can be given a behaviour; every request is
recorded with its arrival and completion times so tests can measure real overlap and order.

Behaviours (per connection id, or the default):
  ok                 200
  gone               410 GoneException
  throttle:N         429 LimitExceededException N times, then 200
  error              500 InternalServerErrorException, always
  too_large          413 PayloadTooLargeException
  forbidden          403 ForbiddenException
  fail_after:N       200 for the first N posts, then 500 always
and a latency in seconds added before every answer.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import unquote

HOST = "127.0.0.1"

ERRORS = {
    410: "GoneException",
    429: "LimitExceededException",
    500: "InternalServerErrorException",
    413: "PayloadTooLargeException",
    403: "ForbiddenException",
}


@dataclass(frozen=True)
class Post:
    connection_id: str
    body: bytes
    status: int
    started: float  # time.monotonic() when the request arrived
    finished: float  # time.monotonic() just before the response was written


@dataclass
class FakeManagementApi:
    stage: str = "prod"
    default: str = "ok"
    latency: float = 0.0
    behaviours: dict[str, str] = field(default_factory=dict)
    posts: list[Post] = field(default_factory=list)
    max_in_flight: int = 0
    _in_flight: int = 0
    _seen: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> FakeManagementApi:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                api._handle(self)

            def log_message(self, format: str, *args: object) -> None:
                return  # keep test output quiet

        class Server(ThreadingHTTPServer):
            # The default listen backlog (5) drops SYNs when a pool of 32+ clients connects at
            # once; the kernel then retransmits after 1 s and the numbers measure that instead.
            request_queue_size = 512

        self._server = Server((HOST, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeManagementApi:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://{HOST}:{self._server.server_port}/{self.stage}"

    # -- inspection ---------------------------------------------------------------------------
    def posts_to(self, connection_id: str) -> list[Post]:
        with self._lock:
            return [p for p in self.posts if p.connection_id == connection_id]

    def delivered(self, connection_id: str) -> list[dict[str, object]]:
        return [json.loads(p.body) for p in self.posts_to(connection_id) if p.status == 200]

    # -- request handling ---------------------------------------------------------------------
    def _behaviour(self, connection_id: str) -> tuple[int, float]:
        spec = self.behaviours.get(connection_id, self.default)
        with self._lock:
            self._seen[connection_id] += 1
            seen = self._seen[connection_id]
        if spec == "ok":
            return 200, self.latency
        if spec == "gone":
            return 410, self.latency
        if spec.startswith("throttle:"):
            return (429 if seen <= int(spec.split(":", 1)[1]) else 200), self.latency
        if spec == "error":
            return 500, self.latency
        if spec == "too_large":
            return 413, self.latency
        if spec == "forbidden":
            return 403, self.latency
        if spec.startswith("fail_after:"):
            return (200 if seen <= int(spec.split(":", 1)[1]) else 500), self.latency
        raise ValueError(f"unknown behaviour {spec!r}")

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        started = time.monotonic()
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            length = int(request.headers.get("Content-Length", "0"))
            body = request.rfile.read(length)
            prefix = f"/{self.stage}/@connections/"
            path = unquote(request.path)
            if not path.startswith(prefix):
                self._answer(request, 404, b'{"message":"not found"}', "NotFoundException")
                return
            connection_id = path[len(prefix) :]
            status, latency = self._behaviour(connection_id)
            if latency:
                time.sleep(latency)
            finished = time.monotonic()
            with self._lock:
                self.posts.append(Post(connection_id, body, status, started, finished))
            if status == 200:
                self._answer(request, 200, b"", None)
            else:
                message = json.dumps({"message": ERRORS[status]}).encode()
                self._answer(request, status, message, ERRORS[status])
        finally:
            with self._lock:
                self._in_flight -= 1

    @staticmethod
    def _answer(
        request: BaseHTTPRequestHandler, status: int, body: bytes, error_type: str | None
    ) -> None:
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(body)))
        request.send_header("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
        if error_type:
            request.send_header("x-amzn-ErrorType", error_type)
        request.end_headers()
        request.wfile.write(body)
