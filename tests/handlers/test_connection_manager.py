"""on_connect / on_disconnect against moto DynamoDB with the events/ fixtures."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest

import connection_manager
from realtime_common.config import ConfigError
from testing.events import load_event

pytestmark = pytest.mark.handler

CONNECTION_ID = "Q0nLdeAaIAMCJ1A="


def rows(table: Any) -> list[dict[str, Any]]:
    return table.scan()["Items"]


def test_connect_stores_the_connection_with_a_ttl(connections_table: Any, context: Any) -> None:
    before = int(time.time())
    response = connection_manager.on_connect(load_event("connect.json"), context)
    after = int(time.time())
    assert response == {"statusCode": 200, "body": "Connected"}
    (item,) = rows(connections_table)
    assert item["pk"] == f"CONN#{CONNECTION_ID}"
    assert item["sk"] == "META#"
    assert item["userId"] == "user-42"
    assert item["role"] == "dispatcher"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", item["connectedAt"])
    # never outlives API Gateway's 2 h connection limit, counted from the connect
    assert before + 7200 <= int(item["expiresAt"]) <= after + 7200
    assert set(item) == {"pk", "sk", "userId", "role", "connectedAt", "expiresAt", "areas"}
    assert item["areas"] == '["*"]'  # no areas in the authorizer's context: DEFAULT_AREAS


def without_connection_id() -> dict[str, Any]:
    event = load_event("connect.json")
    del event["requestContext"]["connectionId"]
    return event


@pytest.mark.parametrize(
    ("make_event", "status"),
    [
        pytest.param(lambda: load_event("connect-no-identity.json"), 401, id="no identity"),
        pytest.param(lambda: load_event("connect-unknown-role.json"), 403, id="role forbidden"),
        # Identity from the query string is for local development: refused unless allowed.
        pytest.param(lambda: load_event("connect-query-identity.json"), 401, id="query identity"),
        pytest.param(without_connection_id, 400, id="no connection id: bad request"),
        pytest.param(lambda: connect_event("north*"), 401, id="unreadable areas in the context"),
    ],
)
def test_a_refused_connect_answers_its_status_and_writes_nothing(
    connections_table: Any, context: Any, make_event: Callable[[], dict[str, Any]], status: int
) -> None:
    response = connection_manager.on_connect(make_event(), context)
    assert response["statusCode"] == status
    assert rows(connections_table) == []


def test_query_identity_accepted_when_the_deployment_allows_it(
    connections_table: Any, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALLOW_QUERY_IDENTITY", "true")
    monkeypatch.setenv("CONNECTION_TTL_SECONDS", "600")
    response = connection_manager.on_connect(load_event("connect-query-identity.json"), context)
    assert response["statusCode"] == 200
    (item,) = rows(connections_table)
    assert (item["userId"], item["role"]) == ("dev-user", "viewer")
    assert int(item["expiresAt"]) - int(time.time()) <= 600


def test_disconnect_removes_the_row_and_is_idempotent(connections_table: Any, context: Any) -> None:
    connection_manager.on_connect(load_event("connect.json"), context)
    other = load_event("connect.json")
    other["requestContext"]["connectionId"] = "OtherConn="
    connection_manager.on_connect(other, context)
    assert len(rows(connections_table)) == 2

    event = load_event("disconnect.json")
    assert connection_manager.on_disconnect(event, context)["statusCode"] == 200
    assert [item["pk"] for item in rows(connections_table)] == ["CONN#OtherConn="]
    # The row is already gone (TTL, a 410 seen by the broadcaster): still a success.
    assert connection_manager.on_disconnect(event, context)["statusCode"] == 200


def test_missing_table_variable_fails_naming_it(
    aws_env: None, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONNECTIONS_TABLE", raising=False)
    with pytest.raises(ConfigError, match="CONNECTIONS_TABLE"):
        connection_manager.on_connect(load_event("connect.json"), context)


def test_table_failure_refuses_the_connection(
    connect_environment: None, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The table does not exist: the put fails and API Gateway answers 500 (connection refused),
    # rather than the handler pretending the client is registered.
    monkeypatch.setenv("CONNECTIONS_TABLE", "no-such-table")
    with pytest.raises(Exception, match="ResourceNotFoundException"):
        connection_manager.on_connect(load_event("connect.json"), context)


def test_connect_selects_the_bearer_subprotocol_it_was_offered(
    connections_table: Any, context: Any
) -> None:
    event = load_event("connect.json")
    event["headers"]["Sec-WebSocket-Protocol"] = "bearer, eyJhbGciOiJIUzI1NiJ9.e30.c2ln"
    response = connection_manager.on_connect(event, context)
    # A browser drops a handshake whose answer selects none of the offered subprotocols; the
    # token that followed "bearer" is never echoed.
    assert response == {
        "statusCode": 200,
        "body": "Connected",
        "headers": {"Sec-WebSocket-Protocol": "bearer"},
    }


def test_connect_without_offered_subprotocol_sends_no_header(
    connections_table: Any, context: Any
) -> None:
    event = load_event("connect.json")
    event["headers"]["Sec-WebSocket-Protocol"] = "chat"
    assert "headers" not in connection_manager.on_connect(event, context)


def test_refused_identity_is_logged_bounded_and_escaped(
    connections_table: Any, context: Any, caplog: pytest.LogCaptureFixture
) -> None:
    event = load_event("connect.json")
    event["requestContext"]["authorizer"]["userId"] = "evil\x9b[2J\x85" + "x" * 5000
    response = connection_manager.on_connect(event, context)
    assert response["statusCode"] == 401
    assert rows(connections_table) == []
    logged = "\n".join(json.dumps(vars(r), default=str, ensure_ascii=False) for r in caplog.records)
    assert "connection refused" in logged
    assert "\x9b" not in logged and "\x85" not in logged and "x" * 100 not in logged


# --------------------------------------------------------------------------------------------
# Subscriptions: the permission and a connect-time filter on the row
# --------------------------------------------------------------------------------------------
def connect_event(areas: str | None = None, filter_text: str | None = None) -> dict[str, Any]:
    event = load_event("connect.json")
    if areas is not None:
        event["requestContext"]["authorizer"]["areas"] = areas
    if filter_text is not None:
        event["queryStringParameters"] = {**(event.get("queryStringParameters") or {})}
        event["queryStringParameters"]["filter"] = filter_text
    return event


def test_connect_stores_the_authorizers_areas(connections_table: Any, context: Any) -> None:
    response = connection_manager.on_connect(connect_event('["north/*"]'), context)
    assert response["statusCode"] == 200
    (item,) = rows(connections_table)
    assert item["areas"] == '["north/*"]'
    assert "filter" not in item  # absent: {} within the areas


def test_connect_time_filter_is_narrowed_to_the_areas_and_stored(
    connections_table: Any, context: Any
) -> None:
    asked = json.dumps({"area": ["north", "harbour"], "urgency": ["high"]})
    response = connection_manager.on_connect(connect_event('["north"]', asked), context)
    assert response["statusCode"] == 200
    (item,) = rows(connections_table)
    assert item["filter"] == '{"area":["north"],"urgency":["high"]}'


def test_token_without_areas_gets_the_terraform_default(
    connections_table: Any, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEFAULT_AREAS", "[]")
    assert connection_manager.on_connect(connect_event(), context)["statusCode"] == 200
    (item,) = rows(connections_table)
    assert item["areas"] == "[]"


@pytest.mark.parametrize(
    ("filter_text", "says"),
    [
        ("area=north", "not JSON"),
        ('{"colour":["red"]}', "not filterable"),
        ('{"area":"north"}', "must be a list of strings"),
    ],
)
def test_bad_connect_time_filter_refuses_the_connection(
    connections_table: Any, context: Any, filter_text: str, says: str
) -> None:
    response = connection_manager.on_connect(connect_event(None, filter_text), context)
    assert response["statusCode"] == 400
    assert response["body"].startswith("Bad request: ") and says in response["body"]
    assert rows(connections_table) == []
