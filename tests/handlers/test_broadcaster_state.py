"""broadcaster.handler and the state table (moto): state is written before the fan-out, never
overwritten by an older or replayed record, once per incident per batch; REMOVE makes a
tombstone and an ``incident.removed`` message for every role with a view; a record whose state
could not be stored is reported failed and never sent."""

from __future__ import annotations

import copy
import functools
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

import broadcaster
from realtime_common import state
from testing.connections import add_connection
from testing.events import EVENTS
from testing.fake_management_api import FakeManagementApi

pytestmark = pytest.mark.handler

VIEWER_FIELDS = {"incidentId", "title", "status", "urgency", "type", "area", "createdAt"}


@pytest.fixture
def env(env: Any, connections_table: Any, state_table: Any) -> Any:
    """The Broadcaster's environment (conftest) with a dispatcher and a viewer connected."""
    add_connection(connections_table, "disp", role="dispatcher")
    add_connection(connections_table, "view", role="viewer")
    return state_table


def raw(name: str = "stream-modify.json", **changes: Any) -> dict[str, Any]:
    """One record of an event file; ``sequence``, ``incident`` (its id), ``title``, ``status``."""
    record = copy.deepcopy(json.loads((EVENTS / name).read_text())["Records"][0])
    body = record["dynamodb"]
    if "sequence" in changes:
        body["SequenceNumber"] = changes["sequence"]
        record["eventID"] = f"ev-{changes['sequence']}"
    if "incident" in changes:
        body["Keys"] = {"pk": {"S": f"INCIDENT#{changes['incident']}"}, "sk": {"S": "META"}}
        if "NewImage" in body:
            body["NewImage"].update(body["Keys"])
            body["NewImage"]["incidentId"] = {"S": changes["incident"]}
    for field in ("title", "status"):
        if field in changes and "NewImage" in body:
            body["NewImage"][field] = {"S": changes[field]}
    return record


def batch(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def received(api: FakeManagementApi, connection_id: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for post in api.posts:
        if post.status == 200 and post.connection_id == connection_id:
            frame = json.loads(post.body)
            out.extend(frame["messages"] if frame["type"] == "batch" else [frame])
    return out


def items(table: Any) -> dict[str, dict[str, Any]]:
    return {item["pk"].removeprefix("INC#"): item for item in table.scan()["Items"]}


def failures(response: dict[str, Any]) -> list[str]:
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


def _state_env() -> dict[str, str]:
    return {k: os.environ[k] for k in ("STATE_TABLE", "STATE_RETENTION_SECONDS", "CLOSED_STATUSES")}


def use_state_put(monkeypatch: pytest.MonkeyPatch, put: Any) -> None:
    """The Broadcaster's state writer, with `put` in place of its conditional write."""
    writer = state.Writer(
        client=boto3.client("dynamodb"),
        settings=state.incident_state(_state_env()),
        executor=ThreadPoolExecutor(4),
        put=put,
    )
    monkeypatch.setattr(broadcaster, "get_state_writer", functools.cache(lambda: writer))


def test_state_is_stored_with_the_image_keys_and_sequence(env: Any, context: Any) -> None:
    record = raw(sequence="500", incident="INC-1", title="first")
    before = int(time.time() * 1000)
    assert broadcaster.handler(batch(record), context) == {"batchItemFailures": []}
    item = items(env)["INCIDENT#INC-1|META"]
    assert item["sk"] == "STATE#" and item["feed"] == "F#0"
    assert item["keys"] == {"pk": "INCIDENT#INC-1", "sk": "META"}
    assert item["image"]["title"] == "first" and item["image"]["incidentId"] == "INC-1"
    assert item["sequence"] == "500" and item["seqSort"] == "500".zfill(48)
    assert item["eventId"] == "ev-500" and item["eventName"] == "MODIFY"
    assert item["removed"] is False and "expiresAt" not in item
    assert before <= int(item["changedAt"]) <= int(time.time() * 1000)


def test_replayed_and_out_of_order_records_never_overwrite_newer_state(
    env: Any, context: Any, api: FakeManagementApi
) -> None:
    newer = raw(sequence="2000", incident="INC-1", title="newer")
    older = raw(sequence="300", incident="INC-1", title="older")  # "300" > "2000" as text
    assert failures(broadcaster.handler(batch(newer), context)) == []
    # A retry of an earlier batch (redrive, bisect) and a replay of the same record.
    assert failures(broadcaster.handler(batch(older), context)) == []
    assert failures(broadcaster.handler(batch(newer), context)) == []
    item = items(env)["INCIDENT#INC-1|META"]
    assert (item["sequence"], item["image"]["title"]) == ("2000", "newer")
    # The live messages still go out (clients order by sequence and drop duplicates).
    assert [m["sequence"] for m in received(api, "disp")] == ["2000", "300", "2000"]


def test_out_of_order_within_one_batch_keeps_the_newest(env: Any, context: Any) -> None:
    event = batch(
        raw(sequence="900", incident="INC-1", title="newest"),
        raw(sequence="100", incident="INC-1", title="oldest"),
    )
    assert failures(broadcaster.handler(event, context)) == []
    assert items(env)["INCIDENT#INC-1|META"]["image"]["title"] == "newest"


def test_several_records_of_one_incident_make_one_write(
    env: Any, context: Any, api: FakeManagementApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[str] = []

    def put(client: Any, table: str, item: state.Item) -> state.Written:
        written.append(item["sequence"]["S"])  # type: ignore[typeddict-item]
        return state.put_if_newer(client, table, item)

    use_state_put(monkeypatch, put)
    event = batch(
        raw(sequence="10", incident="INC-1", title="a"),
        raw(sequence="11", incident="INC-2", title="b"),
        raw(sequence="12", incident="INC-1", title="c"),
        raw(sequence="13", incident="INC-1", title="d"),
    )
    assert failures(broadcaster.handler(event, context)) == []
    assert sorted(written) == ["11", "13"]
    stored = items(env)
    assert stored["INCIDENT#INC-1|META"]["image"]["title"] == "d"
    assert stored["INCIDENT#INC-2|META"]["image"]["title"] == "b"
    assert [m["sequence"] for m in received(api, "disp")] == ["10", "11", "12", "13"]


def test_remove_makes_a_tombstone_and_tells_every_role(
    env: Any, context: Any, api: FakeManagementApi
) -> None:
    assert failures(broadcaster.handler(batch(raw(sequence="10", incident="INC-7")), context)) == []
    remove = raw("stream-remove.json", sequence="11", incident="INC-7")
    now = time.time()
    assert failures(broadcaster.handler(batch(remove), context)) == []
    item = items(env)["INCIDENT#INC-7|META"]
    assert item["removed"] is True and "image" not in item
    assert (item["eventName"], item["sequence"]) == ("REMOVE", "11")
    assert now + 86400 - 5 <= int(item["expiresAt"]) <= now + 86400 + 5
    expected = {
        "version": 1,
        "type": "incident.removed",
        "keys": {"pk": "INCIDENT#INC-7", "sk": "META"},
        "eventId": "ev-11",
        "sequence": "11",
    }
    # The dispatcher (whole incident) and the viewer (a few fields) get the same message: it
    # carries no incident body, so there is nothing hidden to leak.
    assert received(api, "disp")[-1] == expected
    assert received(api, "view")[-1] == expected
    assert set(received(api, "view")[0]["incident"]) <= VIEWER_FIELDS | {"updatedAt", "version"}


def test_an_older_change_cannot_revive_a_removed_incident(env: Any, context: Any) -> None:
    broadcaster.handler(batch(raw("stream-remove.json", sequence="50", incident="INC-7")), context)
    broadcaster.handler(batch(raw(sequence="40", incident="INC-7")), context)
    assert items(env)["INCIDENT#INC-7|META"]["removed"] is True


def test_closed_incidents_expire_open_ones_stay(env: Any, context: Any) -> None:
    event = batch(
        raw(sequence="10", incident="INC-1", status="Resolved"),
        raw(sequence="11", incident="INC-2", status="escalated"),
    )
    broadcaster.handler(event, context)
    stored = items(env)
    assert int(stored["INCIDENT#INC-1|META"]["expiresAt"]) > time.time() + 86000
    assert "expiresAt" not in stored["INCIDENT#INC-2|META"]


def test_a_failed_state_write_is_reported_and_not_fanned_out(
    env: Any, context: Any, api: FakeManagementApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    def put(client: Any, table: str, item: state.Item) -> state.Written:
        if item["pk"]["S"].endswith("INC-2|META"):  # type: ignore[typeddict-item]
            raise state.StateWriteError("ProvisionedThroughputExceededException: after retries")
        return state.put_if_newer(client, table, item)

    use_state_put(monkeypatch, put)
    event = batch(
        raw(sequence="10", incident="INC-1"),
        raw(sequence="11", incident="INC-2"),  # its write fails
        raw(sequence="12", incident="INC-3"),
        raw(sequence="13", incident="INC-2"),
    )
    response = broadcaster.handler(event, context)
    # Lambda retries from the lowest failed record: everything from INC-2's first record.
    assert failures(response) == ["11", "12", "13"]
    assert [m["sequence"] for m in received(api, "disp")] == ["10"]
    assert [m["sequence"] for m in received(api, "view")] == ["10"]
    assert "INCIDENT#INC-2|META" not in items(env)


def test_an_unreachable_state_table_sends_nothing(
    env: Any, context: Any, api: FakeManagementApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real DynamoDB error (the table is missing): every record failed, no post made."""
    monkeypatch.setenv("STATE_TABLE", "no-such-table")
    broadcaster.get_state_writer.cache_clear()
    event = batch(raw(sequence="10", incident="INC-1"), raw(sequence="11", incident="INC-2"))
    assert failures(broadcaster.handler(event, context)) == ["10", "11"]
    assert api.posts == []


def test_a_malformed_record_is_failed_alone_and_the_rest_is_stored(
    env: Any, context: Any, api: FakeManagementApi
) -> None:
    bad = raw(sequence="11", incident="INC-2")
    del bad["dynamodb"]["NewImage"]
    event = batch(raw(sequence="10", incident="INC-1"), bad, raw(sequence="12", incident="INC-3"))
    assert failures(broadcaster.handler(event, context)) == ["11"]
    assert set(items(env)) == {"INCIDENT#INC-1|META", "INCIDENT#INC-3|META"}
    assert [m["sequence"] for m in received(api, "disp")] == ["10", "12"]
