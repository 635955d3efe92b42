"""Subscriptions and area-scoped access end to end on the local stack (issue 17).

Real tokens carrying an areas claim (tools.localenv.tokens, what `make token AREAS=...` mints),
real WebSocket clients through the emulator, the $connect authorizer and handler, the subscribe
and sync routes, and the Broadcaster on the Incidents stream.

Each test makes up its own area names (``north-<hex>``, ``harbour-<hex>``): every incident a
client may see in it is one the test wrote, since the other tests' incidents have no ``area``,
which only a ``*`` permission sees. So the sets asserted here are exact over everything a client
received, not only over the test's own incident ids.

Absence is never waited for by sleeping. The Broadcaster reads the stream in order, one batch
after another (the local stack has one shard, and one poller runs the mappings): once a client
has received a marker incident written later, every earlier record's posts to it have been made.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus

from realtime_common.filters import canonical_json
from testing.events import load_event
from tools.localenv import commands
from tools.localenv.resources import INCIDENTS_KEY

pytestmark = pytest.mark.e2e

TIMEOUT_S = 45.0  # a first Lambda invocation (subscribe, sync) on the emulator takes a few seconds


@dataclass(frozen=True)
class Areas:
    """This test's areas; ``common`` is one both test tokens allow, where the markers go."""

    north: str
    harbour: str
    common: str


@pytest.fixture
def areas(stack: Any) -> Areas:
    return Areas(*(stack.new_id(name) for name in ("north", "harbour", "common")))


def write(stack: Any, area: str | None, title: str, incident_id: str | None = None) -> str:
    """A new open incident in ``area`` (None: without one); its id."""
    incident_id = incident_id or stack.new_id("SUB")
    fields = {"urgency": "high", "status": "open", "title": title}
    stack.write_incident(incident_id, **fields, **({"area": area} if area else {}))
    return incident_id


def received(messages: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Incident id -> its messages in arrival order, a redelivered eventId once (clients drop
    repeats); ``subscribed`` and ``sync.complete`` carry no keys and are left out."""
    out: dict[str, list[dict[str, Any]]] = {}
    seen: set[tuple[str, str]] = set()
    for message in messages:
        incident_id = (message.get("keys") or {}).get(INCIDENTS_KEY)
        if incident_id is None or (incident_id, message.get("eventId", "")) in seen:
            continue
        seen.add((incident_id, message.get("eventId", "")))
        out.setdefault(incident_id, []).append(message)
    return out


def live(client: Any) -> dict[str, list[dict[str, Any]]]:
    """What ``client`` has received so far, by incident."""
    return received([message for _, message in list(client.messages)])


def types(answer: list[dict[str, Any]]) -> dict[str, list[str]]:
    """A sync answer as incident id -> the types of its messages."""
    return {i: [m["type"] for m in ms] for i, ms in received(answer).items()}


def subscribed(filter_: dict[str, list[str]], narrowed: bool, areas: list[str]) -> dict[str, Any]:
    """The pinned ``subscribed`` answer (docs/handlers.md, "Subscriptions")."""
    return {
        "version": 1,
        "type": "subscribed",
        "filter": filter_,
        "narrowed": narrowed,
        "areas": sorted(areas),
    }


def test_two_tokens_each_receive_only_their_areas_live_and_on_sync(stack, clients, areas):
    existing = {
        "north": write(stack, areas.north, "existing, north"),
        "harbour": write(stack, areas.harbour, "existing, harbour"),
        "common": write(stack, areas.common, "existing, common"),
        "none": write(stack, None, "existing, no area"),
    }
    for incident_id in existing.values():
        stack.wait_until(
            lambda i=incident_id: stack.state_item(i), TIMEOUT_S, f"the state of {incident_id}"
        )
    north = clients(stack.new_id("north-user"), areas=[areas.north, areas.common])
    harbour = clients(stack.new_id("harbour-user"), areas=[areas.harbour, areas.common])
    everyone = clients(stack.new_id("all-user"))  # no claim: the local stack's default, "*"

    fresh = {
        "north": write(stack, areas.north, "live, north"),
        "harbour": write(stack, areas.harbour, "live, harbour"),
        "none": write(stack, None, "live, no area"),
    }
    marker = write(stack, areas.common, "live, common: written last")
    for client in (north, harbour, everyone):
        client.wait_messages(marker, timeout=TIMEOUT_S)

    assert set(live(north)) == {fresh["north"], marker}
    assert set(live(harbour)) == {fresh["harbour"], marker}
    assert {*fresh.values(), marker} <= set(live(everyone))  # each one was sent to someone
    assert all(m["type"] == "incident.created" for ms in live(north).values() for m in ms)

    north_answer, north_done = north.sync(timeout=TIMEOUT_S)
    harbour_answer, harbour_done = harbour.sync(timeout=TIMEOUT_S)

    snapshot = ["incident.snapshot"]
    assert types(north_answer) == {
        existing["north"]: snapshot,
        existing["common"]: snapshot,
        fresh["north"]: snapshot,
        marker: snapshot,
    }
    assert types(harbour_answer) == {
        existing["harbour"]: snapshot,
        existing["common"]: snapshot,
        fresh["harbour"]: snapshot,
        marker: snapshot,
    }
    for done in (north_done, harbour_done):
        assert done["type"] == "sync.complete" and done["reset"] is True and done["count"] == 4
    assert received(north_answer)[existing["north"]][0]["incident"]["area"] == areas.north


def test_a_north_token_asking_for_harbour_is_narrowed_and_gets_nothing_from_harbour(
    stack, clients, areas
):
    asks_harbour = clients(stack.new_id("north-user"), areas=[areas.north])
    asks_both = clients(stack.new_id("north-user"), areas=[areas.north])
    harbour_crew = clients(stack.new_id("harbour-user"), areas=[areas.harbour])  # the control

    assert asks_harbour.subscribe({"area": [areas.harbour]}, timeout=TIMEOUT_S) == subscribed(
        {"area": []}, narrowed=True, areas=[areas.north]
    )
    assert asks_both.subscribe(
        {"area": [areas.north, areas.harbour]}, timeout=TIMEOUT_S
    ) == subscribed({"area": [areas.north]}, narrowed=True, areas=[areas.north])

    in_harbour = write(stack, areas.harbour, "harbour, asked for by north tokens")
    in_north = write(stack, areas.north, "north, written after the harbour one")
    harbour_crew.wait_messages(in_harbour, timeout=TIMEOUT_S)  # it was sent
    asks_both.wait_messages(in_north, timeout=TIMEOUT_S)
    assert set(live(asks_both)) == {in_north}

    # The one that asked for harbour alone got nothing at all: subscribed to everything its token
    # allows, a north incident written now is the first and only one it receives.
    assert asks_harbour.subscribe({}, timeout=TIMEOUT_S) == subscribed(
        {}, narrowed=False, areas=[areas.north]
    )
    marker = write(stack, areas.north, "north, after the new subscription")
    asks_harbour.wait_messages(marker, timeout=TIMEOUT_S)
    asks_both.wait_messages(marker, timeout=TIMEOUT_S)
    assert set(live(asks_harbour)) == {marker}
    assert set(live(asks_both)) == {in_north, marker}

    # On sync neither kind gets it: not in a full sync, not even asked for by id.
    answer, done = asks_both.sync(timeout=TIMEOUT_S)
    assert types(answer) == {in_north: ["incident.snapshot"], marker: ["incident.snapshot"]}
    assert done["count"] == 2
    answer, done = asks_both.sync(timeout=TIMEOUT_S, incidents=[in_harbour, in_north])
    assert types(answer) == {in_north: ["incident.snapshot"]} and done["count"] == 1

    asks_harbour_again = clients(stack.new_id("north-user"), areas=[areas.north])
    assert asks_harbour_again.subscribe({"area": [areas.harbour]}, timeout=TIMEOUT_S) == (
        subscribed({"area": []}, narrowed=True, areas=[areas.north])
    )
    answer, done = asks_harbour_again.sync(timeout=TIMEOUT_S)
    assert (answer, done["count"], done["reset"]) == ([], 0, True)  # its filter matches nothing
    answer, done = asks_harbour_again.sync(timeout=TIMEOUT_S, incidents=[in_harbour, in_north])
    # The token may see the north one, which its filter does not match: keys only.
    assert types(answer) == {in_north: ["incident.left"]} and done["count"] == 1
    assert "incident" not in answer[0]


def test_an_incident_moved_from_north_to_harbour_leaves_the_north_board(stack, clients, areas):
    north = clients(stack.new_id("north-user"), areas=[areas.north, areas.common])
    harbour = clients(stack.new_id("harbour-user"), areas=[areas.harbour, areas.common])
    moved = write(stack, areas.north, "Fire on the north quay")
    [(_, created)] = north.wait_messages(moved, timeout=TIMEOUT_S)
    assert created["type"] == "incident.created"

    stack.write_incident(moved, area=areas.harbour)  # a MODIFY changing the area
    [(_, arrived)] = harbour.wait_messages(moved, timeout=TIMEOUT_S)
    stack.write_incident(moved, status="escalated")  # a later change, within harbour
    harbour.wait_messages(moved, count=2, timeout=TIMEOUT_S)
    marker = write(stack, areas.common, "common, written after the move")
    for client in (north, harbour):
        client.wait_messages(marker, timeout=TIMEOUT_S)

    # The north board: the creation, then exactly one incident.left (keys and position only).
    assert live(north)[moved] == [
        created,
        {
            "version": 1,
            "type": "incident.left",
            "keys": {INCIDENTS_KEY: moved},
            "eventId": arrived["eventId"],
            "sequence": arrived["sequence"],
        },
    ]
    # The harbour board: never the creation in north; the move as a normal update, then the next.
    assert [m["type"] for m in live(harbour)[moved]] == ["incident.updated", "incident.updated"]
    assert arrived["incident"]["area"] == areas.harbour
    assert arrived["incident"]["title"] == "Fire on the north quay"
    assert live(harbour)[moved][1]["incident"]["status"] == "escalated"
    assert set(live(north)) == set(live(harbour)) == {moved, marker}

    north_answer, _ = north.sync(timeout=TIMEOUT_S)
    harbour_answer, _ = harbour.sync(timeout=TIMEOUT_S)
    assert types(north_answer) == {marker: ["incident.snapshot"]}
    assert types(harbour_answer) == {
        moved: ["incident.snapshot"],
        marker: ["incident.snapshot"],
    }
    [now] = received(harbour_answer)[moved]
    assert (now["incident"]["area"], now["incident"]["status"]) == (areas.harbour, "escalated")


def test_a_filter_given_at_connect_time_holds_from_the_first_record(stack, clients, areas):
    both = [areas.north, areas.harbour]
    user = stack.new_id("connect-filter")
    at_connect = clients(user, areas=both, subscription={"area": [areas.harbour]})
    unfiltered = clients(stack.new_id("no-filter"), areas=both)  # the same token, no filter
    narrowed_user = stack.new_id("connect-narrowed")
    clients(narrowed_user, areas=[areas.north], subscription={"area": [areas.harbour]})

    # No subscribe message: the rows carry the filter from $connect on.
    [row] = stack.connection_rows(user)
    assert row["areas"]["S"] == canonical_json(sorted(both))
    assert row["filter"]["S"] == canonical_json({"area": [areas.harbour]})
    [narrowed_row] = stack.connection_rows(narrowed_user)
    assert narrowed_row["filter"]["S"] == canonical_json({"area": []})

    in_north = write(stack, areas.north, "north, right after connect")
    in_harbour = write(stack, areas.harbour, "harbour, right after connect")
    at_connect.wait_messages(in_harbour, timeout=TIMEOUT_S)
    for incident_id in (in_north, in_harbour):
        unfiltered.wait_messages(incident_id, timeout=TIMEOUT_S)

    assert set(live(at_connect)) == {in_harbour}
    assert set(live(unfiltered)) == {in_north, in_harbour}
    assert [m for _, m in list(at_connect.messages) if m.get("type") == "subscribed"] == []

    answer, done = at_connect.sync(timeout=TIMEOUT_S)
    assert types(answer) == {in_harbour: ["incident.snapshot"]} and done["count"] == 1


# What the emulator answers for a $connect integration that returns non-2xx: it closes the socket
# before accepting it (ministack/services/apigateway.py, handle_websocket: close code 1008), which
# the handshake shows as 403. AWS refuses the connection as well.
EMULATOR_CONNECT_REFUSED = 403


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ({"colour": ["red"]}, "not filterable"),
        ({"area": []}, "filter.area is empty"),
        ({"area": ["north/*"]}, "not patterns"),
    ],
    ids=["unknown field", "empty list", "a pattern"],
)
def test_a_bad_connect_time_filter_refuses_the_connection(stack, bad, why):
    user = stack.new_id("bad-filter")
    with pytest.raises(InvalidStatus) as refused:
        stack.connect(user, "dispatcher", subscription=bad)
    assert refused.value.response.status_code == EMULATOR_CONNECT_REFUSED
    assert stack.connection_rows(user) == []

    # What the connect function answered (AWS's status): 400 and what to send instead.
    event = load_event("connect.json")
    event["requestContext"]["authorizer"] = {"userId": user, "role": "dispatcher", "areas": '["*"]'}
    event["queryStringParameters"] = {"filter": json.dumps(bad)}
    result, _logs = commands.invoke(stack.state, "connect", event)
    assert result["Payload"]["statusCode"] == 400, result
    assert why in result["Payload"]["body"]
    assert stack.connection_rows(user) == []


def test_a_bad_subscribe_is_refused_and_changes_nothing(stack, clients, areas):
    user = stack.new_id("bad-subscribe")
    client = clients(user, areas=[areas.north], subscription={"area": [areas.north]})

    error = client.subscribe({"colour": ["red"]}, timeout=TIMEOUT_S)

    assert error["type"] == "error" and error["code"] == "bad_request"
    assert "not filterable" in error["message"] and "area" in error["message"]
    [row] = stack.connection_rows(user)
    assert json.loads(row["filter"]["S"]) == {"area": [areas.north]}
