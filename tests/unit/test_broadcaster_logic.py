"""Broadcaster pure logic: messages, the size envelope, connection listing, the deadline.

Scheduling, retries, outcomes and frames are tested in test_fanout_engine.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from realtime_common.fanout.delivery import deadline_for
from realtime_common.fanout.messages import MAX_PAYLOAD_BYTES, build_message, encode_message
from realtime_common.fanout.table import scan_connections
from realtime_common.stream import StreamRecord

pytestmark = pytest.mark.unit


def record(event_name: str = "INSERT", image: dict[str, Any] | None = None) -> StreamRecord:
    return StreamRecord(
        event_id="ev-1",
        event_name=event_name,
        sequence="100000000000000000001",
        keys={"pk": "INCIDENT#1", "sk": "META"},
        new_image=image if image is not None else {"incidentId": "1", "title": "Fire"},
        old_image=None,
    )


# ---------------------------------------------------------------------------------------------
# Messages and the size envelope
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("event_name", "kind"), [("INSERT", "incident.created"), ("MODIFY", "incident.updated")]
)
def test_message_contract(event_name: str, kind: str) -> None:
    message = build_message(record(event_name))
    assert message == {
        "version": 1,
        "type": kind,
        "incident": {"incidentId": "1", "title": "Fire"},
        "keys": {"pk": "INCIDENT#1", "sk": "META"},
        "eventId": "ev-1",
        "sequence": "100000000000000000001",
    }


def test_payload_is_compact_utf8_json() -> None:
    data, truncated = encode_message(record(image={"title": "Incendio \u2013 almacén ⚠"}))
    assert not truncated
    assert "Incendio \u2013 almacén ⚠".encode() in data  # real UTF-8, not \\u escapes
    assert b": " not in data
    assert json.loads(data)["incident"]["title"] == "Incendio \u2013 almacén ⚠"


def _padded_to(total_bytes: int) -> StreamRecord:
    """A record whose encoded message is exactly ``total_bytes`` long."""
    base, _ = encode_message(record(image={"title": ""}))
    return record(image={"title": "x" * (total_bytes - len(base))})


def test_message_exactly_at_the_limit_is_sent_whole() -> None:
    data, truncated = encode_message(_padded_to(MAX_PAYLOAD_BYTES))
    assert len(data) == MAX_PAYLOAD_BYTES == 131072
    assert not truncated
    assert "incident" in json.loads(data)


def test_message_one_byte_over_becomes_the_slim_envelope() -> None:
    data, truncated = encode_message(_padded_to(MAX_PAYLOAD_BYTES + 1))
    assert truncated
    assert json.loads(data) == {
        "version": 1,
        "type": "incident.created",
        "keys": {"pk": "INCIDENT#1", "sk": "META"},
        "eventId": "ev-1",
        "sequence": "100000000000000000001",
        "truncated": True,
    }


def test_limit_counts_utf8_bytes_not_characters() -> None:
    # 3-byte characters: under the limit in characters, over it in bytes.
    base, _ = encode_message(record(image={"title": ""}))
    rec = record(image={"title": "€" * ((MAX_PAYLOAD_BYTES - len(base)) // 3 + 1)})
    assert len(json.dumps(build_message(rec), ensure_ascii=False)) < MAX_PAYLOAD_BYTES
    data, truncated = encode_message(rec)
    assert truncated
    assert len(data) < 1024


# ---------------------------------------------------------------------------------------------
# Connection listing
# ---------------------------------------------------------------------------------------------
def test_list_connections_reads_every_page_and_skips_expired_or_foreign_rows() -> None:
    pages = [
        [
            {"pk": {"S": "CONN#a"}, "expiresAt": {"N": "2000"}},
            {"pk": {"S": "CONN#b"}, "expiresAt": {"N": "999"}},  # expired
        ],
        [{"pk": {"S": "CONN#c"}}, {"pk": {"S": "OTHER#x"}}, {"pk": {"S": "CONN#"}}],
        [{"pk": {"S": "CONN#d"}, "expiresAt": {"N": "1001"}}],
    ]
    dynamo = RecordingDynamo(pages)
    assert [row[0] for row in scan_connections(dynamo, "conns", now=1000.0)] == ["a", "c", "d"]
    assert dynamo.scan_kwargs["TableName"] == "conns"
    # The role decides which view a connection gets, areas and filter its audience, all in the
    # same request; "role" and "filter" are reserved, hence the placeholders.
    assert dynamo.scan_kwargs["ProjectionExpression"] == "pk, expiresAt, #role, #areas, #filter"
    assert dynamo.scan_kwargs["ExpressionAttributeNames"] == {
        "#role": "role",
        "#areas": "areas",
        "#filter": "filter",
    }
    assert "Segment" not in dynamo.scan_kwargs


def test_a_worker_scans_only_its_parallel_scan_segment() -> None:
    dynamo = RecordingDynamo([[{"pk": {"S": "CONN#a"}}]])
    rows = scan_connections(dynamo, "conns", 0.0, segment=2, total_segments=5)
    assert [row[0] for row in rows] == ["a"]
    assert dynamo.scan_kwargs["Segment"] == 2
    assert dynamo.scan_kwargs["TotalSegments"] == 5


class RecordingDynamo:
    def __init__(self, pages: list[list[dict]]) -> None:
        self.pages = pages
        self.scan_kwargs: dict = {}

    def get_paginator(self, name: str) -> RecordingDynamo:
        assert name == "scan"
        return self

    def paginate(self, **kwargs: Any) -> Iterator[dict]:
        self.scan_kwargs = kwargs
        for items in self.pages:
            yield {"Items": items}


# ---------------------------------------------------------------------------------------------
# The deadline
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("timeout", [1, 3, 8, 10, 29, 31, 60, 900])
def test_the_margin_leaves_time_to_answer_for_every_timeout_terraform_accepts(timeout: int) -> None:
    # Posts are clipped to the deadline (test_fanout_engine), so the margin only needs to cover
    # the summary and the return: positive, at most a second, and never the whole budget.
    deadline = deadline_for(float(timeout), now=100.0)
    margin = 100.0 + timeout - deadline
    assert 0 < margin <= 1.0
    assert margin <= timeout / 10 + 1e-9
    assert deadline > 100.0
