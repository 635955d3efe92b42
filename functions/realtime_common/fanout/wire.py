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
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from aiohttp.http_parser import HttpResponseParser

from realtime_common.fanout.engine import TransportError
from realtime_common.fanout.sigv4 import Signer, connection_path, payload_hash

_READ_LIMIT = 2**16
# How often requests in flight are checked for their timeout.
SWEEP_SECONDS = 0.02


class _Connection(asyncio.Protocol):
    """One keep-alive connection: at most one request in flight, answered through ``waiter``."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[Any] | None = None
        self.expires = 0.0  # loop time at which the request in flight times out
        self.closed = False
        # Read by aiohttp's StreamReader when an (error) body arrives: it may pause reading.
        self._reading_paused = False
        # Typed for aiohttp's own protocol class; the parser only needs what this one provides.
        self._parser = HttpResponseParser(
            self,  # type: ignore[arg-type]
            loop,
            _READ_LIMIT,
            response_with_body=True,
            read_until_eof=False,
            auto_decompress=False,
        )

    # asyncio.Protocol ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            messages, _, _ = self._parser.feed_data(data)
        except Exception as error:  # noqa: BLE001 (any parse error ends this connection)
            self._fail(TransportError(f"bad answer: {type(error).__name__}"))
            self.abort()
            return
        for message, _payload in messages:
            if message.should_close:
                self.closed = True
            waiter, self.waiter = self.waiter, None
            if waiter is not None and not waiter.done():
                waiter.set_result(message)

    def eof_received(self) -> bool:
        self.closed = True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(TransportError(type(exc).__name__ if exc else "ConnectionClosed"))

    def pause_reading(self) -> None:
        if self.transport is not None and not self._reading_paused:
            self.transport.pause_reading()
            self._reading_paused = True

    def resume_reading(self, resume_parser: bool = True) -> None:  # aiohttp calls it so
        if self.transport is not None and self._reading_paused:
            self.transport.resume_reading()
            self._reading_paused = False

    # ours ---------------------------------------------------------------------------------
    def _fail(self, error: Exception) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class Pool:
    """Keep-alive connections to one origin, at most ``limit`` open at once."""

    def __init__(self, url: str, limit: int) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.limit = limit
        self._ssl = ssl.create_default_context() if parts.scheme == "https" else None
        self._idle: list[_Connection] = []
        self._open = 0
        self._waiters: deque[asyncio.Future[_Connection | None]] = deque()
        self._busy: set[_Connection] = set()
        self._sweeping = False

    def send(
        self, loop: asyncio.AbstractEventLoop, connection: _Connection, data: bytes, expires: float
    ) -> asyncio.Future[Any]:
        """Write one request; the future gets the parsed answer or fails at ``expires``."""
        waiter: asyncio.Future[Any] = loop.create_future()
        connection.waiter = waiter
        connection.expires = expires
        self._busy.add(connection)
        if connection.transport is not None:
            connection.transport.write(data)
        if not self._sweeping:
            self._sweeping = True
            loop.call_later(SWEEP_SECONDS, self._sweep, loop)
        return waiter

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        # One timer for every request in flight instead of one per request: a post's timeout
        # fires at most SWEEP_SECONDS late, which the handler's deadline margin covers.
        now = loop.time()
        for connection in [c for c in self._busy if c.expires <= now]:
            connection._fail(TransportError("TimeoutError"))
        if self._busy:
            loop.call_later(SWEEP_SECONDS, self._sweep, loop)
        else:
            self._sweeping = False

    async def _connect(self, loop: asyncio.AbstractEventLoop, timeout: float) -> _Connection:
        self._open += 1
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Connection(loop),
                    self.host,
                    self.port,
                    ssl=self._ssl,
                    server_hostname=self.host if self._ssl else None,
                ),
                timeout,
            )
        except BaseException:
            self._open -= 1
            self._wake(None)
            raise
        return connection

    def idle(self) -> _Connection | None:
        """A kept-alive connection ready for a request, without waiting; None if there is none."""
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed:
                return connection
            self._open -= 1
        return None

    async def acquire(self, loop: asyncio.AbstractEventLoop, timeout: float) -> _Connection:
        while True:
            while self._idle:
                connection = self._idle.pop()
                if not connection.closed:
                    return connection
                self._open -= 1
            if self._open < self.limit:
                return await self._connect(loop, timeout)
            waiter: asyncio.Future[_Connection | None] = loop.create_future()
            self._waiters.append(waiter)
            handed = await asyncio.wait_for(waiter, timeout)
            if handed is not None and not handed.closed:
                return handed
            if handed is not None:
                self._open -= 1

    def _wake(self, connection: _Connection | None) -> bool:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return True
        return False

    def release(self, connection: _Connection, *, reuse: bool) -> None:
        self._busy.discard(connection)
        if reuse and not connection.closed:
            if not self._wake(connection):
                self._idle.append(connection)
            return
        connection.abort()
        self._open -= 1
        self._wake(None)  # a slot is free: a waiter may open a new connection

    def close(self) -> None:
        for connection in self._idle:
            connection.abort()
        self._open -= len(self._idle)
        self._idle.clear()


class WirePoster:
    """The engine's ``Poster``: signs and sends frame ``k`` to a connection over ``pool``."""

    def __init__(
        self, pool: Pool, callback_url: str, frames: Sequence[bytes], signer: Signer
    ) -> None:
        self._pool = pool
        self._loop = asyncio.get_running_loop()
        self._base_path = urlsplit(callback_url.rstrip("/")).path
        self._frames = list(frames)
        self._hashes = [payload_hash(data) for data in self._frames]
        self._signer = signer

    async def __call__(self, connection_id: str, frame: int, timeout: float) -> tuple[int, str]:
        loop = self._loop
        expires = loop.time() + timeout
        body = self._frames[frame]
        path = connection_path(self._base_path, connection_id)
        head = self._signer.header_block(path, self._hashes[frame], len(body))
        connection = self._pool.idle()  # the usual case once the pool is warm: no await
        if connection is None:
            try:
                connection = await self._pool.acquire(loop, timeout)
            except (OSError, TimeoutError) as error:
                raise TransportError(type(error).__name__) from error
        data = head + body  # one write, one segment for a small post
        try:
            message = await self._pool.send(loop, connection, data, expires)
        except BaseException:
            # Timed out, reset or cancelled with an answer possibly still on its way: the
            # connection cannot carry another request.
            self._pool.release(connection, reuse=False)
            raise
        self._pool.release(connection, reuse=True)
        status: int = message.code
        if status < 300:
            return status, ""
        return status, message.headers.get("x-amzn-ErrorType", "").split(":", 1)[0]
