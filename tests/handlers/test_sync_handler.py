"""sync.handler against moto (the Connections and state tables) and the fake management API on
127.0.0.1 (the answer is posted over the fan-out's wire client): full, since and incidents
syncs, cursors that reset, the throttle, role views, a connection without a row or a view,
malformed requests, frame sizes and an oversize incident in parts."""

from __future__ import annotations

import copy
import itertools
import json
import time
from typing import Any

import boto3
import pytest

import sync
from realtime_common.config import ConfigError
from realtime_common.connections import connection_key
from realtime_common.fanout.frames import MAX_PAYLOAD_BYTES
from realtime_common.sync import cursor
from realtime_common.sync.post import IN_FLIGHT
from testing import terraform_defaults
from testing.connections import add_connection
from testing.events import load_event
from testing.fake_management_api import FakeManagementApi
from testing.state_items import state_item, sync_id

pytestmark = pytest.mark.handler

EVENT = load_event("sync.json")
CONNECTION = EVENT["requestContext"]["connectionId"]
STATE_TABLE = "realtime-state"  # the handlers' conftest creates it (state_table)
OVERLAP_MS = 1000
INTERVAL_MS = 5000


@pytest.fixture
def env(posting_env: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """sync's settings besides ``posting_env`` (its tables, the fake management API)."""
    for name, value in {
        "SYNC_FULL_INTERVAL_MS": str(INTERVAL_MS),
        "SYNC_CURSOR_OVERLAP_MS": str(OVERLAP_MS),
        "SYNC_POST_RATE": "1000",
        # What Terraform sets from its fanout and role_views variables (their defaults).
        "POST_MAX_ATTEMPTS": terraform_defaults.BROADCASTER["POST_MAX_ATTEMPTS"],
        "ROLE_VIEWS": terraform_defaults.ROLE_VIEWS,
        "DEFAULT_AREAS": terraform_defaults.FILTERS["DEFAULT_AREAS"],
    }.items():
        monkeypatch.setenv(name, value)
    return posting_env


def now_ms() -> int:
    return int(time.time() * 1000)


def connect(table: Any, connection_id: str = CONNECTION, role: str = "dispatcher", **extra: Any):
    add_connection(table, connection_id, role=role, user="user-42", **extra)


def incident(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "pk": f"INCIDENT#INC-{n}",
        "sk": "META",
        "incidentId": f"INC-{n}",
        "title": f"Incident {n}",
        "status": "open",
        "urgency": "high",
        "reportedBy": "caller-555-0100",
        "location": {"lat": "40.4168", "lon": "-3.7038"},
        "units": ["AMB-3"],
        **extra,
    }


def store(n: int, sequence: int, at_ms: int | None = None, **kwargs: Any) -> None:
    image = kwargs.pop("image", incident(n))
    boto3.client("dynamodb").put_item(
        TableName=STATE_TABLE,
        Item=state_item(
            f"INC-{n}",
            image,
            sequence=sequence,
            changed_at_ms=now_ms() - 60_000 if at_ms is None else at_ms,
            **kwargs,
        ),
    )


def store_large(count: int) -> None:
    """``count`` incidents of about 2.7 KB each (150: about 400 KB, four batch frames)."""
    for n in range(count):
        store(n, sequence=1000 + n, image=incident(n, notes="n" * 2500))


def send(context: Any, body: Any, connection_id: str = CONNECTION, **authorizer: Any) -> None:
    event = copy.deepcopy(EVENT)
    event["requestContext"]["connectionId"] = connection_id
    event["requestContext"]["authorizer"].update(authorizer)
    event["body"] = body if isinstance(body, str) else json.dumps(body)
    assert sync.handler(event, context) == {"statusCode": 200}


def frames(api: FakeManagementApi, connection_id: str = CONNECTION) -> list[dict[str, Any]]:
    out = []
    for post in api.posts_to(connection_id):
        assert post.status == 200, post
        assert len(post.body) <= MAX_PAYLOAD_BYTES
        out.append(json.loads(post.body))
    api.reset()
    return out


def messages(api: FakeManagementApi, connection_id: str = CONNECTION) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for frame in frames(api, connection_id):
        out.extend(frame["messages"] if frame["type"] == "batch" else [frame])
    return out


def answer(api: FakeManagementApi) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The incidents (by incidentId, or keys' pk for removals) and the sync.complete."""
    received = messages(api)
    complete = received[-1]
    assert complete["type"] == "sync.complete", received
    assert [m["type"] for m in received[:-1] if m["type"] == "sync.complete"] == []
    incidents = {}
    for message in received[:-1]:
        assert message["version"] == 1
        key = message["keys"]["pk"]
        incidents[key] = message
    assert complete["count"] == len(received) - 1
    return incidents, complete


# ---------------------------------------------------------------------------------------------
def test_full_sync_sends_every_live_incident_then_complete(env: Any, context: Any, api: Any):
    connect(env)
    for n in (1, 2, 3):
        store(n, sequence=100 + n)
    store(4, sequence=104, removed=True)
    # Closed more than the retention ago: expired, though TTL has not deleted it yet.
    store(5, sequence=105, image=incident(5, status="closed"), at_ms=now_ms() - 86_401_000)

    send(context, {"action": "sync"})

    incidents, complete = answer(api)
    assert sorted(incidents) == ["INCIDENT#INC-1", "INCIDENT#INC-2", "INCIDENT#INC-3"]
    one = incidents["INCIDENT#INC-1"]
    assert one == {
        "version": 1,
        "type": "incident.snapshot",
        "incident": incident(1) | {"location": {"lat": "40.4168", "lon": "-3.7038"}},
        "keys": {"pk": "INCIDENT#INC-1", "sk": "META"},
        "eventId": "ev-INC-1-101",
        "sequence": "101",
    }
    assert complete["reset"] is True and complete["count"] == 3
    assert abs(cursor.decode(complete["cursor"]) - now_ms()) < 5000


def test_since_sync_brings_exactly_what_changed(env: Any, context: Any, api: Any) -> None:
    connect(env)
    for n in (1, 2, 3):
        store(n, sequence=100 + n)
    send(context, {"action": "sync"})
    _, first = answer(api)
    time.sleep(INTERVAL_MS / 1000 * 0)  # a since sync is not throttled

    later = now_ms()
    store(1, sequence=201, at_ms=later, image=incident(1, status="escalated"))
    store(2, sequence=202, at_ms=later, removed=True)
    store(9, sequence=209, at_ms=later)
    store(3, sequence=99, at_ms=later)  # an older record never wins

    send(context, {"action": "sync", "since": first["cursor"]})

    incidents, complete = answer(api)
    assert sorted(incidents) == ["INCIDENT#INC-1", "INCIDENT#INC-2", "INCIDENT#INC-9"]
    assert incidents["INCIDENT#INC-1"]["incident"]["status"] == "escalated"
    assert incidents["INCIDENT#INC-2"] == {
        "version": 1,
        "type": "incident.removed",
        "keys": {"pk": "INCIDENT#INC-2", "sk": "META"},
        "eventId": "ev-INC-2-202",
        "sequence": "202",
    }
    assert incidents["INCIDENT#INC-9"]["type"] == "incident.snapshot"
    assert complete["reset"] is False and complete["count"] == 3
    assert cursor.decode(complete["cursor"]) >= cursor.decode(first["cursor"])


def test_incidents_sync_answers_those_ids(env: Any, context: Any, api: Any) -> None:
    connect(env)
    store(1, sequence=101)
    store(2, sequence=102, removed=True)
    store(3, sequence=103)
    ids = [sync_id("INC-1"), sync_id("INC-2"), sync_id("INC-404")]

    send(context, {"action": "sync", "incidents": ids})

    incidents, complete = answer(api)
    assert {k: m["type"] for k, m in incidents.items()} == {
        "INCIDENT#INC-1": "incident.snapshot",
        "INCIDENT#INC-2": "incident.removed",
    }
    assert complete == {
        "version": 1,
        "type": "sync.complete",
        "cursor": "",
        "reset": False,
        "count": 2,
    }


@pytest.mark.parametrize(
    "since",
    [
        cursor.encode(int(time.time() * 1000) - 86_400_000 - 10),  # older than the retention
        cursor.encode(int(time.time() * 1000) + 3_600_000),  # from the future
        "!!not a cursor!!",
        "",
        "eyJ2Ijo5LCJ0IjoxfQ",  # {"v":9,"t":1}: a version this server does not know
    ],
    ids=["expired", "future", "garbage", "empty", "unknown-version"],
)
def test_unusable_cursor_gets_the_full_state_with_reset(
    env: Any, context: Any, api: Any, since: str
) -> None:
    connect(env)
    store(1, sequence=101)
    store(2, sequence=102)

    send(context, {"action": "sync", "since": since})

    incidents, complete = answer(api)
    assert sorted(incidents) == ["INCIDENT#INC-1", "INCIDENT#INC-2"]
    assert complete["reset"] is True and complete["count"] == 2


def test_a_second_full_sync_within_the_interval_is_throttled(
    env: Any, context: Any, api: Any
) -> None:
    connect(env)
    store(1, sequence=101)
    send(context, {"action": "sync"})
    _, first = answer(api)

    send(context, {"action": "sync"})
    (error,) = messages(api)
    assert error["type"] == "error" and error["code"] == "sync_throttled"
    assert 0 < error["retryAfterMs"] <= INTERVAL_MS
    assert error["message"]
    # A garbage cursor is a full sync too; a since sync is not throttled.
    send(context, {"action": "sync", "since": "garbage"})
    assert messages(api)[0]["code"] == "sync_throttled"
    send(context, {"action": "sync", "since": first["cursor"]})
    _, complete = answer(api)
    assert complete["reset"] is False
    # Each connection has its own interval.
    connect(env, "other-conn=")
    send(context, {"action": "sync"}, connection_id="other-conn=")
    assert messages(api, "other-conn=")[-1]["type"] == "sync.complete"


def test_roles_get_their_view_and_a_viewer_no_hidden_field(env: Any, context: Any, api: Any):
    connect(env, "dispatcher-1=", role="dispatcher")
    connect(env, "viewer-1=", role="viewer")
    store(1, sequence=101, image=incident(1, casualties=2, area="north"))

    send(context, {"action": "sync"}, connection_id="dispatcher-1=")
    send(context, {"action": "sync"}, connection_id="viewer-1=")

    seen = [p.body for p in api.posts_to("viewer-1=")]
    dispatcher = messages(api, "dispatcher-1=")[0]  # its frame also carries the sync.complete
    viewer = json.loads(seen[0])["messages"][0]
    assert dispatcher["incident"]["reportedBy"] == "caller-555-0100"
    viewer_attributes = json.loads(terraform_defaults.ROLE_VIEWS)["viewer"]["attributes"]
    assert set(viewer["incident"]) == set(viewer_attributes) & set(dispatcher["incident"])
    raw = b"".join(seen)
    for hidden in (b"reportedBy", b"caller-555", b"location", b"40.4168", b"units", b"AMB-3"):
        assert hidden not in raw
    assert b"casualties" not in raw


def test_role_comes_from_the_row_not_the_authorizer_context(env: Any, context: Any, api: Any):
    connect(env, role="viewer")
    store(1, sequence=101)

    send(context, {"action": "sync"}, role="dispatcher", userId="someone-else")

    incidents, _ = answer(api)
    assert "reportedBy" not in incidents["INCIDENT#INC-1"]["incident"]


def test_role_without_a_view_gets_nothing(env: Any, context: Any, api: Any) -> None:
    connect(env, role="auditor")
    store(1, sequence=101)
    send(context, {"action": "sync"})
    assert api.posts == []


@pytest.mark.parametrize("row", ["missing", "expired"])
def test_connection_whose_row_is_gone_gets_nothing(
    env: Any, context: Any, api: Any, row: str
) -> None:
    if row == "expired":
        connect(env, expiresAt=int(time.time()) - 1)
    store(1, sequence=101)
    send(context, {"action": "sync"})
    send(context, {"action": "sync", "since": cursor.encode(now_ms())})
    assert api.posts == []
    assert "lastFullSyncAt" not in (
        env.get_item(Key={"pk": f"CONN#{CONNECTION}", "sk": "META#"}).get("Item") or {}
    )


MALFORMED = [
    {"action": "sync", "since": 12},
    {"action": "sync", "since": None},
    {"action": "sync", "incidents": "INC-1"},
    {"action": "sync", "incidents": []},
    {"action": "sync", "incidents": [1, 2]},
    {"action": "sync", "incidents": [""]},
    {"action": "sync", "incidents": [f"INC-{n}" for n in range(101)]},
    {"action": "sync", "incidents": ["x" * 513]},
    {"action": "sync", "since": "x", "incidents": ["INC-1"]},
    {"action": "sync", "everything": True},
    {"action": "sync", "since": "c" * 600},
    ["sync"],
    "not json",
    {"action": "sync", "pad": "x" * 70_000},
]


def test_malformed_requests_get_bad_request_and_cost_nothing(
    env: Any, context: Any, api: Any
) -> None:
    connect(env)
    store(1, sequence=101)

    for body in MALFORMED:
        send(context, body)
        (error,) = messages(api)
        assert error["type"] == "error" and error["code"] == "bad_request", body
        assert error["message"] and "retryAfterMs" not in error
    # The connection stays usable: the next full sync is not throttled.
    send(context, {"action": "sync"})
    _, complete = answer(api)
    assert complete["reset"] is True


def test_a_large_answer_stays_under_128_kb_goes_side_by_side_and_sync_complete_last(
    env: Any, context: Any, api: Any
) -> None:
    connect(env)
    store_large(150)
    api.latency = 0.05

    send(context, {"action": "sync"})

    posted = api.posts_to(CONNECTION)
    assert all(len(p.body) <= MAX_PAYLOAD_BYTES for p in posted)
    *body, tail = sorted(posted, key=lambda p: p.started)
    assert len(body) >= 3  # about 400 KB of incidents; the last frame carries the sync.complete
    assert all(json.loads(p.body)["type"] == "batch" for p in body)
    assert all(m["type"] != "sync.complete" for p in body for m in json.loads(p.body)["messages"])
    assert json.loads(tail.body)["messages"][-1]["type"] == "sync.complete"
    assert tail.started >= max(p.finished for p in body)  # only once every other frame arrived
    # Side by side, as many as IN_FLIGHT: four 50 ms answers overlap instead of queueing.
    assert api.max_in_flight == min(IN_FLIGHT, len(body))
    incidents, complete = answer(api)
    assert len(incidents) == 150 and complete["count"] == 150


def test_sync_complete_is_not_posted_after_a_frame_that_failed(
    env: Any, context: Any, api: Any
) -> None:
    connect(env)
    store_large(150)
    api.behaviours[CONNECTION] = "fail_after:2"  # two frames arrive, then 500s for good

    send(context, {"action": "sync"})

    types = [json.loads(p.body)["type"] for p in api.posts_to(CONNECTION) if p.status == 200]
    assert types == ["batch", "batch"]
    assert all(p.status in (200, 500) for p in api.posts_to(CONNECTION))


def test_a_connection_gone_mid_answer_costs_at_most_one_round_of_posts(
    env: Any, context: Any, api: Any
) -> None:
    connect(env)
    store_large(300)  # seven batch frames and the sync.complete
    api.behaviours[CONNECTION] = "gone"

    send(context, {"action": "sync"})

    assert 1 <= len(api.posts_to(CONNECTION)) <= IN_FLIGHT


def test_an_oversize_incident_arrives_in_parts(env: Any, context: Any, api: Any) -> None:
    connect(env)
    store(1, sequence=101)
    big = incident(2, notes='é"\\\u0001' * 60_000)  # 300,000 characters, escapes included
    store(2, sequence=102, image=big)
    store(3, sequence=103)

    api.latency = 0.02

    send(context, {"action": "sync"})

    # The parts are consecutive: each posted alone, once the one before it arrived.
    posted = sorted(api.posts_to(CONNECTION), key=lambda p: p.started)
    kinds = [json.loads(p.body)["type"] for p in posted]
    first, last = kinds.index("incident.part"), len(kinds) - kinds[::-1].index("incident.part")
    assert set(kinds[first:last]) == {"incident.part"}
    assert all(b.started >= a.finished for a, b in itertools.pairwise(posted[first:last]))
    received = frames(api)
    assert all(
        len(json.dumps(f, ensure_ascii=False).encode()) <= MAX_PAYLOAD_BYTES for f in received
    )
    parts = [f for f in received if f["type"] == "incident.part"]
    assert len(parts) >= 3
    assert {p["partId"] for p in parts} == {parts[0]["partId"]}
    assert [p["index"] for p in parts] == list(range(len(parts)))
    assert {p["count"] for p in parts} == {len(parts)}
    whole = json.loads("".join(p["chunk"] for p in parts))
    assert whole["type"] == "incident.snapshot"
    assert whole["incident"] == big
    rest = [m for f in received if f["type"] != "incident.part" for m in f.get("messages", [f])]
    assert [m["keys"]["pk"] for m in rest if m["type"] == "incident.snapshot"] == [
        "INCIDENT#INC-1",
        "INCIDENT#INC-3",
    ]
    assert rest[-1]["type"] == "sync.complete" and rest[-1]["count"] == 3


def test_a_malformed_state_item_is_skipped(env: Any, context: Any, api: Any) -> None:
    connect(env)
    store(1, sequence=101)
    item = state_item("INC-2", incident(2), sequence=102, changed_at_ms=now_ms() - 60_000)
    item["sequence"] = {"S": "not-a-number"}
    boto3.client("dynamodb").put_item(TableName=STATE_TABLE, Item=item)

    send(context, {"action": "sync"})

    incidents, _ = answer(api)
    assert sorted(incidents) == ["INCIDENT#INC-1"]


def test_missing_state_table_setting_names_the_variable(
    env: Any, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STATE_TABLE")
    with pytest.raises(ConfigError, match="STATE_TABLE"):
        send(context, {"action": "sync"})


def test_an_incident_expiring_since_the_cursor_turns_the_since_sync_into_a_reset(
    env: Any, context: Any, api: Any
) -> None:
    connect(env)
    store(1, sequence=101)
    expires = int(time.time()) + 2  # a closed incident whose retention ends in two seconds
    closed = incident(7, status="closed")
    store(7, sequence=107, at_ms=expires * 1000 - 86_400_000, image=closed)
    send(context, {"action": "sync"})
    incidents, first = answer(api)
    assert sorted(incidents) == ["INCIDENT#INC-1", "INCIDENT#INC-7"]

    time.sleep(max(0.0, expires - time.time()) + 0.1)
    send(context, {"action": "sync", "since": first["cursor"]})

    incidents, complete = answer(api)
    assert sorted(incidents) == ["INCIDENT#INC-1"]
    assert complete["reset"] is True


# ---------------------------------------------------------------------------------------------
# Subscriptions (issue 17): a sync answers only what the connection's effective filter matches
# ---------------------------------------------------------------------------------------------
NORTH = {"areas": '["north"]'}
HARBOUR = {"areas": '["harbour"]'}


def in_area(n: int, area: str, **extra: Any) -> dict[str, Any]:
    return incident(n, area=area, **extra)


def test_full_sync_answers_only_the_incidents_the_filter_matches(
    env: Any, context: Any, api: Any
) -> None:
    connect(env, "north=", **NORTH)
    connect(env, "harbour=", **HARBOUR)
    connect(env, "asks=", areas='["north"]', filter='{"area":["harbour"]}')
    connect(env, "critical=", areas='["*"]', filter='{"urgency":["critical"]}')
    store(1, sequence=101, image=in_area(1, "north"))
    store(2, sequence=102, image=in_area(2, "harbour"))
    store(3, sequence=103, image=in_area(3, "north", urgency="critical"))
    store(4, sequence=104, image=incident(4))  # no area: only "*" may see it

    got = {}
    for cid in ("north=", "harbour=", "asks=", "critical="):
        send(context, {"action": "sync"}, connection_id=cid)
        received = messages(api, cid)
        assert received[-1]["type"] == "sync.complete" and received[-1]["reset"] is True
        assert received[-1]["count"] == len(received) - 1
        got[cid] = sorted(m["incident"]["incidentId"] for m in received[:-1])
    assert got == {
        "north=": ["INC-1", "INC-3"],
        "harbour=": ["INC-2"],
        "asks=": [],  # narrowed to no area: nothing of harbour
        "critical=": ["INC-3"],
    }
    # Frames built once per (filter, view, state version): two boards of one filter share them.
    connect(env, "north-2=", **NORTH)
    send(context, {"action": "sync"}, connection_id="north-2=")
    assert len(messages(api, "north-2=")) == 3
    assert len(sync.get_cache()._full) == 4


def test_since_sync_sends_left_for_what_stopped_matching_and_nothing_outside_the_permission(
    env: Any, context: Any, api: Any
) -> None:
    connect(env, "north=", areas='["north"]', filter='{"urgency":["high"]}')
    connect(env, "harbour=", **HARBOUR)
    store(1, sequence=101, image=in_area(1, "north"))
    store(2, sequence=102, image=in_area(2, "north"))
    cursors = {}
    for cid in ("north=", "harbour="):
        send(context, {"action": "sync"}, connection_id=cid)
        cursors[cid] = messages(api, cid)[-1]["cursor"]

    later = now_ms()
    store(1, sequence=201, at_ms=later, image=in_area(1, "harbour"))  # moved north -> harbour
    store(2, sequence=202, at_ms=later, image=in_area(2, "north", urgency="low"))  # filtered out
    store(3, sequence=203, at_ms=later, image=in_area(3, "south"))
    store(4, sequence=204, at_ms=later, image=in_area(4, "north"))
    send(context, {"action": "sync", "since": cursors["north="]}, connection_id="north=")
    north = messages(api, "north=")  # (reads and forgets every post)
    # INC-2 stopped matching (urgency): left. INC-1 moved outside the permission and INC-3 is
    # outside it: nothing of them (keys included) is sent to a north token.
    assert [(m["type"], m["keys"]["pk"]) for m in north[:-1]] == [
        ("incident.left", "INCIDENT#INC-2"),
        ("incident.snapshot", "INCIDENT#INC-4"),
    ]
    assert set(north[0]) == {"version", "type", "keys", "eventId", "sequence"}
    assert north[-1]["reset"] is False and north[-1]["count"] == 2
    send(context, {"action": "sync", "since": cursors["harbour="]}, connection_id="harbour=")
    harbour = messages(api, "harbour=")
    # INC-1 arrives; INC-2, INC-4 (north) and INC-3 (south) are outside its permission.
    assert [(m["type"], m["keys"]["pk"]) for m in harbour[:-1]] == [
        ("incident.snapshot", "INCIDENT#INC-1")
    ]


def test_a_cursor_made_under_another_filter_resets(env: Any, context: Any, api: Any) -> None:
    connect(env, "board=", areas='["*"]')
    store(1, sequence=101, image=in_area(1, "north"))
    store(2, sequence=102, image=in_area(2, "harbour"))
    send(context, {"action": "sync"}, connection_id="board=")
    first = messages(api, "board=")[-1]
    assert first["count"] == 2
    # The board subscribes to harbour only (the subscribe route rewrites the row's filter).
    boto3.client("dynamodb").update_item(
        TableName=env.name,
        Key=connection_key("board="),  # type: ignore[arg-type]
        UpdateExpression="SET #f = :f",
        ExpressionAttributeNames={"#f": "filter"},
        ExpressionAttributeValues={":f": {"S": '{"area":["harbour"]}'}},
    )
    send(context, {"action": "sync", "since": first["cursor"]}, connection_id="board=")
    received = messages(api, "board=")
    assert received[-1]["reset"] is True  # what it holds was chosen by the old filter
    assert [m["incident"]["incidentId"] for m in received[:-1]] == ["INC-2"]
    # Under the same filter, the new cursor is usable: nothing changed, nothing sent, no reset.
    send(context, {"action": "sync", "since": received[-1]["cursor"]}, connection_id="board=")
    again = messages(api, "board=")
    assert again[-1]["reset"] is False and again[-1]["count"] == 0


def test_incidents_sync_answers_only_matching_ids(env: Any, context: Any, api: Any) -> None:
    connect(env, "north=", **NORTH)
    store(1, sequence=101, image=in_area(1, "north"))
    store(2, sequence=102, image=in_area(2, "harbour"))
    send(
        context,
        {"action": "sync", "incidents": [sync_id("INC-1"), sync_id("INC-2")]},
        connection_id="north=",
    )
    received = messages(api, "north=")
    assert [m["keys"]["pk"] for m in received[:-1]] == ["INCIDENT#INC-1"]
    assert received[-1]["count"] == 1
