"""End-to-end redrive on the local stack: a record the broadcaster failed until the fault was
fixed is parked, replayed by tools.redrive, and delivered to a real WebSocket client.

Slow by nature (about 65 s): the emulator retries a failing batch about once a second until the
record is older than maximum_record_age_in_seconds (60 s in envs/local.tfvars), then parks it.
"""

from __future__ import annotations

from typing import Any

import pytest

from tools.redrive.run import Clients, Target, redrive

pytestmark = pytest.mark.e2e


def visible(sqs: Any, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def test_a_record_parked_until_the_fault_was_fixed_is_redriven_to_a_client(stack, clients):
    lam, sqs = stack.client("lambda"), stack.client("sqs")
    broadcaster, dlq_url, max_age = stack.dead_letters("broadcaster")
    already = visible(sqs, dlq_url)
    handler = lam.get_function_configuration(FunctionName=broadcaster)["Handler"]
    client = clients(stack.new_id("u"), "dispatcher")
    incident = stack.new_id("REDRIVE")

    def set_handler(value: str) -> None:
        lam.update_function_configuration(FunctionName=broadcaster, Handler=value)
        stack.wait_until(
            lambda: (
                lam.get_function_configuration(FunctionName=broadcaster)["LastUpdateStatus"]
                == "Successful"
            ),
            30,
            "the broadcaster's configuration update",
        )

    try:
        # The fault: a handler that does not exist, so every delivery of the batch fails.
        set_handler("broadcaster.no_such_handler")
        stack.write_incident(incident, urgency="high", status="open", title="parked")
        stack.wait_until(
            lambda: visible(sqs, dlq_url) > already,
            max_age + 45,
            "the failed batch in the broadcaster's dead-letter queue",
        )
        assert client.for_incident(incident) == []  # nothing reached the client meanwhile
    finally:
        set_handler(handler)  # the fault is fixed

    lines: list[str] = []
    report = redrive(
        Clients(sqs=sqs, streams=stack.client("dynamodbstreams"), lambda_=stack.client("lambda")),
        [Target("broadcaster", dlq_url, broadcaster)],
        dry_run=False,
        progress=lines.append,
    )
    assert report.ok, "\n".join(lines)
    assert report.records_replayed >= 1
    ((_, message),) = client.wait_messages(incident)
    assert message["keys"] == {"incidentId": incident}
    assert visible(sqs, dlq_url) == 0
