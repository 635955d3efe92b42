"""The state table's pure logic: incident ids, sequence order, items, expiry, settings."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from realtime_common import state
from realtime_common.stream import MalformedRecordError, parse_record
from testing.events import EVENTS

pytestmark = pytest.mark.unit

SETTINGS = state.IncidentState("realtime-test-state", 86400, frozenset({"closed", "resolved"}))


def record(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    raw: dict[str, Any] = event["Records"][0]
    return raw


# --------------------------------------------------------------------------------------------
# incident_id
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({"incidentId": {"S": "INC-1"}}, "INC-1"),
        ({"incidentId": "INC-1"}, "INC-1"),
        ({"n": {"N": "7.0"}}, "7"),
        ({"n": 7}, "7"),
        ({"n": {"N": "-2.50"}}, "-2.5"),
        ({"n": 2.5}, "2.5"),
        ({"b": {"B": "aGk="}}, "aGk="),
        ({"b": b"hi"}, "aGk="),
        # Composite: attribute-name order, whatever order the map has.
        ({"sk": {"S": "META"}, "pk": {"S": "INCIDENT#INC-2"}}, "INCIDENT#INC-2|META"),
        ({"sk": "META", "pk": "INCIDENT#INC-2"}, "INCIDENT#INC-2|META"),
    ],
)
def test_incident_id(keys: dict[str, Any], expected: str) -> None:
    assert state.incident_id(keys) == expected


def test_typed_and_plain_keys_give_the_same_id() -> None:
    raw = record("stream-remove.json")
    parsed = parse_record(raw)
    assert state.incident_id(raw["dynamodb"]["Keys"]) == state.incident_id(parsed.keys)
    assert state.state_pk(parsed.keys) == "INC#INCIDENT#INC-2026-0042|META"


@pytest.mark.parametrize("keys", [{}, {"k": True}, {"k": None}, {"k": {"BOOL": True}}, {"k": [1]}])
def test_incident_id_refuses_what_is_not_a_key(keys: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"(?i)key"):
        state.incident_id(keys)


# --------------------------------------------------------------------------------------------
# Sequence order and expiry
# --------------------------------------------------------------------------------------------
def test_seq_sort_orders_as_integers() -> None:
    sequences = ["9", "10", "100000000000000000000000000001", "111", "0"]
    assert sorted(sequences, key=state.seq_sort) == sorted(sequences, key=int)
    assert len(state.seq_sort("42")) == state.SEQ_SORT_WIDTH


@pytest.mark.parametrize("sequence", ["", "-1", "12a", "1" * 49])
def test_seq_sort_refuses_what_is_not_a_sequence_number(sequence: str) -> None:
    with pytest.raises(ValueError, match="sequence"):
        state.seq_sort(sequence)


@pytest.mark.parametrize(
    ("item", "live"),
    [
        ({}, True),
        ({"expiresAt": {"N": "1001"}}, True),
        ({"expiresAt": {"N": "1000"}}, False),
        ({"expiresAt": 999}, False),
        ({"expiresAt": 1500}, True),
    ],
)
def test_is_live(item: dict[str, Any], *, live: bool) -> None:
    assert state.is_live(item, 1000.0) is live


# --------------------------------------------------------------------------------------------
# Items
# --------------------------------------------------------------------------------------------
def test_item_of_an_insert() -> None:
    raw = record("stream-insert.json")
    item = state.build_item(raw, parse_record(raw), SETTINGS, now_ms=1_700_000_000_123)
    body = raw["dynamodb"]
    assert item["pk"] == {"S": state.state_pk(body["Keys"])}
    assert item["sk"] == {"S": "STATE#"}
    assert item["keys"] == {"M": body["Keys"]}
    assert item["image"] == {"M": body["NewImage"]}
    assert item["sequence"] == {"S": body["SequenceNumber"]}
    assert item["seqSort"] == {"S": body["SequenceNumber"].zfill(48)}
    assert item["eventId"] == {"S": raw["eventID"]}
    assert item["eventName"] == {"S": "INSERT"}
    assert item["removed"] == {"BOOL": False}
    assert item["changedAt"] == {"N": "1700000000123"}
    assert item["feed"] == {"S": "F#0"}
    assert "expiresAt" not in item  # open incidents stay


def test_tombstone_of_a_remove() -> None:
    raw = record("stream-remove.json")
    item = state.build_item(raw, parse_record(raw), SETTINGS, now_ms=1_700_000_000_999)
    assert item["removed"] == {"BOOL": True}
    assert item["eventName"] == {"S": "REMOVE"}
    assert "image" not in item
    assert item["expiresAt"] == {"N": str(1_700_000_000 + 86400)}


@pytest.mark.parametrize(
    ("status", "expires"), [("Resolved", True), ("closed", True), ("open", False)]
)
def test_closed_incidents_expire(status: str, *, expires: bool) -> None:
    raw = copy.deepcopy(record("stream-modify.json"))
    raw["dynamodb"]["NewImage"]["status"] = {"S": status}
    item = state.build_item(raw, parse_record(raw), SETTINGS, now_ms=2_000_000)
    assert ("expiresAt" in item) is expires
    if expires:
        assert item["expiresAt"] == {"N": str(2000 + 86400)}


def test_binary_values_are_stored_as_bytes() -> None:
    """A stream event carries B as base64 text; boto3 wants the bytes (it encodes them)."""
    raw = copy.deepcopy(record("stream-insert.json"))
    raw["dynamodb"]["NewImage"]["blob"] = {"B": "aGk="}
    raw["dynamodb"]["NewImage"]["nested"] = {"M": {"bs": {"BS": ["aGk="]}}}
    item = state.build_item(raw, parse_record(raw), SETTINGS, now_ms=1)
    image = item["image"]["M"]  # type: ignore[typeddict-item]
    assert image["blob"] == {"B": b"hi"}
    assert image["nested"] == {"M": {"bs": {"BS": [b"hi"]}}}


def test_record_with_a_bad_sequence_is_malformed() -> None:
    raw = copy.deepcopy(record("stream-insert.json"))
    raw["dynamodb"]["SequenceNumber"] = "not-a-number"
    with pytest.raises(MalformedRecordError, match="state"):
        state.build_item(raw, parse_record(raw), SETTINGS, now_ms=1)


def test_backfill_item_loses_to_any_stream_record() -> None:
    raw = record("stream-insert.json")
    keys, image = raw["dynamodb"]["Keys"], raw["dynamodb"]["NewImage"]
    item = state.backfill_item(keys, image, SETTINGS, now_ms=5000, event_id="backfill")
    assert item["sequence"] == {"S": "0"} and item["eventName"] == {"S": "BACKFILL"}
    assert item["seqSort"]["S"] < state.seq_sort("1")  # type: ignore[typeddict-item]
    assert item["pk"] == state.build_item(raw, parse_record(raw), SETTINGS, now_ms=1)["pk"]


def test_latest_per_incident_keeps_the_newest() -> None:
    raw = record("stream-modify.json")
    items = []
    for sequence in ["300", "1000", "20"]:
        changed = copy.deepcopy(raw)
        changed["dynamodb"]["SequenceNumber"] = sequence
        items.append(state.build_item(changed, parse_record(changed), SETTINGS, now_ms=1))
    latest = state.latest_per_incident(items)
    assert [item["sequence"] for item in latest.values()] == [{"S": "1000"}]


def test_removed_message_has_no_incident() -> None:
    message = state.removed_message({"incidentId": "INC-1"}, "ev-1", "42")
    assert message == {
        "version": 1,
        "type": "incident.removed",
        "keys": {"incidentId": "INC-1"},
        "eventId": "ev-1",
        "sequence": "42",
    }


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------
ENV = {
    "STATE_TABLE": "realtime-test-state",
    "STATE_RETENTION_SECONDS": "86400",
    "CLOSED_STATUSES": '["Closed","resolved"]',
}


def test_settings_read() -> None:
    assert state.incident_state(ENV) == state.IncidentState(
        "realtime-test-state", 86400, frozenset({"closed", "resolved"})
    )
    assert state.incident_state({**ENV, "CLOSED_STATUSES": "[]"}).closed_statuses == frozenset()


# Settings that do not parse: tests/unit/test_config.py (every reader's errors, one table).
