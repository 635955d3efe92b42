"""A fake of the API Gateway WebSocket API's client side, on 127.0.0.1, for client tests.

Plays what a browser sees of the real thing: the identity in the query string or a token offered
as a subprotocol (the selected subprotocol is echoed, as a token authorizer's ``$connect`` must),
``{"action": "ping"}`` answered with ``{"type": "pong"}``, anything else with the ``$default``
route's error frame, a refused handshake (403, what a 401/403 from ``$connect`` or an
authorizer's Deny looks like), and a socket dropped without a closing handshake. A test sends
frames to every open connection as a fan-out would. Runs its own event loop on a thread, so
synchronous tests (Selenium) can drive it.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

T = TypeVar("T")


@dataclass
class Peer:
    """One accepted WebSocket connection, as the fake API sees it."""

    connection: ServerConnection
    path: str
    subprotocol: str | None  # the one the server selected
    offered: list[str]  # what the client offered, in order
    received: list[dict[str, Any]] = field(default_factory=list)

    @property
    def query(self) -> str:
        return urlsplit(self.path).query


class FakeWebSocketApi:
    """The server side of the contract, run on its own event loop thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.peers: list[Peer] = []
        self.refuse = False
        self.refused = 0
        self._lock = threading.Lock()
        self._server: Server | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> FakeWebSocketApi:
        self._thread.start()
        self._server = self._call(
            lambda: serve(
                self._handle,
                "127.0.0.1",
                0,
                process_request=self._process_request,
                select_subprotocol=self._select_subprotocol,
            )
        )
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._call(self._server.wait_closed)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self.loop.close()

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def url(self, query: str = "userId=alice&role=dispatcher") -> str:
        return f"ws://127.0.0.1:{self.port}/prod" + (f"?{query}" if query else "")

    def _call(self, make: Callable[[], Awaitable[T]], timeout: float = 10) -> T:
        """Runs make() on the server's loop (objects bound to a loop are created there)."""

        async def wrapped() -> T:
            return await make()

        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result(timeout)

    # -- server side -------------------------------------------------------------------------
    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if self.refuse:
            # What API Gateway does when $connect answers 401/403 or the authorizer denies.
            self.refused += 1
            return connection.respond(403, "Forbidden\n")
        return None

    @staticmethod
    def _select_subprotocol(
        connection: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        # Select "bearer" when the client offers ["bearer", <jwt>], as the stack's $connect does
        # (never the token): a browser fails a handshake whose answer selects none it offered.
        return Subprotocol("bearer") if "bearer" in offered else None

    async def _handle(self, connection: ServerConnection) -> None:
        assert connection.request is not None  # set once the opening handshake is done
        offered = connection.request.headers.get_all("Sec-WebSocket-Protocol")
        protocols = [p.strip() for value in offered for p in value.split(",") if p.strip()]
        peer = Peer(connection, connection.request.path, connection.subprotocol, protocols)
        with self._lock:
            self.peers.append(peer)
        async for raw in connection:
            try:
                frame = json.loads(raw)
            except ValueError:
                frame = {"unparsed": raw}
            with self._lock:
                peer.received.append(frame)
            if isinstance(frame, dict) and frame.get("action") == "ping":
                await connection.send(json.dumps({"type": "pong"}))
            else:
                await connection.send(
                    json.dumps(
                        {"type": "error", "error": "unknown_action", "message": "no such action"}
                    )
                )

    # -- what a test does --------------------------------------------------------------------
    def live_peers(self) -> list[Peer]:
        with self._lock:
            return [peer for peer in self.peers if peer.connection.state.name == "OPEN"]

    def send(self, frame: dict[str, Any]) -> None:
        """Sends a frame to every open connection (like a fan-out)."""
        data = json.dumps(frame)

        async def send_all() -> None:
            for peer in self.live_peers():
                await peer.connection.send(data)

        self._call(send_all)

    def drop(self) -> None:
        """Drops every connection without a closing handshake (the browser sees 1006)."""

        async def abort_all() -> None:
            for peer in self.live_peers():
                peer.connection.transport.abort()

        self._call(abort_all)
