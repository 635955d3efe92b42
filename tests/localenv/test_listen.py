"""`make listen`: the client model (merge by sequence, reset, buffer, parts) and the sync loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from realtime_common.sync.messages import parts as part_frames
from tools.localenv.listen import IncidentView, Listener, PartAssembler, PartError, describe

pytestmark = pytest.mark.unit


def snapshot(incident_id: str, sequence: str, status: str = "open") -> dict[str, Any]:
    return {
        "version": 1,
        "type": "incident.snapshot",
        "incident": {"incidentId": incident_id, "status": status},
        "keys": {"incidentId": incident_id},
        "eventId": f"{incident_id}-{sequence}",
        "sequence": sequence,
    }


def live(incident_id: str, sequence: str, status: str) -> dict[str, Any]:
    return snapshot(incident_id, sequence, status) | {"type": "incident.updated"}


def removed(incident_id: str, sequence: str) -> dict[str, Any]:
    return {
        "version": 1,
        "type": "incident.removed",
        "keys": {"incidentId": incident_id},
        "eventId": f"{incident_id}-{sequence}",
        "sequence": sequence,
    }


def complete(cursor: str, *, reset: bool, count: int) -> dict[str, Any]:
    return {"version": 1, "type": "sync.complete", "cursor": cursor, "reset": reset, "count": count}


def statuses(view: IncidentView) -> dict[str, str]:
    return {m["incident"]["incidentId"]: m["incident"]["status"] for m in view.incidents.values()}


def test_full_sync_then_a_catch_up_with_changes_creations_and_removals() -> None:
    view = IncidentView()
    assert view.sync_request() == {"action": "sync"}
    for message in (snapshot("INC-1", "10"), snapshot("INC-2", "20")):
        assert view.handle(message) is None
    synced = view.handle(complete("c1", reset=True, count=2))
    assert synced is not None
    assert (synced.kind, synced.reset, synced.count, synced.changes, synced.held) == (
        "full",
        True,
        2,
        2,
        2,
    )
    assert (
        describe(synced, reconnect=False) == "synced: 2 incident(s) in the state; 2 incidents held"
    )

    assert view.sync_request() == {"action": "sync", "since": "c1"}
    view.handle(live("INC-1", "40", "on scene"))  # live, during the sync: waits for the answer
    assert statuses(view)["INC-1"] == "open"
    for message in (
        snapshot("INC-1", "30", "escalated"),
        snapshot("INC-3", "31"),
        removed("INC-2", "32"),
    ):
        view.handle(message)
    synced = view.handle(complete("c2", reset=False, count=3))
    assert synced is not None
    assert statuses(view) == {"INC-1": "on scene", "INC-3": "open"}
    assert synced.changes == 3
    assert describe(synced, reconnect=True) == (
        "reconnected: caught up on 3 changes made meanwhile; 2 incidents held"
    )
    assert view.cursor == "c2"


def test_reset_drops_what_the_answer_does_not_name_but_not_what_came_live() -> None:
    view = IncidentView()
    view.sync_request()
    view.handle(snapshot("INC-1", "10"))
    view.handle(snapshot("INC-2", "20"))
    view.handle(complete("c1", reset=True, count=2))
    view.sync_request()
    view.handle(live("INC-4", "50", "open") | {"type": "incident.created"})
    view.handle(snapshot("INC-1", "10"))  # a duplicate: no change, but named
    synced = view.handle(complete("c9", reset=True, count=1))
    assert synced is not None
    assert statuses(view) == {"INC-1": "open", "INC-4": "open"}
    assert synced.changes == 1  # INC-2 dropped
    assert "reloaded every incident (1 change)" in describe(synced, reconnect=True)


def test_older_and_equal_sequences_do_not_win_and_a_removal_stays_removed() -> None:
    view = IncidentView()
    view.sync_request()
    view.handle(snapshot("INC-1", "100"))
    view.handle(complete("c1", reset=True, count=1))
    view.handle(live("INC-1", "99", "older"))
    view.handle(live("INC-1", "100", "same"))
    assert statuses(view) == {"INC-1": "open"}
    view.handle(removed("INC-1", "101"))
    view.handle(live("INC-1", "100", "zombie"))
    assert view.incidents == {}
    view.handle(live("INC-1", "102", "again") | {"type": "incident.created"})
    assert statuses(view) == {"INC-1": "again"}


def test_parts_join_into_the_whole_message_and_a_broken_set_is_refused() -> None:
    whole = snapshot("INC-9", "90") | {"notes": "é" * 5000}
    frames = [json.loads(f) for f in part_frames(json.dumps(whole).encode(), "p1", 4096)]
    assert len(frames) > 2
    parts = PartAssembler()
    assert [parts.add(f) for f in reversed(frames[1:])] == [None] * (len(frames) - 1)
    assert parts.add(frames[0]) == whole
    parts.add(frames[0])
    with pytest.raises(PartError, match="does not fit"):
        parts.add(frames[0])
    with pytest.raises(PartError, match="not a valid part"):
        parts.add(frames[1] | {"index": 99})


class _Closed(Exception):
    pass


class _Conn:
    """A scripted connection: answers its first sent request, then drops."""

    def __init__(self, answer: Callable[[dict[str, Any]], list[dict[str, Any]]]) -> None:
        self.answer = answer
        self.sent: list[dict[str, Any]] = []

    async def send(self, message: str) -> None:
        self.sent.append(json.loads(message))

    def __aiter__(self) -> AsyncIterator[str]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[str]:
        for frame in self.answer(self.sent[0]):
            yield json.dumps(frame)
        raise _Closed("1006 dropped")


def listen(conns: list[_Conn], slept: list[float], **options: Any) -> tuple[Listener, int, str]:
    """A Listener for alice (dispatcher) on ws://local, each connection the next of `conns`, run
    until it gives up after the second drop (max_reconnects=1); the sleeps it asks for are
    recorded in `slept`. Returns it, its exit status and what it printed."""
    queue: Iterator[_Conn] = iter(conns)

    @contextlib.asynccontextmanager
    async def connect(url: str) -> AsyncIterator[_Conn]:
        assert url == "ws://local"
        yield next(queue)

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    out: list[str] = []
    listener = Listener(
        "ws://local",
        "alice (dispatcher)",
        connect=connect,
        out=out.append,
        sleep=sleep,
        is_closed_error=lambda exc: isinstance(exc, _Closed),
        max_reconnects=1,
        **options,
    )
    status = asyncio.run(listener.run())
    return listener, status, "\n".join(out)


def test_listener_syncs_on_open_and_catches_up_after_a_drop() -> None:
    big = snapshot("INC-3", "31") | {"notes": "x" * 1500}
    conns = [
        _Conn(
            lambda _: [
                snapshot("INC-1", "10"),
                snapshot("INC-2", "20"),
                complete("c1", reset=True, count=2),
            ]
        ),
        _Conn(
            lambda request: [
                {
                    "version": 1,
                    "type": "error",
                    "code": "sync_throttled",
                    "message": "",
                    "retryAfterMs": 1500,
                },
                *[json.loads(f) for f in part_frames(json.dumps(big).encode(), "p2", 1000)],
                removed("INC-2", "32"),
                complete("c2", reset=False, count=2),
            ]
        ),
    ]
    slept: list[float] = []
    listener, status, text = listen(conns, slept)
    assert status == 1  # gave up after the second drop (max_reconnects)
    assert conns[0].sent == [{"action": "sync"}]
    # Throttled: asked again after retryAfterMs, then caught up from the first cursor.
    assert conns[1].sent == [{"action": "sync", "since": "c1"}] * 2
    assert slept[1] == 1.5
    assert "=== synced: 2 incident(s) in the state; 2 incidents held" in text
    assert "=== sync throttled; asked again after 1.5 s" in text
    assert "=== the whole message:" in text
    assert "=== reconnected: caught up on 2 changes made meanwhile; 2 incidents held" in text
    assert statuses(listener.view) == {"INC-1": "open", "INC-3": "open"}


def left(incident_id: str, sequence: str) -> dict[str, Any]:
    return removed(incident_id, sequence) | {"type": "incident.left"}


def test_incident_left_drops_it_like_a_removal_and_a_newer_match_brings_it_back() -> None:
    view = IncidentView()
    view.sync_request()
    view.handle(snapshot("INC-1", "10"))
    view.handle(complete("c1", reset=True, count=1))
    view.handle(left("INC-1", "12"))
    assert statuses(view) == {}
    view.handle(live("INC-1", "11", "open"))  # older than the leave: stays out
    assert statuses(view) == {}
    view.handle(live("INC-1", "14", "moved back"))
    assert statuses(view) == {"INC-1": "moved back"}
    # During a catch-up a leave is applied at once, like a tombstone.
    view.sync_request()
    view.handle(left("INC-1", "15"))
    assert statuses(view) == {}


def test_listener_subscribes_before_every_sync_and_syncs_once_answered() -> None:
    north = {"area": ["north"]}
    subscribed = {
        "version": 1,
        "type": "subscribed",
        "filter": north,
        "narrowed": True,
        "areas": ["north", "harbour/*"],
    }
    refused = {"version": 1, "type": "error", "code": "bad_request", "message": "too many values"}
    conns = [
        _Conn(lambda _: [subscribed, snapshot("INC-1", "10"), complete("c1", reset=True, count=1)]),
        _Conn(lambda _: [refused, left("INC-1", "12"), complete("c2", reset=False, count=1)]),
    ]
    listener, _, text = listen(conns, [], subscription=north)
    assert conns[0].sent == [{"action": "subscribe", "filter": north}, {"action": "sync"}]
    assert conns[1].sent == [
        {"action": "subscribe", "filter": north},
        {"action": "sync", "since": "c1"},
    ]
    assert (
        '=== subscribed: {"area": ["north"]} (narrowed to what the token allows); '
        "the token allows areas: north, harbour/*; syncing"
    ) in text
    assert "=== the filter was refused (too many values); syncing" in text
    assert statuses(listener.view) == {}
