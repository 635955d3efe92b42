"""The lean HTTP/1.1 client the fan-out posts with: keep-alive connections, aiohttp's parser.

A management API post is always the same shape: ``POST /{stage}/@connections/{id}`` with four
signed headers and a body shared by every connection, answered with a status and, on errors, an
``x-amzn-ErrorType`` header. aiohttp's ``ClientSession.post`` builds a URL object, a header
multidict, a request, a response, a timer context and a payload writer for each one, which was
half of the CPU a post cost (docs/benchmarks/fanout-profile.md). This client writes the request
bytes itself (the request line and headers come from the signer as one block) onto a pooled
keep-alive connection, and leaves the HTTP parsing to aiohttp's own C response parser
(``aiohttp.http_parser.HttpResponseParser``, llhttp), fed straight from ``asyncio.Protocol``.

Per attempt: a connection from the pool (opened on demand up to ``limit``, connect time counted
in the attempt's timeout), one ``transport.write``, one future resolved by the parser when the
status line and headers are in, one timer that fails the attempt at its timeout. A connection is
reused unless the server asked to close it, the attempt timed out or it failed; bodies are never
read (the status and the error header say all the engine needs).

The pool outlives invocations, and between them the event loop does not run (Lambda freezes the
execution environment): a connection the server closed meanwhile still looks open, and the first
post on it would fail and be retried. So a connection idle longer than ``IDLE_LIMIT_SECONDS`` is
dropped, and one idle longer than ``PROBE_AFTER_SECONDS`` is checked before reuse (readable while
idle means the peer's FIN, a reset or a TLS close_notify is waiting: dead), as urllib3 checks a
pooled connection with a zero-timeout poll before reusing it.
"""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from aiohttp.http_parser import HttpResponseParser

from realtime_common.fanout.sigv4 import Signer, payload_hash
from realtime_common.fanout.transport import Done

_READ_LIMIT = 2**16
# How often requests in flight are checked for their timeout.
SWEEP_SECONDS = 0.02
# A kept-alive connection idle longer than this is closed instead of reused. Servers and load
# balancers close idle keep-alive connections on their own schedule (API Gateway does not
# document the management endpoint's; an Application Load Balancer's idle timeout is 60 s by
# default, CloudFront keeps origin connections 5 s by default; the AWS SDK for Java's pool drops
# connections idle for 60 s). 15 s keeps a pool warm across invocations a few seconds apart and
# stays well inside the usual server-side limits; past it a post costs one new connection (a TLS
# handshake) instead of a failed first attempt, a backoff and a retry. A Lambda environment frozen
# longer than this thaws with its idle connections dropped.
IDLE_LIMIT_SECONDS = 15.0
# A connection idle longer than this is probed (a zero-timeout poll) before reuse; within one
# fan-out connections come back every few milliseconds, so a busy pool makes no extra system call.
PROBE_AFTER_SECONDS = 1.0


# One answer: its HTTP status, its AWS error code ("" below 300) and whether the server closes
# the connection after it.
Answer = tuple[int, str, bool]


class AnswerReader:
    """Management API answers from a connection's bytes, by aiohttp's C response parser.

    The error code is ``x-amzn-ErrorType`` up to its first colon; bodies are never read. The
    ``flow`` (the connection) is told to pause reading when an (error) body piles up in
    aiohttp's StreamReader (``pause_reading``, ``resume_reading(resume_parser)``). Raises
    what the parser raises on bytes that are not HTTP: the connection cannot be used again.
    The sync's blocking client reads answers with its own small reader
    (realtime_common/sync/direct.py), held to this one answer for answer by a unit test.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, flow: object) -> None:
        # Typed for aiohttp's own protocol class; the parser only needs pause/resume_reading.
        self._parser = HttpResponseParser(
            flow,  # type: ignore[arg-type]
            loop,
            _READ_LIMIT,
            response_with_body=True,
            read_until_eof=False,
            auto_decompress=False,
        )

    def feed(self, data: bytes) -> list[Answer]:
        messages, _, _ = self._parser.feed_data(data)
        answers: list[Answer] = []
        for message, _payload in messages:
            status: int = message.code
            code = "" if status < 300 else message.headers.get("x-amzn-ErrorType", "")
            answers.append((status, code.split(":", 1)[0], message.should_close))
        return answers


def reusable(idle: float, idle_limit: float, readable: Callable[[], bool]) -> bool:
    """Whether a kept-alive connection idle for ``idle`` seconds may carry the next request:
    within ``PROBE_AFTER_SECONDS`` without a look, within ``idle_limit`` if nothing arrived
    while it was idle (``readable``: a zero-timeout poll), never after."""
    return idle <= PROBE_AFTER_SECONDS or (idle <= idle_limit and not readable())


def readable_while_idle(sock: socket.socket) -> bool:
    """Whether an idle connection's socket has something to read although no request is in
    flight: the peer's FIN or reset, or (TLS) its close_notify, arrived while nothing ran."""
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    return bool(poller.poll(0))


class _Connection(asyncio.Protocol):
    """One keep-alive connection: at most one request in flight, answered through ``done``."""

    def __init__(self, loop: asyncio.AbstractEventLoop, pool: Pool) -> None:
        self.transport: asyncio.Transport | None = None
        self.pool = pool
        self.done: Done | None = None  # the request in flight's callback
        self.expires = 0.0  # loop time at which the request in flight times out
        self.idle_since = 0.0  # the pool's clock when it last came back idle
        self.closed = False
        # Read by aiohttp's StreamReader when an (error) body arrives: it may pause reading.
        self._reading_paused = False
        self._reader = AnswerReader(loop, self)

    # asyncio.Protocol ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            answers = self._reader.feed(data)
        except Exception as error:  # noqa: BLE001 (any parse error ends this connection)
            self.fail(f"bad answer: {type(error).__name__}")
            self.abort()
            return
        for status, code, close in answers:
            if close:
                self.closed = True
            done, self.done = self.done, None
            if done is None:
                continue  # an answer nobody waits for (its request timed out): dropped
            # Back in the pool before the callback runs, so the next post it starts reuses it.
            self.pool.release(self, reuse=True)
            done(status, code)

    def eof_received(self) -> bool:
        self.closed = True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.fail(type(exc).__name__ if exc else "ConnectionClosed")

    def pause_reading(self) -> None:
        if self.transport is not None and not self._reading_paused:
            self.transport.pause_reading()
            self._reading_paused = True

    def resume_reading(self, resume_parser: bool = True) -> None:  # aiohttp calls it so
        if self.transport is not None and self._reading_paused:
            self.transport.resume_reading()
            self._reading_paused = False

    # ours ---------------------------------------------------------------------------------
    def fail(self, kind: str) -> None:
        """End the request in flight without an answer; the connection is not reused."""
        done, self.done = self.done, None
        if done is not None:
            # Timed out, reset or unparsable with an answer possibly still on its way: the
            # connection cannot carry another request.
            self.pool.release(self, reuse=False)
            done(0, kind)

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def readable_while_idle(self) -> bool:
        sock = self.transport.get_extra_info("socket") if self.transport is not None else None
        return sock is None or readable_while_idle(sock)


class Pool:
    """Keep-alive connections to one origin, at most ``limit`` open at once."""

    def __init__(
        self,
        url: str,
        limit: int,
        ssl_context: ssl.SSLContext | None = None,
        *,
        idle_limit: float = IDLE_LIMIT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``ssl_context`` for an ``https`` URL: the system's trust store by default.
        ``idle_limit``: seconds a connection may stay idle and still be reused; ``clock``
        measures it (it keeps running while Lambda freezes the environment)."""
        parts = urlsplit(url)
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.limit = limit
        self.idle_limit = idle_limit
        self._clock = clock
        self._ssl = (
            (ssl_context or ssl.create_default_context()) if parts.scheme == "https" else None
        )
        self._idle: list[_Connection] = []
        self._open = 0
        # Requests waiting for a connection when ``limit`` are open and busy: (data, expires,
        # done), served in order as connections come back.
        self._queued: deque[tuple[bytes, float, Done]] = deque()
        self._busy: set[_Connection] = set()
        self._sweeping = False
        self._tasks: set[asyncio.Task[None]] = set()

    def request(
        self, loop: asyncio.AbstractEventLoop, data: bytes, expires: float, done: Done
    ) -> None:
        """Send ``data`` on a kept-alive connection, or one opened for it; ``done`` gets the
        answer (status, AWS error code) or (0, why) by ``expires``. Never calls ``done`` at once.
        Requests that find every connection busy wait their turn, oldest first.
        """
        if not self._queued:  # the usual case on a warm pool: no one waits
            connection = self._take_idle()
            if connection is not None:
                self._write(loop, connection, data, expires, done)
                return
        self._queued.append((data, expires, done))
        self._serve_queued(loop)

    def _take_idle(self) -> _Connection | None:
        """A kept-alive connection still open, or None; closed, expired and dead ones found on
        the way are gone (the most recently used comes first: once one is expired, all are)."""
        now = self._clock()
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed and reusable(
                now - connection.idle_since, self.idle_limit, connection.readable_while_idle
            ):
                return connection
            connection.abort()
            self._open -= 1
        return None

    def _serve_queued(self, loop: asyncio.AbstractEventLoop) -> None:
        queued = self._queued
        while queued:
            connection = self._take_idle()
            if connection is None and self._open >= self.limit:
                self._start_sweep(loop)  # the queue's timeouts
                return
            data, expires, done = queued.popleft()
            if connection is not None:
                self._write(loop, connection, data, expires, done)
            else:
                self._open += 1
                task = loop.create_task(self._connect_and_write(loop, data, expires, done))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def _write(
        self,
        loop: asyncio.AbstractEventLoop,
        connection: _Connection,
        data: bytes,
        expires: float,
        done: Done,
    ) -> None:
        connection.done = done
        connection.expires = expires
        self._busy.add(connection)
        if connection.transport is not None:
            connection.transport.write(data)
        self._start_sweep(loop)

    def _start_sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._sweeping:
            self._sweeping = True
            loop.call_later(SWEEP_SECONDS, self._sweep, loop)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        # One timer for every request in flight instead of one per request: a post's timeout
        # fires at most SWEEP_SECONDS late, which the handler's deadline margin covers.
        now = loop.time()
        for connection in [c for c in self._busy if c.expires <= now]:
            connection.fail("TimeoutError")
        while self._queued and self._queued[0][1] <= now:
            _, _, done = self._queued.popleft()
            done(0, "TimeoutError")
        if self._busy or self._queued:
            loop.call_later(SWEEP_SECONDS, self._sweep, loop)
        else:
            self._sweeping = False

    async def _connect_and_write(
        self, loop: asyncio.AbstractEventLoop, data: bytes, expires: float, done: Done
    ) -> None:
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Connection(loop, self),
                    self.host,
                    self.port,
                    ssl=self._ssl,
                    server_hostname=self.host if self._ssl else None,
                ),
                max(0.0, expires - loop.time()),
            )
        except (OSError, TimeoutError) as error:
            self._open -= 1
            self._serve_queued(loop)  # the slot is free again
            done(0, type(error).__name__)
            return
        except BaseException:
            self._open -= 1
            raise
        self._write(loop, connection, data, expires, done)

    def release(self, connection: _Connection, *, reuse: bool) -> None:
        self._busy.discard(connection)
        if reuse and not connection.closed:
            connection.idle_since = self._clock()
            self._idle.append(connection)
        else:
            connection.abort()
            self._open -= 1
        if self._queued:  # a connection or a slot came free: the oldest waiting request takes it
            self._serve_queued(asyncio.get_running_loop())

    def close(self) -> None:
        for connection in self._idle:
            connection.abort()
        self._open -= len(self._idle)
        self._idle.clear()


class WireSender:
    """The engine's ``Sender``: signs and sends frame slot ``k`` to a connection over ``pool``."""

    def __init__(
        self, pool: Pool, callback_url: str, frames: Sequence[bytes], signer: Signer
    ) -> None:
        self._pool = pool
        self._loop = asyncio.get_running_loop()
        self._now = self._loop.time
        self._base_path = urlsplit(callback_url.rstrip("/")).path
        self._frames = list(frames)
        self._hashes = [payload_hash(data) for data in self._frames]
        self._signer = signer

    def send(self, connection_id: str, slot: int, timeout: float, done: Done) -> None:
        loop = self._loop
        body = self._frames[slot]
        head = self._signer.post_head(self._base_path, connection_id, self._hashes[slot], len(body))
        # One write, one segment for a small post.
        self._pool.request(loop, head + body, self._now() + timeout, done)
