"""A fake of the API Gateway WebSocket API's client side, on 127.0.0.1, for client tests.

Plays what a browser sees of the real thing: the identity in the query string or a token offered
as a subprotocol (the selected subprotocol is echoed, as a token authorizer's ``$connect`` must),
``{"action": "ping"}`` answered with ``{"type": "pong"}``, anything else with the ``$default``
route's error frame, a refused handshake (403, what a 401/403 from ``$connect`` or an
authorizer's Deny looks like), and a socket dropped without a closing handshake. A test sends
frames to every open connection as a fan-out would. Runs its own event loop on a thread, so
synchronous tests (Selenium) can drive it.

It also holds incident state and answers ``{"action": "sync"}`` as the sync route does
(docs/handlers.md): ``put`` and ``remove`` change the state and, like the Broadcaster (which
writes the state before it fans out), post the live message to every open connection; a sync is
answered with ``incident.snapshot`` / ``incident.removed`` messages packed into batch frames of at
most 128 KB, an incident too large for one frame in ``incident.part`` frames, then
``sync.complete`` with a cursor, all made by the sync route's own modules
(``realtime_common.sync.request`` and ``.messages``). A cursor it cannot read, or one
older than ``expire_cursors()``, gets the full state and ``reset: true``; malformed requests get
``bad_request``; ``throttle_syncs`` answers the next syncs with ``sync_throttled``.

Subscriptions (docs/handlers.md, "Subscriptions"), with the stack's own filter model
(``realtime_common.filters``) and its default settings (``testing.terraform_defaults.FILTERS``):
each connection has a permission, the ``areas`` of its connect query string written as a token's
claim would be (as the ``$connect`` handler reads a dev query identity; without it the default
areas; unreadable: 401), and a filter, from the ``filter`` query parameter (a bad one: 400) or a
``{"action": "subscribe"}`` message (answered ``subscribed`` with the effective filter, or
``bad_request``). A sync answers only the incidents the connection's effective filter matches;
``put`` and ``remove`` post only to the connections they match, and ``incident.left`` to those
whose filter matched the incident before the change and not after.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from realtime_common import filters
from realtime_common.fanout.frames import MAX_PAYLOAD_BYTES
from realtime_common.sync import messages
from realtime_common.sync.request import BadRequest, Kind, SyncRequest, parse
from testing import terraform_defaults

T = TypeVar("T")

_CURSOR = re.compile(r"^v1:(\d{1,18})$")
# Sequences of the state the fake holds: above those the browser tests make up for live frames.
_FIRST_SEQUENCE = 500_000_000_000_000_000_000
# The message a connection gets when an incident stops matching its filter.
LEFT = "incident.left"


@dataclass
class IncidentState:
    """One incident as the state table holds it (``incident`` None: a tombstone)."""

    keys: dict[str, Any]
    incident: dict[str, Any] | None
    sequence: str
    event_id: str
    version: int  # the fake's change counter when it was written: what cursors compare with
    last: dict[str, Any] | None = None  # a tombstone's image before the removal

    def image(self) -> dict[str, Any] | None:
        """What a filter is matched against: the incident, or what it was before its removal."""
        return self.incident if self.incident is not None else self.last


@dataclass
class Peer:
    """One accepted WebSocket connection, as the fake API sees it."""

    connection: ServerConnection
    path: str
    subprotocol: str | None  # the one the server selected
    offered: list[str]  # what the client offered, in order
    areas: filters.Permission  # what its identity may see
    asked: filters.Filter = field(default_factory=filters.Filter)  # stored effective filter
    received: list[dict[str, Any]] = field(default_factory=list)

    @property
    def effective(self) -> filters.Effective:
        return filters.effective(self.asked, self.areas)

    def sees(self, image: Mapping[str, Any] | None) -> bool:
        """Whether an incident (None: unknown) belongs to this connection's subscription."""
        return image is not None and filters.matches(self.effective, image)

    @property
    def query(self) -> str:
        return urlsplit(self.path).query


class FakeWebSocketApi:
    """The server side of the contract, run on its own event loop thread."""

    def __init__(self, subscriptions: Mapping[str, str] = terraform_defaults.FILTERS) -> None:
        # The subscription settings: the environment Terraform gives $connect by default.
        self.filter_settings = filters.FilterSettings.from_env(subscriptions)
        self.default_areas = filters.default_areas(subscriptions)
        self._handshakes: dict[int, tuple[filters.Permission, filters.Filter]] = {}
        self.loop = asyncio.new_event_loop()
        self.peers: list[Peer] = []
        self.refuse = False
        self.refused = 0
        self.state: dict[str, IncidentState] = {}
        self.max_frame_bytes = MAX_PAYLOAD_BYTES
        self._version = 0
        self._oldest_cursor = 0  # cursors below this are "older than the retention"
        self._sequences = itertools.count(_FIRST_SEQUENCE)
        self._throttle: list[int] = []  # retryAfterMs for each of the next syncs to refuse
        self._gate: threading.Event | None = None  # while unset, sync answers wait
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
        if self._gate is not None:
            self._gate.set()
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
        query = parse_qs(urlsplit(request.path).query)
        try:
            areas = filters.parse_areas_claim(
                query["areas"][0] if "areas" in query else None,
                default=self.default_areas,
                max_bytes=self.filter_settings.limits.areas_max_bytes,
            )
        except filters.ClaimError:
            self.refused += 1
            return connection.respond(401, "Unauthorized\n")
        try:
            asked = (
                filters.parse_filter_text(query["filter"][0], self.filter_settings)
                if "filter" in query
                else filters.Filter()
            )
        except filters.FilterError as bad:
            self.refused += 1
            return connection.respond(400, f"Bad request: {bad}\n")
        self._handshakes[id(connection)] = (areas, filters.effective(asked, areas).filter)
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
        areas, asked = self._handshakes.pop(id(connection))
        peer = Peer(
            connection, connection.request.path, connection.subprotocol, protocols, areas, asked
        )
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
            elif isinstance(frame, dict) and frame.get("action") == "sync":
                gate = self._gate
                while gate is not None and not gate.is_set():
                    await asyncio.sleep(0.02)
                for data in self._answer_sync(raw, peer):
                    await connection.send(data.decode())
            elif isinstance(frame, dict) and frame.get("action") == "subscribe":
                await connection.send(self._subscribe(peer, frame).decode())
            else:
                await connection.send(
                    json.dumps(
                        {"type": "error", "error": "unknown_action", "message": "no such action"}
                    )
                )

    # -- the subscribe route -----------------------------------------------------------------
    def _subscribe(self, peer: Peer, frame: Mapping[str, Any]) -> bytes:
        """Stores the effective filter and answers ``subscribed``, or ``bad_request``."""
        try:
            asked = filters.parse_filter(frame.get("filter"), self.filter_settings)
        except filters.FilterError as bad:
            return messages.error("bad_request", str(bad))
        effective = filters.effective(asked, peer.areas)
        with self._lock:
            peer.asked = effective.filter
        return messages.encode(effective.subscribed_message())

    # -- the sync route ----------------------------------------------------------------------
    def _answer_sync(self, body: str | bytes, peer: Peer) -> list[bytes]:
        """The frames answering one sync request, made by the sync route's own modules
        (request parsing, messages, batch frames and parts: realtime_common.sync)."""
        try:
            request = parse(body)
        except BadRequest as exc:
            return [messages.error("bad_request", str(exc))]
        with self._lock:
            if self._throttle and request.kind is not Kind.IDS:
                retry_after_ms = self._throttle.pop(0)
                reason = "one full sync per connection per few seconds"
                return [messages.error("sync_throttled", reason, retry_after_ms)]
            selected, reset = self._select(request)
            # Only what the connection's subscription matches (a tombstone: by its last image).
            items = [item for item in selected if peer.sees(item.image())]
            # A fetch by id is no position in the change feed: its cursor is empty, as the
            # route's (the client keeps the cursor of its last full or since sync).
            cursor = "" if request.kind is Kind.IDS else f"v1:{self._version}"
        encoded = [messages.encode(state_message(item)) for item in items]
        part_ids = [uuid.uuid4().hex for _ in encoded]
        return [
            *messages.frames(encoded, part_ids, self.max_frame_bytes),
            messages.complete(cursor, reset=reset, count=len(encoded)),
        ]

    def _select(self, request: SyncRequest) -> tuple[list[IncidentState], bool]:
        if request.kind is Kind.IDS:
            return [self.state[i] for i in request.ids if i in self.state], False
        match = _CURSOR.match(request.since or "")
        if match and int(match.group(1)) >= self._oldest_cursor:
            since = int(match.group(1))
            return [item for item in self.state.values() if item.version > since], False
        # Everything (no cursor, an unreadable one, or one older than the retention): the
        # incidents that exist; tombstones are not needed when the answer resets.
        return [item for item in self.state.values() if item.incident is not None], True

    # -- what a test does --------------------------------------------------------------------
    def put(self, incident_id: str, *, live: bool = True, **attributes: object) -> dict[str, Any]:
        """Creates or replaces an incident in the state; unless not live, posts the change to the
        connections it matches and ``incident.left`` to those it matched before and no longer."""
        with self._lock:
            previous = self.state.get(incident_id)
            item = self._write(incident_id, {"incidentId": incident_id, **attributes})
        old = previous.incident if previous is not None else None
        message = state_message(item) | {
            "type": "incident.updated" if old is not None else "incident.created"
        }
        if live:
            left = left_message(item)

            def frame_for(peer: Peer) -> dict[str, Any] | None:
                if peer.sees(item.incident):
                    return message
                return left if peer.sees(old) else None

            self._post(frame_for)
        return message

    def remove(self, incident_id: str, *, live: bool = True) -> dict[str, Any]:
        """Removes an incident (a tombstone); posts ``incident.removed`` to the connections it
        matched, unless not live."""
        with self._lock:
            previous = self.state.get(incident_id)
            item = self._write(incident_id, None)
            item.last = previous.image() if previous is not None else None
        message = state_message(item)
        if live:
            self._post(lambda peer: message if peer.sees(item.last) else None)
        return message

    def _write(self, incident_id: str, incident: dict[str, Any] | None) -> IncidentState:
        self._version += 1
        sequence = str(next(self._sequences))
        item = IncidentState(
            keys={"incidentId": incident_id},
            incident=incident,
            sequence=sequence,
            event_id=f"{incident_id}-{sequence}",
            version=self._version,
        )
        self.state[incident_id] = item
        return item

    def expire_cursors(self) -> None:
        """Every cursor handed out so far is now older than the retention (the next gets reset)."""
        with self._lock:
            self._version += 1
            self._oldest_cursor = self._version

    def hold_syncs(self) -> threading.Event:
        """Sync answers wait (read from the state when they go) until the returned event is set."""
        gate = threading.Event()
        self._gate = gate
        return gate

    def throttle_syncs(self, count: int, retry_after_ms: int) -> None:
        """Answers the next ``count`` full or catch-up syncs with ``sync_throttled``."""
        with self._lock:
            self._throttle.extend([retry_after_ms] * count)

    def syncs(self, peer: Peer) -> list[dict[str, Any]]:
        """The sync requests a connection sent, in order."""
        with self._lock:
            return [f for f in peer.received if isinstance(f, dict) and f.get("action") == "sync"]

    def live_peers(self) -> list[Peer]:
        with self._lock:
            return [peer for peer in self.peers if peer.connection.state.name == "OPEN"]

    def send(self, frame: dict[str, Any]) -> None:
        """Sends a frame to every open connection, whatever its filter (a test's own frame)."""
        self._post(lambda _: frame)

    def _post(self, frame_for: Callable[[Peer], dict[str, Any] | None]) -> None:
        """Sends each open connection its frame (None: nothing), like a fan-out."""

        async def send_all() -> None:
            for peer in self.live_peers():
                frame = frame_for(peer)
                if frame is not None:
                    await peer.connection.send(json.dumps(frame))

        self._call(send_all)

    def drop(self) -> None:
        """Drops every connection without a closing handshake (the browser sees 1006)."""

        async def abort_all() -> None:
            for peer in self.live_peers():
                peer.connection.transport.abort()

        self._call(abort_all)


def left_message(item: IncidentState) -> dict[str, Any]:
    """``incident.left``: the envelope of the change, no incident."""
    base = {"version": 1, "keys": item.keys, "eventId": item.event_id, "sequence": item.sequence}
    return {"type": LEFT, **base}


def state_message(item: IncidentState) -> dict[str, Any]:
    """The sync answer's message for a state item: a snapshot, or ``incident.removed``."""
    base = {"version": 1, "keys": item.keys, "eventId": item.event_id, "sequence": item.sequence}
    if item.incident is None:
        return {"type": messages.REMOVED, **base}
    return {"type": messages.SNAPSHOT, "incident": item.incident, **base}
