"""A 410 deletes a connection's row only once the row is older than the $connect window (moto).

API Gateway answers 410 to a connection whose $connect has not completed, while on_connect has
already stored its row: deleting on that 410 would leave the client connected and receiving
nothing. The fan-out's own test (tests/fanout) shows the kept connection getting the next record.
"""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest

import broadcaster
from realtime_common.connections import CONNECTING_WINDOW_SECONDS, connected_at, connection_key
from realtime_common.fanout.table import row_deleter, scan_connections
from testing.events import load_event
from testing.fake_management_api import FakeManagementApi

pytestmark = pytest.mark.handler

NOW = 1_796_000_000.0
TABLE = "realtime-connections"


class Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, message: str, extra: dict[str, Any]) -> None:
        self.lines.append((message, extra))


def put_row(connection_id: str, stored_at: float | None, ttl: int = 7200) -> None:
    item = {**connection_key(connection_id), "userId": {"S": "u"}, "role": {"S": "viewer"}}
    if stored_at is not None:
        item["connectedAt"] = {"S": connected_at(stored_at)}
        item["expiresAt"] = {"N": str(int(stored_at) + ttl)}
    boto3.client("dynamodb").put_item(TableName=TABLE, Item=item)


def row(connection_id: str) -> dict[str, Any] | None:
    answer = boto3.client("dynamodb").get_item(TableName=TABLE, Key=connection_key(connection_id))
    return answer.get("Item")


def test_a_young_row_is_kept_and_a_later_410_deletes_it_once_old_enough(
    connections_table: Any,
) -> None:
    put_row("young=", NOW - 1)
    before = row("young=")
    clock = [NOW]
    log = Log()
    delete = row_deleter(boto3.client("dynamodb"), TABLE, log, clock=lambda: clock[0])

    assert delete("young=") is False
    assert row("young=") == before  # untouched: expiresAt (the TTL) included
    [(message, extra)] = log.lines
    assert "row kept" in message and extra["connection_id"] == "young="

    clock[0] = NOW - 1 + CONNECTING_WINDOW_SECONDS - 1  # still inside the window
    assert delete("young=") is False
    assert row("young=") == before

    clock[0] = NOW - 1 + CONNECTING_WINDOW_SECONDS  # the window is over: a 410 proves it gone
    assert delete("young=") is True
    assert row("young=") is None


def test_old_rows_rows_without_connected_at_and_missing_rows_are_deleted(
    connections_table: Any,
) -> None:
    put_row("old=", NOW - CONNECTING_WINDOW_SECONDS)
    put_row("no-connected-at=", None)  # not written by on_connect: nothing to protect
    log = Log()
    delete = row_deleter(boto3.client("dynamodb"), TABLE, log, clock=lambda: NOW)
    assert [delete(c) for c in ("old=", "no-connected-at=")] == [True, True]
    assert delete("never-stored=") is True  # already gone is fine
    assert row("old=") is None and row("no-connected-at=") is None
    assert log.lines == []


def test_a_kept_row_still_expires_by_its_ttl(connections_table: Any) -> None:
    put_row("young=", NOW - 1, ttl=60)
    row_deleter(boto3.client("dynamodb"), TABLE, Log(), clock=lambda: NOW)("young=")
    dynamodb = boto3.client("dynamodb")
    assert [row[0] for row in scan_connections(dynamodb, TABLE, NOW)] == ["young="]
    # DynamoDB deletes lazily after expiresAt; until then the fan-out skips the row itself.
    assert list(scan_connections(dynamodb, TABLE, NOW + 60)) == []


@pytest.mark.usefixtures("broadcaster_environment")
def test_the_broadcaster_keeps_a_connecting_row_and_deletes_an_old_gone_one(
    connections_table: Any, state_table: Any, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_row("connecting=", time.time())
    put_row("gone=", time.time() - CONNECTING_WINDOW_SECONDS - 5)
    with FakeManagementApi(default="gone") as api:
        monkeypatch.setenv("WS_CALLBACK_URL", api.url)
        event = load_event("stream-insert.json")
        assert broadcaster.handler(event, context) == {"batchItemFailures": []}
        assert sorted(p.connection_id for p in api.posts) == ["connecting=", "gone="]
    assert row("connecting=") is not None
    assert row("gone=") is None
