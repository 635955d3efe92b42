"""Broadcaster pure logic: messages, the size envelope, retries, outcomes, connection listing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from broadcaster import (
    MAX_PAYLOAD_BYTES,
    ConnectionReport,
    Delivery,
    Outcome,
    RetryPolicy,
    build_message,
    encode_message,
    failed_message_indexes,
    list_connections,
)
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
# Retry policy
# ---------------------------------------------------------------------------------------------
def test_full_jitter_backoff_is_bounded_and_exponential() -> None:
    top = RetryPolicy(base_delay=0.1, max_delay=1.0, jitter=lambda: 1.0)
    assert [top.delay(n) for n in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    bottom = RetryPolicy(base_delay=0.1, max_delay=1.0, jitter=lambda: 0.0)
    assert bottom.delay(3) == 0.0


# ---------------------------------------------------------------------------------------------
# Delivery against a scripted client
# ---------------------------------------------------------------------------------------------
def client_error(status: int, code: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "PostToConnection",
    )


class ScriptedManagement:
    """post_to_connection answers from a per-connection script (exceptions or None for 200)."""

    def __init__(self, scripts: dict[str, list[Exception | None]]) -> None:
        self.scripts = {cid: iter(steps) for cid, steps in scripts.items()}
        self.calls: list[tuple[str, bytes]] = []

    def post_to_connection(self, ConnectionId: str, Data: bytes) -> dict:
        self.calls.append((ConnectionId, Data))
        step = next(self.scripts[ConnectionId], None)
        if step is not None:
            raise step
        return {}


class RecordingDynamo:
    def __init__(self, pages: list[list[dict]] | None = None) -> None:
        self.deleted: list[dict] = []
        self.pages = pages or []
        self.scan_kwargs: dict = {}

    def delete_item(self, **kwargs: Any) -> dict:
        self.deleted.append(kwargs)
        return {}

    def get_paginator(self, name: str) -> RecordingDynamo:
        assert name == "scan"
        return self

    def paginate(self, **kwargs: Any) -> Iterator[dict]:
        self.scan_kwargs = kwargs
        for items in self.pages:
            yield {"Items": items}


def delivery(
    management: ScriptedManagement, dynamo: RecordingDynamo, max_attempts: int = 4
) -> Delivery:
    sleeps: list[float] = []
    retry = RetryPolicy(max_attempts=max_attempts, sleep=sleeps.append, jitter=lambda: 0.5)
    d = Delivery(management, dynamo, table="conns", policy=retry, deadline=float("inf"))
    d.sleeps = sleeps  # type: ignore[attr-defined]
    return d


MESSAGES = [b"m1", b"m2", b"m3"]


def test_all_messages_delivered_in_order() -> None:
    management = ScriptedManagement({"c1": []})
    report = delivery(management, RecordingDynamo()).to_connection("c1", MESSAGES)
    assert report.outcomes == [Outcome.DELIVERED] * 3
    assert [data for _, data in management.calls] == MESSAGES


def test_throttling_is_retried_with_backoff_then_delivered() -> None:
    management = ScriptedManagement(
        {
            "c1": [
                client_error(429, "LimitExceededException"),
                client_error(503, "ServiceUnavailable"),
            ]
        }
    )
    d = delivery(management, RecordingDynamo())
    report = d.to_connection("c1", MESSAGES[:1])
    assert report.outcomes == [Outcome.DELIVERED]
    assert report.attempts == 3
    assert report.retries == 2
    assert d.sleeps == [0.05, 0.1]  # type: ignore[attr-defined]  (jitter 0.5 x 0.1 x 2^n)


def test_server_errors_exhaust_the_attempts_and_stop_the_connection() -> None:
    management = ScriptedManagement({"c1": [client_error(500, "InternalServerError")] * 10})
    report = delivery(management, RecordingDynamo(), max_attempts=3).to_connection("c1", MESSAGES)
    assert report.outcomes == [
        Outcome.UNREACHABLE,
        Outcome.AFTER_UNREACHABLE,
        Outcome.AFTER_UNREACHABLE,
    ]
    assert len(management.calls) == 3  # later messages are not posted out of order


def test_network_errors_are_retried() -> None:
    management = ScriptedManagement(
        {"c1": [EndpointConnectionError(endpoint_url="http://127.0.0.1:1")]}
    )
    report = delivery(management, RecordingDynamo()).to_connection("c1", MESSAGES[:1])
    assert report.outcomes == [Outcome.DELIVERED]
    assert report.errors["EndpointConnectionError"] == 1


def test_gone_deletes_the_row_and_skips_the_rest() -> None:
    management = ScriptedManagement({"c1": [client_error(410, "GoneException")]})
    dynamo = RecordingDynamo()
    report = delivery(management, dynamo).to_connection("c1", MESSAGES)
    assert report.outcomes == [Outcome.GONE, Outcome.AFTER_GONE, Outcome.AFTER_GONE]
    assert dynamo.deleted == [
        {"TableName": "conns", "Key": {"pk": {"S": "CONN#c1"}, "sk": {"S": "META#"}}}
    ]
    assert report.row_deleted
    assert len(management.calls) == 1


def test_payload_too_large_skips_that_message_only() -> None:
    management = ScriptedManagement({"c1": [client_error(413, "PayloadTooLargeException")]})
    report = delivery(management, RecordingDynamo()).to_connection("c1", MESSAGES)
    assert report.outcomes == [Outcome.CLIENT_ERROR, Outcome.DELIVERED, Outcome.DELIVERED]
    assert report.attempts == 3


def test_forbidden_is_not_retried() -> None:
    management = ScriptedManagement({"c1": [client_error(403, "ForbiddenException")] * 5})
    report = delivery(management, RecordingDynamo()).to_connection("c1", MESSAGES)
    assert report.outcomes[0] is Outcome.UNREACHABLE
    assert report.attempts == 1


def test_past_deadline_nothing_is_posted() -> None:
    management = ScriptedManagement({"c1": []})
    d = Delivery(management, RecordingDynamo(), table="t", policy=RetryPolicy(), deadline=0.0)
    report = d.to_connection("c1", MESSAGES)
    assert report.outcomes == [Outcome.DEADLINE] * 3
    assert management.calls == []


# ---------------------------------------------------------------------------------------------
# Which records fail
# ---------------------------------------------------------------------------------------------
def reports(*rows: list[Outcome]) -> list[ConnectionReport]:
    return [ConnectionReport(f"c{i}", list(row)) for i, row in enumerate(rows)]


D, G, C, U = Outcome.DELIVERED, Outcome.GONE, Outcome.CLIENT_ERROR, Outcome.UNREACHABLE
AG, AU, DL = Outcome.AFTER_GONE, Outcome.AFTER_UNREACHABLE, Outcome.DEADLINE


@pytest.mark.parametrize(
    ("rows", "failed"),
    [
        ([[D, D], [D, D]], []),
        ([[U, AU], [D, D]], []),  # one misbehaving client is not the record's failure
        ([[U, AU], [U, AU]], [0, 1]),  # management API unreachable for everyone
        ([[D, U], [D, U]], [1]),
        ([[G, AG], [G, AG]], []),  # everyone gone: nothing left to deliver to
        ([[C, D], [U, AU]], []),  # a 413 proves the API answered
        ([[D, DL], [D, D]], [1]),  # out of time before reaching everyone
        ([], []),  # no connections at all
    ],
)
def test_failed_message_indexes(rows: list[list[Outcome]], failed: list[int]) -> None:
    assert failed_message_indexes(reports(*rows), 2) == failed


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
    assert list_connections(dynamo, "conns", now=1000.0) == ["a", "c", "d"]
    assert dynamo.scan_kwargs["TableName"] == "conns"
    assert dynamo.scan_kwargs["ProjectionExpression"] == "pk, expiresAt"
