"""The state table on the local stack: the Broadcaster writes it before it sends (a REMOVE as a
tombstone and a live ``incident.removed``), and ``tools.backfill`` fills it with incidents written
while no stream was bound, never over what a stream record wrote."""

from __future__ import annotations

import time

import pytest

from tools.backfill.run import Options, backfill
from tools.backfill.target import from_outputs
from tools.localenv.resources import INCIDENTS_KEY

pytestmark = pytest.mark.e2e

STATE_TIMEOUT_S = 30.0


def test_a_removed_incident_becomes_a_tombstone_and_a_live_removal(stack, clients):
    client = clients(stack.new_id("u"), "viewer")
    incident = stack.new_id("REMOVED")
    stack.write_incident(incident, urgency="low", status="open", title="to be removed")
    client.wait_messages(incident)
    assert stack.state_item(incident)["image"]["M"]["title"] == {"S": "to be removed"}

    stack.client("dynamodb").delete_item(
        TableName=stack.state.incidents_table, Key={INCIDENTS_KEY: {"S": incident}}
    )
    messages = [m for _, m in client.wait_messages(incident, count=2)]
    removed = messages[-1]
    assert removed["type"] == "incident.removed" and "incident" not in removed
    assert removed["keys"] == {INCIDENTS_KEY: incident}
    assert int(removed["sequence"]) > int(messages[0]["sequence"])
    item = stack.state_item(incident)
    assert item is not None and item["removed"] == {"BOOL": True} and "image" not in item
    assert int(item["expiresAt"]["N"]) > time.time() + 3600


def test_incidents_written_while_no_stream_was_bound_are_backfilled(stack):
    ddb = stack.client("dynamodb")
    # Incidents in a table no consumer reads: their changes never reached the state table, as
    # with the Incidents table's incidents from before the stream was bound.
    table = stack.new_id("unbound-incidents")
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": INCIDENTS_KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": INCIDENTS_KEY, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    try:
        ddb.get_waiter("table_exists").wait(TableName=table)
        ids = [stack.new_id("BACKFILL") for _ in range(3)]
        for incident in ids:
            ddb.put_item(
                TableName=table,
                Item={
                    INCIDENTS_KEY: {"S": incident},
                    "title": {"S": "from before the stream"},
                    "status": {"S": "open"},
                },
            )
        assert all(stack.state_item(incident) is None for incident in ids)
        # One of them changes on the bound Incidents table: its stream record must win.
        stack.write_incident(ids[0], urgency="high", status="open", title="from the stream")
        stack.wait_until(
            lambda: stack.state_item(ids[0]) is not None,
            STATE_TIMEOUT_S,
            "the Broadcaster's state write for the changed incident",
        )

        outputs = {name: {"value": value} for name, value in stack.outputs.items()}
        target = from_outputs(outputs, table)
        report = backfill(ddb, target, Options(segments=2))
        assert report.ok, report.failed
        assert (report.scanned, report.written, report.skipped) == (3, 2, 1)
        for incident in ids[1:]:
            item = stack.state_item(incident)
            assert item is not None
            assert (item["sequence"], item["eventName"]) == ({"S": "0"}, {"S": "BACKFILL"})
            assert item["image"]["M"]["title"] == {"S": "from before the stream"}
        assert stack.state_item(ids[0])["image"]["M"]["title"] == {"S": "from the stream"}

        again = backfill(ddb, target, Options(segments=2))
        assert (again.written, again.skipped, again.failed) == (0, 3, [])
    finally:
        ddb.delete_table(TableName=table)
