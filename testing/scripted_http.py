"""A scripted HTTP/1.1 server on 127.0.0.1 for the management API clients' tests (the fan-out's
asyncio pool, realtime_common.fanout.wire, and the sync's blocking one,
realtime_common.sync.direct).

Each request is answered with the next scripted reply: raw bytes (which may be split across
writes, carry an error body or ask to close), ``"hang"`` (never answer) or ``"reset"`` (drop the
connection); when the script is empty, 200. It counts connections, requests and the most in
flight, and records which connection carried each request and when each arrived.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
GONE_BODY = b'{"message":"Gone"}'
GONE = (
    b"HTTP/1.1 410 Gone\r\nContent-Type: application/json\r\nx-amzn-ErrorType: "
    b"GoneException:http://internal.amazon.com/coral/com.amazonaws.gatewayconnections/\r\n"
    b"Content-Length: " + str(len(GONE_BODY)).encode() + b"\r\n\r\n" + GONE_BODY
)
CLOSE = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
REQUEST = b"POST /prod/@connections/a HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}"

Reply = bytes | str | list[bytes]  # a list: one answer written in pieces


@dataclass
class Server:
    script: list[Reply]
    connections: int = 0
    requests: int = 0
    in_flight: int = 0
    most_in_flight: int = 0
    order: list[int] = field(default_factory=list)  # per request: its connection's number
    arrived: list[float] = field(default_factory=list)  # per request: time.monotonic()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                self.requests += 1
                self.order.append(number)
                self.arrived.append(time.monotonic())
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
                reply = self.script.pop(0) if self.script else OK
                await asyncio.sleep(0.01)
                self.in_flight -= 1
                if reply == "hang":
                    await asyncio.sleep(3600)
                if reply == "reset":
                    writer.transport.abort()
                    return
                for piece in reply if isinstance(reply, list) else [reply]:
                    assert isinstance(piece, bytes)
                    writer.write(piece)
                    await writer.drain()
                    await asyncio.sleep(0.005)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            return  # the client left, or the test is over (a hung answer is cancelled)
        finally:
            writer.close()


class ThreadedServer:
    """The scripted server on its own loop in a thread, so the pool's loop can stand still
    between invocations (``run_until_complete`` returns) while the server goes on."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.server = Server([])
        self.writers: set[asyncio.StreamWriter] = set()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        listener = self.call(asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=tls))
        self.listener = listener
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{listener.sockets[0].getsockname()[1]}/prod"

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            await self.server.handle(reader, writer)
        finally:
            self.writers.discard(writer)

    def close_idle_connections(self) -> None:
        """What a server's keep-alive timeout does: close every connection (none is busy)."""

        async def close() -> None:
            for writer in list(self.writers):
                writer.close()
            await asyncio.sleep(0.05)  # the FINs (and TLS close_notify) are on their way

        self.call(close())
        time.sleep(0.05)  # and in the client's socket buffers, nobody reading them

    def stop(self) -> None:
        """Close the listener, end the connections clients left open, stop the thread (all
        on the server's loop: asyncio objects are not for other threads to touch)."""

        async def finish() -> None:
            self.listener.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.listener.wait_closed()

        self.call(finish())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


class Clock:
    """The pool's idle clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
