"""The state table's conditional writes against moto: replayed and out-of-order records never
overwrite newer state, one write per incident, errors reported per incident."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from realtime_common import state
from realtime_common.stream import parse_record
from testing.events import EVENTS

pytestmark = pytest.mark.handler

TABLE = "realtime-test-state"
SETTINGS = state.IncidentState(TABLE, 86400, frozenset({"closed", "resolved"}))


@pytest.fixture
def table(aws_env: None, create_state_table: Callable[[str], Any]) -> Any:
    return create_state_table(TABLE)


def item_at(sequence: str, *, event: str = "stream-modify.json", title: str = "t") -> state.Item:
    raw = copy.deepcopy(json.loads((EVENTS / event).read_text())["Records"][0])
    raw["dynamodb"]["SequenceNumber"] = sequence
    if "NewImage" in raw["dynamodb"]:
        raw["dynamodb"]["NewImage"]["title"] = {"S": title}
    return state.build_item(raw, parse_record(raw), SETTINGS, now_ms=1_000)


def stored(table: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = table.scan()["Items"]
    return items


def test_newer_overwrites_older_and_replays_do_nothing(table: Any) -> None:
    client = boto3.client("dynamodb")
    assert state.put_if_newer(client, TABLE, item_at("200", title="v2")) is state.Written.STORED
    # Replayed (equal) and older (out of order) records leave the newer state alone.
    assert state.put_if_newer(client, TABLE, item_at("200", title="replay")) is (
        state.Written.NEWER_EXISTS
    )
    assert state.put_if_newer(client, TABLE, item_at("99", title="v1")) is (
        state.Written.NEWER_EXISTS
    )
    # Numeric, not text order: "1000" is newer than "200".
    assert state.put_if_newer(client, TABLE, item_at("1000", title="v3")) is state.Written.STORED
    [item] = stored(table)
    assert item["sequence"] == "1000" and item["image"]["title"] == "v3"


def test_tombstone_replaces_the_image_and_an_older_change_cannot_revive_it(table: Any) -> None:
    client = boto3.client("dynamodb")
    state.put_if_newer(client, TABLE, item_at("100"))
    state.put_if_newer(client, TABLE, item_at("300", event="stream-remove.json"))
    assert state.put_if_newer(client, TABLE, item_at("200")) is state.Written.NEWER_EXISTS
    [item] = stored(table)
    assert item["removed"] is True and "image" not in item and item["eventName"] == "REMOVE"


def test_backfill_never_overwrites_a_stream_record(table: Any) -> None:
    client = boto3.client("dynamodb")
    state.put_if_newer(client, TABLE, item_at("5"))
    raw = json.loads((EVENTS / "stream-modify.json").read_text())["Records"][0]["dynamodb"]
    backfill = state.backfill_item(raw["Keys"], raw["NewImage"], SETTINGS, 1, "backfill")
    assert state.put_if_newer(client, TABLE, backfill) is state.Written.NEWER_EXISTS
    assert stored(table)[0]["sequence"] == "5"


def test_store_latest_writes_each_incident_once_concurrently(table: Any) -> None:
    calls: list[str] = []

    def counting_put(client: Any, name: str, item: state.Item) -> state.Written:
        calls.append(item["sequence"]["S"])  # type: ignore[typeddict-item]
        return state.put_if_newer(client, name, item)

    other = item_at("150", event="stream-insert.json")
    other["pk"] = {"S": "INC#other"}
    items = [item_at("100"), item_at("300", title="newest"), item_at("200"), other]
    with ThreadPoolExecutor(4) as executor:
        result = state.store_latest(
            boto3.client("dynamodb"), TABLE, items, executor=executor, put=counting_put
        )
    assert sorted(calls) == ["150", "300"]
    assert (result.stored, result.newer_exists, result.failed) == (2, 0, {})
    assert {i["pk"]: i["sequence"] for i in stored(table)} == {
        items[0]["pk"]["S"]: "300",  # type: ignore[typeddict-item]
        "INC#other": "150",
    }


def test_store_latest_reports_failed_writes_by_incident(table: Any) -> None:
    client = boto3.client("dynamodb")

    def put(client: Any, name: str, item: state.Item) -> state.Written:
        if item["pk"]["S"] == "INC#other":  # type: ignore[typeddict-item]
            raise state.StateWriteError("ProvisionedThroughputExceededException: slow down")
        return state.put_if_newer(client, name, item)

    other = item_at("150")
    other["pk"] = {"S": "INC#other"}
    with ThreadPoolExecutor(2) as executor:
        result = state.store_latest(
            client, TABLE, [item_at("100"), other], executor=executor, put=put
        )
    assert result.stored == 1
    assert list(result.failed) == ["other"]
    assert "ProvisionedThroughputExceeded" in result.failed["other"]


def test_put_if_newer_raises_on_other_errors(aws_env: None) -> None:
    """No table: the error names the cause, it is never taken for 'newer state exists'."""
    with pytest.raises(state.StateWriteError, match="ResourceNotFound"):
        state.put_if_newer(boto3.client("dynamodb"), "missing", item_at("1"))
