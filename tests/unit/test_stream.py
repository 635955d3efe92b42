"""Stream record validation and DynamoDB -> plain JSON conversion (every attribute type)."""

from __future__ import annotations

import base64
import copy
import json

import pytest

from realtime_common.stream import (
    MalformedRecordError,
    UnaddressableBatchError,
    batch_records,
    deserialize,
    parse_record,
    to_plain,
)
from testing.events import EVENTS

pytestmark = pytest.mark.unit


def load(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


@pytest.mark.parametrize(
    ("attribute", "expected"),
    [
        ({"S": "héllo ⚠"}, "héllo ⚠"),
        ({"N": "42"}, 42),
        ({"N": "-0.5"}, -0.5),
        ({"N": "7.25"}, 7.25),
        ({"N": "12345678901234567890"}, 12345678901234567890),
        ({"N": "1E+3"}, 1000),
        ({"N": "1.0"}, 1),
        ({"B": "aGVsbG8="}, "aGVsbG8="),
        ({"BS": ["Yg==", "YQ=="]}, ["YQ==", "Yg=="]),
        ({"SS": ["b", "a", "c"]}, ["a", "b", "c"]),
        ({"NS": ["10", "2", "3.5"]}, [2, 3.5, 10]),
        ({"BOOL": True}, True),
        ({"BOOL": False}, False),
        ({"NULL": True}, None),
        ({"L": [{"S": "x"}, {"N": "1"}, {"NULL": True}]}, ["x", 1, None]),
        ({"M": {"a": {"N": "1"}, "b": {"M": {"c": {"B": "AAEC"}}}}}, {"a": 1, "b": {"c": "AAEC"}}),
        (
            {"L": [{"BS": ["AQ=="]}, {"M": {"s": {"SS": ["z", "y"]}}}]},
            [["AQ=="], {"s": ["y", "z"]}],
        ),
    ],
)
def test_every_dynamodb_type_becomes_plain_json(attribute: dict, expected: object) -> None:
    value = to_plain(deserialize(attribute))
    assert value == expected
    assert type(value) is type(expected)
    json.dumps(value, allow_nan=False)  # plain JSON, nothing exotic left


def test_binary_round_trips_to_the_same_bytes() -> None:
    raw = bytes(range(256))
    encoded = base64.b64encode(raw).decode()
    assert base64.b64decode(to_plain(deserialize({"B": encoded}))) == raw


def test_all_types_fixture_parses_to_plain_json() -> None:
    record = parse_record(load("stream-all-types.json")["Records"][0])
    image = record.new_image
    assert image is not None
    assert image["bigCount"] == 12345678901234567890
    assert image["severityScore"] == 7.25
    assert image["exponent"] == 1000
    assert image["hashes"] == ["YmFy", "Zm9v"]
    assert image["sectors"] == [3, 7.5, 12]
    assert image["units"] == ["AMB-3", "ENG-12", "LAD-4"]
    assert image["assignee"] is None
    assert image["timeline"] == ["reported", 1795790400, {"by": "user-42", "blob": "AAEC"}]
    assert image["location"] == {"lat": 40.4168, "lon": -3.7038, "tags": ["a", "b"]}
    assert record.keys == {"pk": "INCIDENT#INC-2026-0099", "sk": "META"}
    assert record.sequence == "100000000000000000030"
    json.dumps(image, allow_nan=False)


def test_modify_record_carries_both_images() -> None:
    record = parse_record(load("stream-modify.json")["Records"][0])
    assert record.event_name == "MODIFY"
    assert record.old_image is not None
    assert record.old_image["urgency"] == "medium"
    assert record.new_image is not None
    assert record.new_image["urgency"] == "critical"


def test_remove_record_needs_no_new_image() -> None:
    record = parse_record(load("stream-remove.json")["Records"][0])
    assert record.event_name == "REMOVE"
    assert record.new_image is None


def _good() -> dict:
    return copy.deepcopy(load("stream-insert.json")["Records"][0])


def _without(path: list[str]) -> dict:
    record = _good()
    target = record
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]
    return record


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (_without(["eventID"]), "eventID"),
        ({**_good(), "eventName": "UPSERT"}, "eventName"),
        (_without(["dynamodb"]), "dynamodb"),
        (_without(["dynamodb", "Keys"]), "Keys"),
        (_without(["dynamodb", "NewImage"]), "NewImage"),
        (_without(["dynamodb", "SequenceNumber"]), "SequenceNumber"),
    ],
)
def test_structurally_malformed_records_are_rejected(record: dict, message: str) -> None:
    with pytest.raises(MalformedRecordError, match=message):
        parse_record(record)


@pytest.mark.parametrize(
    "bad_value",
    [
        {"X": "unknown type"},
        {"B": "not base64!"},
        {"BS": "Zm9v"},
        {"L": {"S": "not a list"}},
        {"M": ["not", "a", "map"]},
        {"N": "not a number"},
        "plain string",
        {"S": "two", "N": "tags"},
    ],
)
def test_undeserialisable_attribute_values_are_malformed(bad_value: object) -> None:
    record = _good()
    record["dynamodb"]["NewImage"]["urgency"] = bad_value
    with pytest.raises(MalformedRecordError, match="NewImage"):
        parse_record(record)


def test_malformed_fixture_holds_two_bad_records_between_good_ones() -> None:
    outcomes = []
    for raw in load("stream-malformed.json")["Records"]:
        try:
            parse_record(raw)
            outcomes.append("ok")
        except MalformedRecordError:
            outcomes.append("bad")
    assert outcomes == ["ok", "bad", "bad", "ok"]


def test_batch_needs_a_records_list() -> None:
    with pytest.raises(UnaddressableBatchError):
        batch_records({"records": []})
    assert batch_records({"Records": []}) == []


def test_batch_with_a_record_lacking_a_sequence_number_is_unaddressable() -> None:
    event = load("stream-batch.json")
    del event["Records"][2]["dynamodb"]["SequenceNumber"]
    with pytest.raises(UnaddressableBatchError, match="record 2"):
        batch_records(event)
