"""``make listen``: print what a client receives, syncing on every open as clients/js does.

The sync contract is in docs/handlers.md (and clients/js/README.md for the client's side): on
every open the listener sends ``{"action": "sync"}`` (the first time) or ``{"action": "sync",
"since": <cursor>}`` (after a reconnect), prints the answer and the live messages as they come,
and after ``sync.complete`` a line saying what it holds and how many changes the sync brought.
:class:`IncidentView` is the client model behind that line (merge by sequence, buffer live
messages until ``sync.complete``, honour ``reset``, removals, parts), the same rules as
clients/js.

With a filter (``make listen FILTER='{"area":["north"]}'``) it subscribes as clients/js does:
the filter in the connect URL (``filter=<JSON>``) and ``{"action": "subscribe", "filter": ...}``
sent on every open before the sync, which waits for the ``subscribed`` answer (or a refusal, then
it syncs anyway). ``incident.left`` drops an incident like a removal.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

LIVE_TYPES = frozenset(
    {"incident.created", "incident.updated", "incident.removed", "incident.left"}
)
# Gone from this connection's view: removed, or no longer matching its filter.
REMOVAL_TYPES = frozenset({"incident.removed", "incident.left"})
# The $connect query parameter carrying the filter (clients/js: FILTER_PARAM).
FILTER_PARAM = "filter"
MAX_PARTS = 64  # a DynamoDB item is at most 400 KB: a handful of 128 KB parts at most
BACKOFF_INITIAL_S = 0.5
BACKOFF_MAX_S = 30.0


class PartError(ValueError):
    """A set of ``incident.part`` frames that cannot make a message."""


@dataclass
class _PartSet:
    count: int
    chunks: dict[int, str] = field(default_factory=dict)


class PartAssembler:
    """Joins ``incident.part`` frames into the whole message (chunks of index 0..count-1)."""

    def __init__(self) -> None:
        self._sets: dict[str, _PartSet] = {}

    def add(self, part: Mapping[str, Any]) -> dict[str, Any] | None:
        """The whole message once its last part is in; None before. PartError on a broken set."""
        part_id, index, count, chunk = (part.get(k) for k in ("partId", "index", "count", "chunk"))
        if not (
            isinstance(part_id, str)
            and isinstance(count, int)
            and 1 <= count <= MAX_PARTS
            and isinstance(index, int)
            and 0 <= index < count
            and isinstance(chunk, str)
        ):
            raise PartError(f"not a valid part: partId={part_id!r} index={index!r} count={count!r}")
        parts = self._sets.setdefault(part_id, _PartSet(count))
        if parts.count != count or index in parts.chunks:
            del self._sets[part_id]
            raise PartError(f"part {index} of {part_id} does not fit the parts before it")
        parts.chunks[index] = chunk
        if len(parts.chunks) < count:
            return None
        del self._sets[part_id]
        try:
            whole: dict[str, Any] = json.loads("".join(parts.chunks[i] for i in range(count)))
        except ValueError as exc:
            raise PartError(f"the {count} parts of {part_id} are not JSON: {exc}") from None
        return whole

    def clear(self) -> None:
        self._sets.clear()


def _key(message: Mapping[str, Any]) -> str | None:
    keys = message.get("keys")
    if isinstance(keys, dict) and keys:
        return json.dumps(keys, sort_keys=True)
    incident = message.get("incident")
    if isinstance(incident, dict) and "incidentId" in incident:
        return json.dumps({"incidentId": incident["incidentId"]})
    return None


def _sequence(message: Mapping[str, Any]) -> int | None:
    text = message.get("sequence")
    return int(text) if isinstance(text, str) and text.isdigit() else None


@dataclass(frozen=True)
class Synced:
    """One completed sync: what ``sync.complete`` said and what it changed here."""

    kind: str  # full | since | incidents
    reset: bool
    count: int
    changes: int
    held: int
    cursor: str | None


@dataclass
class _Sync:
    kind: str
    answered: set[str] = field(default_factory=set)
    buffer: list[dict[str, Any]] = field(default_factory=list)
    changes: int = 0


class IncidentView:
    """The incidents a client holds, by their keys: newer sequence wins, equal is a duplicate."""

    def __init__(self) -> None:
        self.incidents: dict[str, dict[str, Any]] = {}  # key -> the message it came from
        self._sequences: dict[str, int | None] = {}
        self._removed: dict[str, int | None] = {}
        self.cursor: str | None = None
        self._sync: _Sync | None = None

    def sync_request(self, incidents: list[str] | None = None) -> dict[str, Any]:
        """Starts a sync: everything, or since the last cursor, or particular ids."""
        if incidents:
            self._sync = _Sync("incidents")
            return {"action": "sync", "incidents": incidents}
        if self.cursor is None:
            self._sync = _Sync("full")
            return {"action": "sync"}
        self._sync = _Sync("since")
        return {"action": "sync", "since": self.cursor}

    @property
    def syncing(self) -> bool:
        return self._sync is not None

    def abandon(self) -> None:
        """The sync in flight will not complete: apply what it buffered."""
        sync, self._sync = self._sync, None
        for message in sync.buffer if sync else ():
            self._merge(message)

    def handle(self, message: Mapping[str, Any]) -> Synced | None:
        """Applies one message (of a frame, parts joined); a Synced for ``sync.complete``."""
        kind = message.get("type")
        sync = self._sync
        if kind == "sync.complete":
            return self._complete(sync, message) if sync else None
        live = kind in LIVE_TYPES - REMOVAL_TYPES
        if sync is not None and live and sync.kind != "incidents":
            sync.buffer.append(dict(message))
            return None
        if kind == "incident.snapshot" or (kind in REMOVAL_TYPES and sync is not None):
            key = _key(message)
            if sync is not None and key is not None:
                sync.answered.add(key)
            if self._merge(message) and sync is not None:
                sync.changes += 1
            return None
        if kind in LIVE_TYPES:
            self._merge(message)
        return None

    def _merge(self, message: Mapping[str, Any]) -> bool:
        key = _key(message)
        if key is None:
            return False
        sequence = _sequence(message)
        known = [s for s in (self._sequences.get(key), self._removed.get(key)) if s is not None]
        if sequence is not None and known and sequence <= max(known):
            return False
        if message.get("type") in REMOVAL_TYPES:
            self._removed[key] = sequence
            self._sequences.pop(key, None)
            return self.incidents.pop(key, None) is not None
        if message.get("truncated") is True:
            return False  # no body: the id is fetched with a sync by id
        self._removed.pop(key, None)
        self._sequences[key] = sequence
        self.incidents[key] = dict(message)
        return True

    def _complete(self, sync: _Sync, frame: Mapping[str, Any]) -> Synced:
        reset = frame.get("reset") is True and sync.kind != "incidents"
        if sync.kind != "incidents" and isinstance(frame.get("cursor"), str):
            self.cursor = frame["cursor"]
        if reset:
            for key in [k for k in self.incidents if k not in sync.answered]:
                del self.incidents[key]
                self._sequences.pop(key, None)
                sync.changes += 1
        self.abandon()
        count = frame.get("count")
        return Synced(
            kind=sync.kind,
            reset=reset,
            count=count if isinstance(count, int) else len(sync.answered),
            changes=sync.changes,
            held=len(self.incidents),
            cursor=self.cursor,
        )


def describe(synced: Synced, reconnect: bool) -> str:
    """What ``make listen`` prints after a sync.complete (the board says the same)."""
    held = f"{synced.held} incident{'' if synced.held == 1 else 's'} held"
    changes = f"{synced.changes} change{'' if synced.changes == 1 else 's'}"
    if synced.kind == "incidents":
        return f"fetched {synced.count} incident(s) by id; {held}"
    if not reconnect:
        return f"synced: {synced.count} incident(s) in the state; {held}"
    if synced.reset:
        return f"reconnected: reloaded every incident ({changes}); {held}"
    return f"reconnected: caught up on {changes} made meanwhile; {held}"


def describe_subscription(frame: Mapping[str, Any]) -> str:
    """What ``make listen`` prints for the answer to its subscribe."""
    if frame.get("type") == "subscribed":
        areas = frame.get("areas")
        allowed = ", ".join(areas) if isinstance(areas, list) and areas else "none"
        narrowed = " (narrowed to what the token allows)" if frame.get("narrowed") is True else ""
        effective = json.dumps(frame.get("filter"), sort_keys=True)
        return f"subscribed: {effective}{narrowed}; the token allows areas: {allowed}"
    if frame.get("error") == "unknown_action":
        return "this stack has no subscribe route: every incident the token allows comes"
    return f"the filter was refused ({frame.get('message') or frame.get('code')})"


class Connection(Protocol):
    """What the listener needs of a client connection (websockets' ClientConnection)."""

    async def send(self, message: str) -> None: ...

    def __aiter__(self) -> AsyncIterator[str | bytes]: ...


Connect = Callable[[str], AbstractAsyncContextManager[Any]]


class Refused(Exception):
    """The server refused the handshake (``$connect`` said no)."""


@dataclass
class Listener:
    """Prints every frame, syncs on every open and reconnects after a drop."""

    url: str
    label: str
    connect: Connect
    out: Callable[[str], None]
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    is_closed_error: Callable[[BaseException], bool] = lambda _: False
    max_reconnects: int | None = None  # None: until stopped
    subscription: dict[str, list[str]] | None = None  # the filter to subscribe to on every open
    view: IncidentView = field(default_factory=IncidentView)
    parts: PartAssembler = field(default_factory=PartAssembler)
    _subscribing: bool = field(default=False, init=False)  # the sync waits for the answer

    async def run(self) -> int:
        opened = 0
        failures = 0
        while True:
            try:
                async with self.connect(self.url) as ws:
                    failures = 0
                    self.out(
                        f"{'re' if opened else ''}connected as {self.label}; syncing, then "
                        "waiting for messages (Ctrl-C to stop)"
                    )
                    await self._session(ws, reconnect=opened > 0)
                    self.out("connection closed by the server")
                    opened += 1
            except Refused:
                return 1
            except Exception as exc:
                if not self.is_closed_error(exc):
                    raise
                self.out(f"connection closed by the server ({exc})")
                opened += 1
            self.view.abandon()
            self.parts.clear()
            if self.max_reconnects is not None and opened > self.max_reconnects:
                return 1
            failures += 1
            cap = min(BACKOFF_MAX_S, BACKOFF_INITIAL_S * 2 ** (failures - 1))
            delay = cap / 2 + random.random() * cap / 2  # noqa: S311 - jitter, not a secret
            self.out(f"reconnecting in {delay:.1f} s")
            await self.sleep(delay)

    async def _session(self, ws: Connection, *, reconnect: bool) -> None:
        # The subscription first: the sync waits for its answer, so it is answered for it.
        self._subscribing = self.subscription is not None
        if self.subscription is not None:
            await ws.send(json.dumps({"action": "subscribe", "filter": self.subscription}))
        else:
            await ws.send(json.dumps(self.view.sync_request()))
        async for raw in ws:
            stamp = datetime.now(UTC).strftime("%H:%M:%S.%f")[:-3]
            try:
                frame = json.loads(raw)
            except ValueError:
                text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
                self.out(f"--- {stamp} ---\n{text}")
                continue
            self.out(f"--- {stamp} ---\n{json.dumps(frame, indent=2, sort_keys=True)}")
            for line in await self._handle(ws, frame, reconnect):
                self.out(line)

    async def _handle(self, ws: Connection, frame: object, reconnect: bool) -> list[str]:
        if not isinstance(frame, dict):
            return []
        if frame.get("type") == "incident.part":
            return await self._part(ws, frame, reconnect)
        if self._subscribing and frame.get("type") in ("subscribed", "error"):
            return await self._subscription_answer(ws, frame)
        if frame.get("type") == "error" and self.view.syncing:
            return await self._sync_error(ws, frame)
        lines = []
        messages = frame.get("messages") if frame.get("type") == "batch" else [frame]
        for message in messages if isinstance(messages, list) else []:
            if not isinstance(message, dict):
                continue
            synced = self.view.handle(message)
            if synced is not None:
                lines.append(f"=== {describe(synced, reconnect)}")
        return lines

    async def _part(self, ws: Connection, frame: Mapping[str, Any], reconnect: bool) -> list[str]:
        try:
            whole = self.parts.add(frame)
        except PartError as exc:
            return [f"!!! {exc}"]
        if whole is None:
            return [f"(part {frame['index'] + 1} of {frame['count']})"]
        return [
            "=== the whole message:",
            json.dumps(whole, indent=2, sort_keys=True),
            *await self._handle(ws, whole, reconnect),
        ]

    async def _subscription_answer(self, ws: Connection, frame: Mapping[str, Any]) -> list[str]:
        """``subscribed`` or a refusal: either way the sync the connection owes goes now."""
        self._subscribing = False
        await ws.send(json.dumps(self.view.sync_request()))
        return [f"=== {describe_subscription(frame)}; syncing"]

    async def _sync_error(self, ws: Connection, frame: Mapping[str, Any]) -> list[str]:
        self.view.abandon()
        if frame.get("code") == "sync_throttled":
            wait_ms = frame.get("retryAfterMs")
            wait_s = wait_ms / 1000 if isinstance(wait_ms, int | float) else 5.0
            await self.sleep(wait_s)
            await ws.send(json.dumps(self.view.sync_request()))
            return [f"=== sync throttled; asked again after {wait_s:.1f} s"]
        if frame.get("error") == "unknown_action":
            return ["=== this stack has no sync route: live messages only"]
        return [f"=== the sync was refused ({frame.get('code') or frame.get('error')})"]
