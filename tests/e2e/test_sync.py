"""The sync route over a real WebSocket against the local stack, without the board (issue 16):
incidents that exist before a client connects arrive with its first sync; a client dropped by
the management API's DeleteConnection, away while one incident changes, one is created and one
is removed, gets exactly those with a since sync after it reconnects."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tools.localenv import emulator
from tools.localenv.resources import INCIDENTS_KEY

pytestmark = pytest.mark.e2e

TIMEOUT_S = 45.0  # a first Lambda invocation on the emulator takes a few seconds


def by_incident(messages: list[dict[str, Any]], ids: set[str]) -> dict[str, dict[str, Any]]:
    """The answer's messages about ``ids`` (other tests' incidents may share the stack)."""
    out = {}
    for message in messages:
        incident_id = message.get("keys", {}).get(INCIDENTS_KEY)
        if incident_id in ids:
            out[incident_id] = message
    return out


def test_a_new_connection_syncs_and_gets_the_incidents_that_exist(stack: Any, clients: Any):
    ids = {stack.new_id("SYNC") for _ in range(3)}
    for incident_id in ids:
        stack.write_incident(incident_id, title=f"existing {incident_id}", status="open")
    for incident_id in ids:
        stack.wait_until(
            lambda i=incident_id: stack.state_item(i), TIMEOUT_S, f"state of {incident_id}"
        )

    client = clients(stack.new_id("sync-user"), "dispatcher")
    messages, complete = client.sync(timeout=TIMEOUT_S)

    assert complete["type"] == "sync.complete" and complete["reset"] is True
    got = by_incident(messages, ids)
    assert set(got) == ids
    assert {m["type"] for m in got.values()} == {"incident.snapshot"}
    assert all(m["incident"]["title"] == f"existing {i}" for i, m in got.items())


def test_a_since_sync_after_a_drop_brings_exactly_what_changed_meanwhile(
    stack: Any, clients: Any
) -> None:
    changed, removed, created = (stack.new_id("SYNC") for _ in range(3))
    for incident_id in (changed, removed):
        stack.write_incident(incident_id, title=f"before {incident_id}", status="open")
        stack.wait_until(
            lambda i=incident_id: stack.state_item(i), TIMEOUT_S, f"state of {incident_id}"
        )
    user = stack.new_id("sync-user")
    first_client = clients(user, "dispatcher")
    _, first = first_client.sync(timeout=TIMEOUT_S)
    connection = {r["pk"]["S"].removeprefix("CONN#") for r in stack.connection_rows(user)}
    assert len(connection) == 1

    management = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=stack.outputs["websocket_management_url"],
        region_name=emulator.REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",  # the emulator's fixed local credentials
    )
    management.delete_connection(ConnectionId=connection.pop())
    stack.wait_until(first_client.closed.is_set, TIMEOUT_S, "the client to see the drop")

    # While it is away: an escalation, a new incident, a removal.
    before = stack.state_item(changed)
    stack.write_incident(changed, status="escalated")
    stack.write_incident(created, title=f"new {created}", status="open")
    stack.client("dynamodb").delete_item(
        TableName=stack.state.incidents_table, Key={INCIDENTS_KEY: {"S": removed}}
    )
    stack.wait_until(
        lambda: (
            (stack.state_item(changed) or {}).get("sequence") != (before or {}).get("sequence")
            and stack.state_item(created)
            and (stack.state_item(removed) or {}).get("removed", {}).get("BOOL")
        ),
        TIMEOUT_S,
        "the gap's changes in the state table",
    )

    second = clients(user, "dispatcher")
    messages, complete = second.sync(timeout=TIMEOUT_S, since=first["cursor"])

    assert complete["type"] == "sync.complete" and complete["reset"] is False
    got = by_incident(messages, {changed, removed, created})
    assert set(got) == {changed, removed, created}
    assert got[changed]["type"] == "incident.snapshot"
    assert got[changed]["incident"]["status"] == "escalated"
    assert got[created]["type"] == "incident.snapshot"
    assert got[removed]["type"] == "incident.removed" and "incident" not in got[removed]
