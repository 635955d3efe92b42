"""A small fake of the API Gateway management API (``POST /{stage}/@connections/{id}``).

Serves on 127.0.0.1 from an asyncio event loop on its own thread (HTTP/1.1 keep-alive, so
botocore's connection pool is exercised as against AWS). The latency is a timer, not a blocked
thread, so one process answers thousands of posts a second on one core without becoming the
bottleneck of a load test. Each connection id can be given a behaviour; every request is recorded
with its arrival and completion times so tests can measure real overlap and order.

Behaviours (per connection id, or the default):
  ok                 200
  gone               410 GoneException
  throttle:N         429 LimitExceededException N times, then 200
  error              500 InternalServerErrorException, always
  too_large          413 PayloadTooLargeException
  forbidden          403 ForbiddenException
  fail_after:N       200 for the first N posts, then 500 always
and a latency in seconds added before every answer. ``connecting(id, seconds)`` makes a
connection answer 410 GoneException for the next ``seconds`` (or until ``established(id)``),
whatever its behaviour, as API Gateway does for a connection whose ``$connect`` has not
completed yet (while ``on_connect`` may already have written its row).
On top of the behaviours, for load tests:
  gone_share         that share of connection ids (chosen by a hash of the id, so callers can
                     tell which with ``gone_by_share``) answer 410 instead of ``ok``
  throttle_share     that share of all posts (at random) answer 429 first
  a body over 128 KB answers 413, as API Gateway does.
``keep_posts=False`` keeps counters only (``stats()``), for runs of 100,000 posts.

Each keep-alive connection is served one request at a time, in order (as a thread per connection
would): a pipelined request waits for the answer to the one before it.

Run alone (``python -m testing.fake_management_api --help``) it serves in its own process, prints
its URL and answers ``GET /_fake/stats`` and ``POST /_fake/reset``, so a benchmark can measure the
client process alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import ssl
import sys
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
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
REASONS = {
    200: "OK",
    403: "Forbidden",
    404: "Not Found",
    410: "Gone",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
}
# API Gateway's WebSocket message payload limit.
MAX_PAYLOAD_BYTES = 128 * 1024
# A request head larger than this is not one of ours: drop the connection.
MAX_HEAD_BYTES = 64 * 1024
NOT_FOUND = b'{"message":"not found"}'


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


def _response(status: int, body: bytes, error_type: str | None, close: bool) -> bytes:
    head = [
        f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "x-amzn-RequestId: 00000000-0000-0000-0000-000000000000",
    ]
    if error_type:
        head.append(f"x-amzn-ErrorType: {error_type}")
    if close:
        head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


# The answers to posts never change: build them once (status, close) -> bytes.
_ANSWERS = {
    (status, close): _response(
        status,
        b"" if status == 200 else json.dumps({"message": ERRORS[status]}).encode(),
        ERRORS.get(status),
        close,
    )
    for status in (200, *ERRORS)
    for close in (False, True)
}


@dataclass
class _Request:
    method: str
    path: str
    headers: dict[str, str]
    length: int
    close: bool
    started: float


class _Connection(asyncio.Protocol):
    """One keep-alive connection: parse requests in order, answer each before the next."""

    def __init__(self, api: FakeManagementApi, loop: asyncio.AbstractEventLoop) -> None:
        self._api = api
        self._loop = loop
        self._buffer = bytearray()
        self._request: _Request | None = None  # head parsed, body (maybe) still arriving
        self._busy = False  # a request is waiting out its latency
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._api._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._api._connections.discard(self)
        self._buffer.clear()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if not self._busy:
            self._next()

    def _next(self) -> None:
        """Serve every complete request in the buffer until one has to wait for its latency."""
        while not self._busy and self._transport is not None:
            if self._transport.is_closing():
                return
            request = self._request or self._parse_head()
            if request is None:
                return
            if len(self._buffer) < request.length:
                return
            body = bytes(self._buffer[: request.length])
            del self._buffer[: request.length]
            self._request = None
            self._dispatch(request, body)

    def _parse_head(self) -> _Request | None:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > MAX_HEAD_BYTES:
                self.abort()
            return None
        started = time.monotonic()
        lines = self._buffer[:end].decode("latin-1").split("\r\n")
        del self._buffer[: end + 4]
        method, target, version = lines[0].split(" ", 2)
        headers: dict[str, str] = {}  # as sent (name case kept), like http.server's
        length, connection, expect = 0, "", ""
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name, value = name.strip(), value.strip()
            headers[name] = value
            lowered = name.lower()
            if lowered == "content-length":
                length = int(value)
            elif lowered == "connection":
                connection = value.lower()
            elif lowered == "expect":
                expect = value.lower()
        close = connection == "close" or (version == "HTTP/1.0" and connection != "keep-alive")
        if expect == "100-continue" and self._transport is not None:
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self._request = _Request(method, target, headers, length, close, started)
        return self._request

    def _write(self, answer: bytes, close: bool) -> None:
        if self._transport is None or self._transport.is_closing():
            return
        self._transport.write(answer)
        if close:
            self._transport.close()

    def _dispatch(self, request: _Request, body: bytes) -> None:
        api = self._api
        if request.method == "GET":
            if request.path == "/_fake/stats":
                answer = json.dumps(api.stats()).encode()
                self._write(_response(200, answer, None, request.close), request.close)
            else:
                self._write(
                    _response(404, NOT_FOUND, "NotFoundException", request.close), request.close
                )
            return
        if request.method != "POST":
            self._write(_response(501, b"", None, True), True)
            return
        if request.path == "/_fake/reset":
            api.reset()
            self._write(_response(200, b"{}", None, request.close), request.close)
            return
        prefix = f"/{api.stage}/@connections/"
        path = unquote(request.path)
        if not path.startswith(prefix):
            self._write(
                _response(404, NOT_FOUND, "NotFoundException", request.close), request.close
            )
            return
        connection_id = path[len(prefix) :]
        status = api._begin(connection_id)  # counts the request in flight
        try:
            if status == 200 and request.length > MAX_PAYLOAD_BYTES:
                status = 413
            latency = api.latency
        except BaseException:
            api._abandon()
            raise
        if latency:
            self._busy = True
            self._loop.call_later(latency, self._finish, request, body, connection_id, status)
        else:
            self._finish(request, body, connection_id, status)

    def _finish(self, request: _Request, body: bytes, connection_id: str, status: int) -> None:
        self._api._end(
            connection_id, body, status, request.started, time.monotonic(), request.headers
        )
        self._write(_ANSWERS[status, request.close], request.close)
        if self._busy:
            self._busy = False
            self._next()


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
    _handshakes: dict[str, float] = field(default_factory=dict)  # id -> time.monotonic() it ends
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _port: int = 0
    _connections: set[_Connection] = field(default_factory=set)
    # Serve HTTPS with this certificate and key (PEM, testing/tls.py), as the real endpoint does.
    tls_cert: str | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self, port: int = 0) -> FakeManagementApi:
        self._random.seed(self.seed)
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                # A listen backlog of 512: a pool of 32+ clients connecting at once must not
                # overflow it (the kernel would retransmit the SYN after 1 s, and the numbers
                # would measure that instead).
                context = None
                if self.tls_cert:
                    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                    context.load_cert_chain(self.tls_cert)
                server = loop.run_until_complete(
                    loop.create_server(
                        lambda: _Connection(self, loop),
                        HOST,
                        port,
                        backlog=512,
                        reuse_address=True,
                        ssl=context,
                    )
                )
            except BaseException as error:  # noqa: BLE001 (handed to the starting thread)
                failure.append(error)
                ready.set()
                loop.close()
                return
            self._port = server.sockets[0].getsockname()[1]
            ready.set()
            try:
                loop.run_forever()
            finally:
                server.close()
                for connection in list(self._connections):
                    connection.abort()
                loop.run_until_complete(asyncio.sleep(0))  # let the transports close
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=serve, name="fake-management-api", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._loop = self._thread = None
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop = self._thread = None

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
        assert self._loop is not None, "start() the fake first"
        scheme = "https" if self.tls_cert else "http"
        return f"{scheme}://{HOST}:{self._port}/{self.stage}"

    # -- faults -------------------------------------------------------------------------------
    def connecting(self, connection_id: str, seconds: float = math.inf) -> None:
        """``connection_id`` answers 410 for the next ``seconds`` (by default until
        :meth:`established`): its handshake is under way."""
        with self._lock:
            self._handshakes[connection_id] = time.monotonic() + seconds

    def established(self, connection_id: str) -> None:
        """The handshake of ``connection_id`` is over: its behaviour answers from now on."""
        with self._lock:
            self._handshakes.pop(connection_id, None)

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

    # -- request handling (on the event loop's thread) ----------------------------------------
    def _begin(self, connection_id: str) -> int:
        """Count a post in flight and choose its status (one lock round per post)."""
        spec = self.behaviours.get(connection_id, self.default)
        with self._lock:
            self._in_flight += 1
            if self._in_flight > self.max_in_flight:
                self.max_in_flight = self._in_flight
            self._seen[connection_id] += 1
            seen = self._seen[connection_id]
            handshake = self._handshakes.get(connection_id)
            if handshake is not None and time.monotonic() < handshake:
                return 410
            throttled = (
                spec == "ok"
                and bool(self.throttle_share)
                and not (self.gone_share and gone_by_share(connection_id, self.gone_share))
                and self._random.random() < self.throttle_share
            )
        try:
            return self._status(connection_id, spec, seen, throttled)
        except BaseException:
            self._abandon()
            raise

    def _status(self, connection_id: str, spec: str, seen: int, throttled: bool) -> int:
        if spec == "ok":
            if self.gone_share and gone_by_share(connection_id, self.gone_share):
                return 410
            return 429 if throttled else 200
        if spec == "gone":
            return 410
        if spec.startswith("throttle:"):
            return 429 if seen <= int(spec.split(":", 1)[1]) else 200
        if spec == "error":
            return 500
        if spec == "too_large":
            return 413
        if spec == "forbidden":
            return 403
        if spec.startswith("fail_after:"):
            return 200 if seen <= int(spec.split(":", 1)[1]) else 500
        raise ValueError(f"unknown behaviour {spec!r}")

    def _abandon(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _end(
        self,
        connection_id: str,
        body: bytes,
        status: int,
        started: float,
        finished: float,
        headers: dict[str, str],
    ) -> None:
        """Record a finished post and count it out of flight."""
        with self._lock:
            self._in_flight -= 1
            if self.keep_posts:
                self.posts.append(Post(connection_id, body, status, started, finished, headers))
            self.statuses[status] += 1
            if self.first_started is None or started < self.first_started:
                self.first_started = started
            if self.last_finished is None or finished > self.last_finished:
                self.last_finished = finished


def main(argv: list[str] | None = None) -> int:
    """Serve until stdin closes; print the URL (one line) once listening."""
    parser = argparse.ArgumentParser(description="Fake API Gateway management API on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--gone-share", type=float, default=0.0)
    parser.add_argument("--throttle-share", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--tls-cert", default=None, help="serve HTTPS with this PEM (certificate and key)"
    )
    args = parser.parse_args(argv)
    api = FakeManagementApi(
        stage=args.stage,
        latency=args.latency,
        gone_share=args.gone_share,
        throttle_share=args.throttle_share,
        keep_posts=False,
        seed=args.seed,
        tls_cert=args.tls_cert,
    )
    with api.start(args.port):
        sys.stdout.write(api.url + "\n")
        sys.stdout.flush()
        sys.stdin.read()  # the parent closes our stdin (or dies) to stop us
    return 0


if __name__ == "__main__":
    sys.exit(main())
