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
and a latency in seconds added before every answer. On top of the behaviours, for load tests:
  gone_share         that share of connection ids (chosen by a hash of the id, so callers can
                     tell which with ``gone_by_share``) answer 410 instead of ``ok``
  throttle_share     that share of all posts (at random) answer 429 first
  a body over 128 KB answers 413, as API Gateway does.
``keep_posts=False`` keeps counters only (``stats()``), for runs of 100,000 posts.

Run alone (``python -m testing.fake_management_api --help``) it serves in its own process, prints
its URL and answers ``GET /_fake/stats`` and ``POST /_fake/reset``, so a benchmark can measure the
client process alone.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
import zlib
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
# API Gateway's WebSocket message payload limit.
MAX_PAYLOAD_BYTES = 128 * 1024


def gone_by_share(connection_id: str, share: float) -> bool:
    """Whether ``gone_share=share`` makes ``connection_id`` answer 410 (stable across runs)."""
    return zlib.crc32(connection_id.encode()) % 10_000 < share * 10_000


@dataclass(frozen=True)
class Post:
    connection_id: str
    body: bytes
    status: int
    started: float  # time.monotonic() when the request arrived
    finished: float  # time.monotonic() just before the response was written
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeManagementApi:
    stage: str = "prod"
    default: str = "ok"
    latency: float = 0.0
    behaviours: dict[str, str] = field(default_factory=dict)
    posts: list[Post] = field(default_factory=list)
    max_in_flight: int = 0
    gone_share: float = 0.0
    throttle_share: float = 0.0
    keep_posts: bool = True
    seed: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    first_started: float | None = None
    last_finished: float | None = None
    _random: random.Random = field(default_factory=random.Random)
    _in_flight: int = 0
    _seen: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self, port: int = 0) -> FakeManagementApi:
        api = self
        self._random.seed(self.seed)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                if self.path == "/_fake/reset":
                    api.reset()
                    api._answer(self, 200, b"{}", None)
                    return
                api._handle(self)

            def do_GET(self) -> None:
                if self.path == "/_fake/stats":
                    api._answer(self, 200, json.dumps(api.stats()).encode(), None)
                    return
                api._answer(self, 404, b'{"message":"not found"}', "NotFoundException")

            def log_message(self, format: str, *args: object) -> None:
                return  # keep test output quiet

        class Server(ThreadingHTTPServer):
            # The default listen backlog (5) drops SYNs when a pool of 32+ clients connects at
            # once; the kernel then retransmits after 1 s and the numbers measure that instead.
            request_queue_size = 512

        self._server = Server((HOST, port), Handler)
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

    def stats(self) -> dict[str, object]:
        """Counters of every post since the start or the last reset."""
        with self._lock:
            return {
                "posts": sum(self.statuses.values()),
                "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
                "first_started": self.first_started,
                "last_finished": self.last_finished,
                "max_in_flight": self.max_in_flight,
            }

    def reset(self) -> None:
        with self._lock:
            self.posts.clear()
            self.statuses.clear()
            self._seen.clear()
            self.first_started = self.last_finished = None
            self.max_in_flight = 0

    # -- request handling ---------------------------------------------------------------------
    def _behaviour(self, connection_id: str) -> tuple[int, float]:
        spec = self.behaviours.get(connection_id, self.default)
        with self._lock:
            self._seen[connection_id] += 1
            seen = self._seen[connection_id]
        if spec == "ok":
            if self.gone_share and gone_by_share(connection_id, self.gone_share):
                return 410, self.latency
            if self.throttle_share:
                with self._lock:
                    throttled = self._random.random() < self.throttle_share
                if throttled:
                    return 429, self.latency
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

    def _count(self, post: Post) -> None:
        with self._lock:
            if self.keep_posts:
                self.posts.append(post)
            self.statuses[post.status] += 1
            if self.first_started is None or post.started < self.first_started:
                self.first_started = post.started
            if self.last_finished is None or post.finished > self.last_finished:
                self.last_finished = post.finished

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
            if status == 200 and length > MAX_PAYLOAD_BYTES:
                status = 413
            if latency:
                time.sleep(latency)
            finished = time.monotonic()
            self._count(
                Post(connection_id, body, status, started, finished, dict(request.headers.items()))
            )
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


def main(argv: list[str] | None = None) -> int:
    """Serve until stdin closes; print the URL (one line) once listening."""
    parser = argparse.ArgumentParser(description="Fake API Gateway management API on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--gone-share", type=float, default=0.0)
    parser.add_argument("--throttle-share", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    api = FakeManagementApi(
        stage=args.stage,
        latency=args.latency,
        gone_share=args.gone_share,
        throttle_share=args.throttle_share,
        keep_posts=False,
        seed=args.seed,
    )
    with api.start(args.port):
        sys.stdout.write(api.url + "\n")
        sys.stdout.flush()
        sys.stdin.read()  # the parent closes our stdin (or dies) to stop us
    return 0


if __name__ == "__main__":
    sys.exit(main())
