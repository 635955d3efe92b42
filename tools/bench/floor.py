"""What posting one sync answer costs on this machine at the least, for reading the storm's CPU
against the machine rather than in the abstract: the same frames, to the same fake management
API, by two bare clients that do nothing but post (no signing, no retries, no timeouts, no rate,
plain HTTP/1.1 on kept-alive connections to 127.0.0.1):

- ``blocking``: one socket, each frame sent and its answer read before the next;
- ``polled``: blocking sockets, the frames but the last side by side over ``in_flight``
  connections (``poll`` waits for the answers), then the last: the order and shape the sync
  posts in (realtime_common.sync.post.phases, realtime_common.sync.direct);
- ``evented``: the same order over an asyncio event loop (the shape of the fan-out's client).

Each builds each request as it sends it, as ours does (building a whole answer's requests up
front costs page faults here: fresh memory for every 1 MB answer), keeps its connections across
answers, and ``evented`` runs its kept loop once per answer, as a handler invocation would. Each
returns the CPU milliseconds (``time.process_time``) of every answer it posted.
"""

from __future__ import annotations

import asyncio
import select
import socket
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

_HEADERS_END = b"\r\n\r\n"


def _heads(url: str, frames: Sequence[bytes], connection_id: str) -> list[bytes]:
    """The request line and headers of each frame's post."""
    parts = urlsplit(url.rstrip("/"))
    line = f"POST {parts.path}/@connections/{connection_id} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
    return [f"{line}Content-Length: {len(frame)}\r\n\r\n".encode() for frame in frames]


def _answer_length(data: bytes) -> int | None:
    """The length of the whole answer at the start of ``data``, once its headers are in."""
    end = data.find(_HEADERS_END)
    if end < 0:
        return None
    length = 0
    for line in data[:end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return end + len(_HEADERS_END) + length


def blocking(url: str, frames: Sequence[bytes], connection_ids: Sequence[str]) -> list[float]:
    parts = urlsplit(url)
    cpu: list[float] = []
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for connection_id in connection_ids:
            began = time.process_time()
            for head, frame in zip(_heads(url, frames, connection_id), frames, strict=True):
                _exchange(sock, head + frame)  # each request built as it is sent, as ours does
            cpu.append((time.process_time() - began) * 1000)
    return cpu


def polled(
    url: str, frames: Sequence[bytes], connection_ids: Sequence[str], in_flight: int
) -> list[float]:
    parts = urlsplit(url)
    socks = [socket.create_connection((parts.hostname, parts.port)) for _ in range(in_flight)]
    cpu: list[float] = []
    try:
        for sock in socks:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for connection_id in connection_ids:
            began = time.process_time()
            *body, last = zip(_heads(url, frames, connection_id), frames, strict=True)
            waiting = iter(body)
            poller = select.poll()
            answers: dict[int, tuple[socket.socket, bytes]] = {}
            for sock in socks:  # one frame per connection, the next as each is answered
                for head, frame in waiting:
                    sock.sendall(head + frame)
                    answers[sock.fileno()] = (sock, b"")
                    poller.register(sock.fileno(), select.POLLIN)
                    break
            while answers:
                for fd, _ in poller.poll():
                    sock, data = answers[fd]
                    data += sock.recv(65536)
                    length = _answer_length(data)
                    if length is None or len(data) < length:
                        answers[fd] = (sock, data)
                        continue
                    del answers[fd]
                    poller.unregister(fd)
                    for head, frame in waiting:
                        sock.sendall(head + frame)
                        answers[fd] = (sock, b"")
                        poller.register(fd, select.POLLIN)
                        break
            _exchange(socks[0], last[0] + last[1])
            cpu.append((time.process_time() - began) * 1000)
    finally:
        for sock in socks:
            sock.close()
    return cpu


def _exchange(sock: socket.socket, request: bytes) -> None:
    """Send one request and read its whole answer."""
    sock.sendall(request)
    data = b""
    while (length := _answer_length(data)) is None or len(data) < length:
        data += sock.recv(65536)


class _Client(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.data = b""
        self.answered: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.data += data
        length = _answer_length(self.data)
        if length is not None and len(self.data) >= length and self.answered is not None:
            self.data = self.data[length:]
            self.answered.set_result(None)

    async def post(self, request: bytes) -> None:
        self.answered = asyncio.get_running_loop().create_future()
        if self.transport is not None:
            self.transport.write(request)
        await self.answered


def evented(
    url: str, frames: Sequence[bytes], connection_ids: Sequence[str], in_flight: int
) -> list[float]:
    loop = asyncio.new_event_loop()
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80

    async def connect() -> _Client:
        return (await loop.create_connection(_Client, host, port))[1]

    async def answer(clients: list[_Client], connection_id: str) -> None:
        *body, last = zip(_heads(url, frames, connection_id), frames, strict=True)
        waiting = iter(body)

        async def lane(client: _Client) -> None:
            for head, frame in waiting:  # each lane takes the next frame when it is free
                await client.post(head + frame)

        await asyncio.gather(*(lane(client) for client in clients))
        await clients[0].post(last[0] + last[1])

    try:
        clients = [loop.run_until_complete(connect()) for _ in range(in_flight)]
        cpu: list[float] = []
        for connection_id in connection_ids:
            # Like a handler's invocation: one run of the (kept) loop per answer.
            began = time.process_time()
            loop.run_until_complete(answer(clients, connection_id))
            cpu.append((time.process_time() - began) * 1000)
        for client in clients:
            if client.transport is not None:
                client.transport.close()
    finally:
        loop.close()
    return cpu
