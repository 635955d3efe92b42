"""The broadcaster's worker path on the local stack, over real WebSockets.

The Broadcaster's FANOUT_WORKER_THRESHOLD is lowered to 1 for the test (through the Lambda API,
restored afterwards), so every broadcast goes through one `fanout_worker.handler` invocation per
parallel-Scan segment; real clients must still receive every record, in order, signed posts
accepted by the emulator's management API.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.e2e


def unpacked(client: Any, incident_id: str) -> list[dict[str, Any]]:
    """The client's messages for an incident, batch frames unpacked, in arrival order."""
    out = []
    for _, frame in list(client.messages):
        for message in frame["messages"] if frame.get("type") == "batch" else [frame]:
            if (message.get("keys") or {}).get("incidentId") == incident_id:
                out.append(message)
    return out


@pytest.fixture
def worker_path(stack: Any) -> Iterator[str]:
    """Force the worker path; yields the worker function's name."""
    lam = stack.client("lambda")
    broadcaster = stack.outputs["function_names"]["broadcaster"]
    before = lam.get_function_configuration(FunctionName=broadcaster)["Environment"]["Variables"]
    lam.update_function_configuration(
        FunctionName=broadcaster,
        Environment={
            "Variables": {**before, "FANOUT_WORKER_THRESHOLD": "1", "FANOUT_MAX_WORKERS": "3"}
        },
    )
    try:
        yield stack.outputs["fanout_worker_function_name"]
    finally:
        lam.update_function_configuration(
            FunctionName=broadcaster, Environment={"Variables": before}
        )


def test_records_reach_real_clients_through_the_worker_path(
    stack: Any, clients: Any, worker_path: str
) -> None:
    listeners = [clients(stack.new_id("w"), "dispatcher") for _ in range(4)]
    incident = stack.new_id()
    updates = 3
    started = time.time()
    for revision in range(updates):
        stack.write_incident(incident, urgency="medium", status="open", revision=revision)

    for client in listeners:
        stack.wait_until(
            lambda c=client: len({m["eventId"] for m in unpacked(c, incident)}) >= updates,
            60,
            f"{updates} messages for {incident} through the workers",
        )
        first_seen: dict[str, dict[str, Any]] = {}
        for message in unpacked(client, incident):
            first_seen.setdefault(message["eventId"], message)
        assert [m["incident"]["revision"] for m in first_seen.values()] == list(range(updates))

    # The worker function ran (its own log group holds its segment summaries).
    logs = stack.client("logs")
    events = logs.filter_log_events(
        logGroupName=f"/aws/lambda/{worker_path}", startTime=int(started * 1000)
    )["events"]
    summaries = [
        json.loads(e["message"])
        for e in events
        if "fan-out segment finished" in e["message"] and e["message"].startswith("{")
    ]
    assert summaries, "the fan-out worker logged no segment"
    assert {s["total_segments"] for s in summaries} <= {2, 3}
