"""A real WebSocket client for the tests: a thread timestamps every message as it arrives.

``sync()`` sends a sync request (docs/handlers.md) and returns the answer up to its
``sync.complete``; ``subscribe()`` sends a subscription and returns its ``subscribed`` answer.
``incident.part`` frames are kept as they come (joining them is the client's job:
``tools.localenv.listen.PartAssembler``, which ``testing`` may not import).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

MESSAGE_TIMEOUT_S = 20.0  # PutItem -> message at the client (typically well under 1 s)


class WsClient:
    """Connects on creation; ``messages`` holds ``(perf_counter at arrival, parsed JSON)``.

    A batch frame (``{"type": "batch", "messages": [...]}``) is unpacked into its messages, in
    order, each with the frame's arrival time. A message is an incident's when the incident id is
    one of its ``keys`` values: the client needs no table's key schema (``testing`` depends on
    nothing of ``tools``).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        # legacy=True: connect now and return the connection (this client outlives any `with`).
        self.ws: ClientConnection = connect(url, open_timeout=30, close_timeout=5, legacy=True)
        self.messages: list[tuple[float, dict[str, Any]]] = []
        self.closed = threading.Event()
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for raw in self.ws:
                arrived = time.perf_counter()
                frame = json.loads(raw)
                batch = frame["messages"] if frame.get("type") == "batch" else [frame]
                with self._cond:
                    self.messages.extend((arrived, message) for message in batch)
                    self._cond.notify_all()
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()
            with self._cond:
                self._cond.notify_all()

    def for_incident(self, incident_id: str) -> list[tuple[float, dict[str, Any]]]:
        with self._cond:
            return [
                (t, m) for t, m in self.messages if incident_id in (m.get("keys") or {}).values()
            ]

    def wait_messages(
        self, incident_id: str, count: int = 1, timeout: float = MESSAGE_TIMEOUT_S
    ) -> list[tuple[float, dict[str, Any]]]:
        """At least ``count`` distinct messages (by eventId) for the incident, or AssertionError."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = self.for_incident(incident_id)
                if len({m.get("eventId") for _, m in found}) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.closed.is_set():
                    state = "connection closed" if self.closed.is_set() else f"{timeout:.0f} s"
                    raise AssertionError(
                        f"{state}: wanted {count} message(s) for incident {incident_id}, got "
                        f"{len(found)} (client has {len(self.messages)} messages in all)"
                    )
                self._cond.wait(remaining)

    def send(self, message: dict[str, Any]) -> None:
        self.ws.send(json.dumps(message))

    def sync(
        self, timeout: float = MESSAGE_TIMEOUT_S, **request: object
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Sends ``{"action": "sync", **request}``; the messages of the answer and its
        ``sync.complete`` (or the error frame that answered instead), or AssertionError.

        Live messages that arrive meanwhile are among the returned ones, as a client sees them.
        """
        return self._ask(
            {"action": "sync", **request},
            {"sync.complete", "error"},
            f"no sync.complete for {request or 'a full sync'}",
            timeout,
        )

    def subscribe(
        self, subscription: dict[str, list[str]], timeout: float = MESSAGE_TIMEOUT_S
    ) -> dict[str, Any]:
        """Sends ``{"action": "subscribe", "filter": subscription}``; the ``subscribed`` answer
        (or the error frame that answered instead), or AssertionError."""
        _, answer = self._ask(
            {"action": "subscribe", "filter": subscription},
            {"subscribed", "error"},
            f"no subscribed answer for {subscription}",
            timeout,
        )
        return answer

    def _ask(
        self, request: dict[str, Any], answers: set[str], missing: str, timeout: float
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Sends ``request``; the messages that came before the first one whose type is in
        ``answers``, and that one; AssertionError saying ``missing`` when none came in time."""
        with self._cond:
            start = len(self.messages)
        self.send(request)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = [m for _, m in self.messages[start:]]
                for index, message in enumerate(got):
                    if message.get("type") in answers:
                        return got[:index], message
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.closed.is_set():
                    raise AssertionError(
                        f"{missing} within {timeout:.0f} s ({len(got)} messages since the request)"
                    )
                self._cond.wait(remaining)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close()
        self._thread.join(timeout=10)
