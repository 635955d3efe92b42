"""The sync's guarantee as a property (hypothesis): random sequences of changes, removals,
closings, clock jumps, disconnect windows and syncs; a client that applies live messages and sync
answers by sequence (newer wins, equal is a duplicate) and honours ``reset`` holds, after each
``sync.complete``, exactly the server's state for its view.

The server is realtime_common.sync.serve over an in-memory DynamoDB (testing/memory_dynamo.py)
whose items the Broadcaster's own writer builds (testing/state_items.py); the answer's frames are
decoded as a client does (batch frames, parts). Whether the sync runs in a warm execution
environment (one cache for every sync) or a fresh one each time is drawn too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from realtime_common.fanout.views import RoleViews, project
from realtime_common.sync.cache import Prepared, StateCache
from realtime_common.sync.config import SyncConfig
from realtime_common.sync.post import Delivery
from realtime_common.sync.serve import serve
from testing import terraform_defaults
from testing.memory_dynamo import MemoryDynamo
from testing.state_items import incident_keys, state_item

pytestmark = pytest.mark.unit

RETENTION_S = 3600
OVERLAP_MS = 2000
START_MS = 1_800_000_000_000
CONNECTION = "client-1="
IDS = [f"INC-{n}" for n in range(5)]


def config(role_views: str) -> SyncConfig:
    return SyncConfig.from_env(
        {
            "CONNECTIONS_TABLE": "connections",
            "WS_CALLBACK_URL": "https://example.execute-api.us-east-1.amazonaws.com/prod",
            "POST_MAX_ATTEMPTS": "4",
            "ROLE_VIEWS": role_views,
            "STATE_TABLE": "state",
            "STATE_RETENTION_SECONDS": str(RETENTION_S),
            "CLOSED_STATUSES": '["closed"]',
            "SYNC_FULL_INTERVAL_MS": "0",
            "SYNC_CURSOR_OVERLAP_MS": str(OVERLAP_MS),
            "SYNC_POST_RATE": "1000",
        }
    )


def decode(frames: list[bytes]) -> list[dict[str, Any]]:
    """What a client makes of the frames: batches unpacked, parts joined."""
    out: list[dict[str, Any]] = []
    parts: list[str] = []
    for frame in frames:
        message = json.loads(frame)
        if message["type"] == "incident.part":
            parts.append(message["chunk"])
            if message["index"] == message["count"] - 1:
                out.append(json.loads("".join(parts)))
                parts = []
            continue
        out.extend(message["messages"] if message["type"] == "batch" else [message])
    return out


@dataclass
class Client:
    """The client model: per incident key, the newest (sequence, incident or None)."""

    held: dict[str, tuple[int, dict[str, Any] | None]] = field(default_factory=dict)
    cursor: str | None = None

    def apply(self, message: dict[str, Any]) -> None:
        key = json.dumps(message["keys"], sort_keys=True)
        sequence = int(message["sequence"])
        current = self.held.get(key)
        if current is not None and current[0] >= sequence:
            return  # older or a duplicate
        body = None if message["type"] == "incident.removed" else message["incident"]
        self.held[key] = (sequence, body)

    def answer(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        complete = messages[-1]
        assert complete["type"] == "sync.complete"
        if complete["reset"]:
            self.held = {}
        for message in messages[:-1]:
            self.apply(message)
        self.cursor = complete["cursor"]
        return complete

    def visible(self) -> dict[str, dict[str, Any]]:
        return {key: body for key, (_, body) in self.held.items() if body is not None}


operation = st.one_of(
    st.tuples(st.just("change"), st.sampled_from(IDS), st.sampled_from(["open", "escalated"])),
    st.tuples(st.just("close"), st.sampled_from(IDS), st.just("closed")),
    st.tuples(st.just("remove"), st.sampled_from(IDS), st.just("")),
    st.tuples(st.just("tick"), st.integers(1, 4000), st.just("")),
    st.tuples(st.just("jump"), st.integers(1, 2 * RETENTION_S), st.just("")),
    st.tuples(st.just("disconnect"), st.just(""), st.just("")),
    st.tuples(st.just("sync"), st.just(""), st.just("")),
)


@settings(max_examples=120, deadline=None)
@given(
    operations=st.lists(operation, max_size=40),
    role=st.sampled_from(["dispatcher", "viewer"]),
    warm=st.booleans(),
)
def test_a_client_holds_exactly_the_servers_view_after_every_sync(
    operations: list[tuple[str, Any, str]], role: str, warm: bool
) -> None:
    cfg = config(terraform_defaults.ROLE_VIEWS)
    view = RoleViews.parse(terraform_defaults.ROLE_VIEWS).views[role]
    audiences = cfg.views.audiences
    dynamo = MemoryDynamo("state", "connections")
    dynamo.put_connection(
        {
            "pk": {"S": f"CONN#{CONNECTION}"},
            "sk": {"S": "META#"},
            "role": {"S": role},
            "expiresAt": {"N": str(START_MS // 1000 + 10 * RETENTION_S)},
        }
    )
    cache = StateCache(audiences, overlap_ms=OVERLAP_MS, retention_ms=RETENTION_S * 1000)
    now = START_MS
    sequence = 100
    truth: dict[str, tuple[dict[str, Any] | None, int | None]] = {}  # id -> (image, expires s)
    client = Client()
    connected = False

    def live(message: dict[str, Any]) -> None:
        if connected:
            client.apply(message)

    for kind, argument, status in [*operations, ("sync", "", "")]:
        if kind in {"change", "close"}:
            sequence += 1
            image = {
                "incidentId": argument,
                "title": f"t{sequence}",
                "status": status,
                "reportedBy": "someone",
                "version": sequence,
            }
            item = state_item(
                argument, image, sequence=sequence, changed_at_ms=now, retention_seconds=RETENTION_S
            )
            dynamo.put_state(item)
            expires = item.get("expiresAt", {}).get("N")
            truth[argument] = (image, None if expires is None else int(expires))
            live(
                {
                    "type": "incident.updated",
                    "keys": incident_keys(argument),
                    "sequence": str(sequence),
                    "incident": project(image, view),
                }
            )
        elif kind == "remove":
            sequence += 1
            item = state_item(
                argument,
                None,
                sequence=sequence,
                changed_at_ms=now,
                removed=True,
                retention_seconds=RETENTION_S,
            )
            dynamo.put_state(item)
            truth[argument] = (None, int(item["expiresAt"]["N"]))
            live(
                {
                    "type": "incident.removed",
                    "keys": incident_keys(argument),
                    "sequence": str(sequence),
                }
            )
        elif kind in {"tick", "jump"}:
            now += argument if kind == "tick" else argument * 1000
        elif kind == "disconnect":
            connected = False
        else:  # (re)connect, then sync: live messages from now on, then the answer
            connected = True
            posted: list[bytes] = []

            def post(_cid: str, prepared: Prepared) -> Delivery:
                posted.extend(prepared.frames)  # noqa: B023 (used within this iteration)
                return Delivery(len(prepared.frames), "delivered")

            body = (
                {"action": "sync"}
                if client.cursor is None
                else {"action": "sync", "since": client.cursor}
            )
            result = serve(
                json.dumps(body),
                CONNECTION,
                cfg=cfg,
                cache=cache
                if warm
                else StateCache(audiences, overlap_ms=OVERLAP_MS, retention_ms=RETENTION_S * 1000),
                dynamodb=dynamo,
                post=post,
                now_ms=now,
            )
            assert result.status == "answered", result
            client.answer(decode(posted))
            expected = {
                json.dumps(incident_keys(i), sort_keys=True): project(image, view)
                for i, (image, expires) in truth.items()
                if image is not None and (expires is None or expires > now / 1000)
            }
            assert client.visible() == expected
