"""broadcaster.handler end to end in moto: Connections scan (all pages), moto's management API
stub receiving the posts, partial batch responses. Failure modes (410, 429, 5xx, concurrency)
need a management API that misbehaves: see tests/fanout."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3
import pytest
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
from moto.core import DEFAULT_ACCOUNT_ID

import broadcaster
from realtime_common.config import ConfigError

pytestmark = pytest.mark.handler

EVENTS = Path(__file__).resolve().parents[2] / "events"
CALLBACK_URL = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod"


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


@pytest.fixture
def env(connections_table: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("WS_CALLBACK_URL", CALLBACK_URL)
    monkeypatch.setenv("FANOUT_CONCURRENCY", "8")
    return connections_table


def add_connection(table: Any, connection_id: str, expires_in: int = 3600, **extra: Any) -> None:
    table.put_item(
        Item={
            "pk": f"CONN#{connection_id}",
            "sk": "META#",
            "userId": "u",
            "role": "viewer",
            "connectedAt": "2026-11-27T14:40:00Z",
            "expiresAt": int(time.time()) + expires_in,
            **extra,
        }
    )


def received() -> dict[str, list[dict[str, Any]]]:
    """Messages moto's management API stub received, per connection id (decoded)."""
    backend = apigatewaymanagementapi_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    out = {}
    decoder = json.JSONDecoder()
    for connection_id, connection in backend.connections.items():
        text, messages = connection.data.decode(), []
        while text:
            message, end = decoder.raw_decode(text)
            messages.append(message)
            text = text[end:]
        out[unquote(connection_id)] = messages
    return out


def test_insert_reaches_every_live_connection(env: Any, context: Any) -> None:
    add_connection(env, "live-1=")
    add_connection(env, "live-2=")
    add_connection(env, "expired=", expires_in=-10)  # TTL not yet applied by DynamoDB
    response = broadcaster.handler(load_event("stream-insert.json"), context)
    assert response == {"batchItemFailures": []}
    got = received()
    assert set(got) == {"live-1=", "live-2="}
    (message,) = got["live-1="]
    assert message["type"] == "incident.created"
    assert message["eventId"] == "7de3041b4a9ab3c4e4b1a5e4c9d2a1f0"
    assert message["sequence"] == "100000000000000000001"
    assert message["keys"] == {"pk": "INCIDENT#INC-2026-0042", "sk": "META"}
    assert message["incident"]["urgency"] == "high"
    assert message["incident"]["location"]["lat"] == 40.4168
    assert message["incident"]["units"] == ["AMB-3", "ENG-12"]
    assert got["live-2="] == got["live-1="]


def test_modify_is_an_update_and_remove_is_ignored(env: Any, context: Any) -> None:
    add_connection(env, "c1")
    assert broadcaster.handler(load_event("stream-remove.json"), context) == {
        "batchItemFailures": []
    }
    assert received() == {}
    broadcaster.handler(load_event("stream-modify.json"), context)
    (message,) = received()["c1"]
    assert message["type"] == "incident.updated"
    assert message["incident"]["urgency"] == "critical"


def test_batch_is_delivered_in_stream_order(env: Any, context: Any) -> None:
    add_connection(env, "c1")
    assert broadcaster.handler(load_event("stream-batch.json"), context) == {
        "batchItemFailures": []
    }
    sequences = [m["sequence"] for m in received()["c1"]]
    # the REMOVE (...013) is not sent
    assert sequences == ["100000000000000000010", "100000000000000000011", "100000000000000000012"]


def test_every_type_arrives_as_plain_json(env: Any, context: Any) -> None:
    add_connection(env, "c1")
    broadcaster.handler(load_event("stream-all-types.json"), context)
    (message,) = received()["c1"]
    incident = message["incident"]
    assert incident["bigCount"] == 12345678901234567890
    assert incident["severityScore"] == 7.25
    assert incident["attachment"] == "iVBORw0KGgo="
    assert incident["sectors"] == [3, 7.5, 12]
    assert incident["verified"] is True
    assert incident["assignee"] is None
    assert incident["title"] == "Incendio en almacén \u2013 nivel ⚠"


def test_malformed_records_are_reported_and_the_rest_delivered(env: Any, context: Any) -> None:
    add_connection(env, "c1")
    response = broadcaster.handler(load_event("stream-malformed.json"), context)
    assert response == {
        "batchItemFailures": [
            {"itemIdentifier": "100000000000000000021"},
            {"itemIdentifier": "100000000000000000022"},
        ]
    }
    assert [m["sequence"] for m in received()["c1"]] == [
        "100000000000000000020",
        "100000000000000000023",
    ]


def test_connections_past_the_first_scan_page_are_reached(env: Any, context: Any) -> None:
    # ~1.2 MB of rows: DynamoDB (and moto) cut a Scan page at 1 MB.
    padding = "p" * 10_000
    for n in range(120):
        add_connection(env, f"conn-{n:03d}", padding=padding)
    first_page = boto3.client("dynamodb").scan(TableName=env.name)
    assert "LastEvaluatedKey" in first_page  # the table really spans pages
    assert broadcaster.handler(load_event("stream-insert.json"), context) == {
        "batchItemFailures": []
    }
    got = received()
    assert len(got) == 120
    assert all(len(messages) == 1 for messages in got.values())


def test_no_connections_is_a_success(env: Any, context: Any) -> None:
    assert broadcaster.handler(load_event("stream-batch.json"), context) == {
        "batchItemFailures": []
    }


def test_event_without_records_fails_the_invocation(env: Any, context: Any) -> None:
    with pytest.raises(ValueError, match="Records"):
        broadcaster.handler({"records": []}, context)


def test_missing_callback_url_fails_naming_it(
    connections_table: Any, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WS_CALLBACK_URL", raising=False)
    with pytest.raises(ConfigError, match="WS_CALLBACK_URL"):
        broadcaster.handler(load_event("stream-insert.json"), context)
