"""notifier.handler in moto: SNS -> SQS read-back, Powertools idempotency in DynamoDB, partial
batch responses."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

import notifier
from realtime_common import aws
from realtime_common.config import ConfigError
from testing.events import load_event

pytestmark = pytest.mark.handler


def test_urgent_insert_publishes_one_alert(alerts: Any, context: Any) -> None:
    response = notifier.handler(load_event("stream-insert.json"), context)
    assert response == {"batchItemFailures": []}
    (envelope,) = alerts.read()
    assert envelope["TopicArn"] == alerts.topic_arn
    assert envelope["Subject"] == "New HIGH incident: Structure fire, 3rd floor"
    body = json.loads(envelope["Message"])
    assert body["reason"] == "created_urgent"
    assert body["incident"]["incidentId"] == "INC-2026-0042"
    assert body["incident"]["urgency"] == "high"
    assert body["eventId"] == "7de3041b4a9ab3c4e4b1a5e4c9d2a1f0"
    assert {name: a["Value"] for name, a in envelope["MessageAttributes"].items()} == {
        "urgency": "high",
        "status": "open",
        "reason": "created_urgent",
    }


def test_a_retried_batch_does_not_alert_twice(alerts: Any, context: Any) -> None:
    event = load_event("stream-insert.json")
    notifier.handler(event, context)
    notifier.handler(copy.deepcopy(event), context)
    notifier.handler(copy.deepcopy(event), context)
    assert len(alerts.read()) == 1
    (item,) = alerts.idempotency.scan()["Items"]
    assert item["status"] == "COMPLETED"
    assert item["id"].startswith("notifier.publish_alert#")
    assert int(item["expiration"]) > 0  # TTL attribute for the table


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        ("stream-modify.json", "urgency_raised"),
        ("stream-modify-escalated.json", "status_escalated"),
    ],
)
def test_modify_rules(alerts: Any, context: Any, fixture: str, reason: str) -> None:
    assert notifier.handler(load_event(fixture), context) == {"batchItemFailures": []}
    (envelope,) = alerts.read()
    assert envelope["MessageAttributes"]["reason"]["Value"] == reason
    assert json.loads(envelope["Message"])["reasons"] == [reason]


def test_non_alerting_records_publish_nothing_and_store_nothing(alerts: Any, context: Any) -> None:
    # stream-batch: a medium INSERT, critical->critical MODIFY, a status change that is not an
    # escalation and a REMOVE.
    assert notifier.handler(load_event("stream-batch.json"), context) == {"batchItemFailures": []}
    notifier.handler(load_event("stream-remove.json"), context)
    assert alerts.read() == []
    assert alerts.idempotency.scan()["Items"] == []


def test_malformed_records_are_reported_and_the_rest_published(alerts: Any, context: Any) -> None:
    response = notifier.handler(load_event("stream-malformed.json"), context)
    assert response == {
        "batchItemFailures": [
            {"itemIdentifier": "100000000000000000021"},
            {"itemIdentifier": "100000000000000000022"},
        ]
    }
    (envelope,) = alerts.read()  # the critical INSERT; the low one does not alert
    assert json.loads(envelope["Message"])["incident"]["incidentId"] == "INC-2026-0049"


def test_modify_without_old_image_is_reported_failed(alerts: Any, context: Any) -> None:
    event = load_event("stream-modify.json")
    del event["Records"][0]["dynamodb"]["OldImage"]
    response = notifier.handler(event, context)
    assert response == {"batchItemFailures": [{"itemIdentifier": "100000000000000000002"}]}
    assert alerts.read() == []


class FlakySns:
    """Wraps the real (moto) SNS client; the first publish for ``fail_event`` raises."""

    def __init__(self, real: Any, fail_subject_part: str) -> None:
        self.real = real
        self.fail_subject_part = fail_subject_part
        self.failed = 0

    def publish(self, **kwargs: Any) -> Any:
        if self.fail_subject_part in kwargs["Subject"] and not self.failed:
            self.failed += 1
            raise ClientError({"Error": {"Code": "InternalError", "Message": "boom"}}, "Publish")
        return self.real.publish(**kwargs)


def test_failed_publish_is_retried_without_duplicating_the_others(
    alerts: Any, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    insert = load_event("stream-insert.json")["Records"][0]
    escalated = load_event("stream-modify-escalated.json")["Records"][0]
    event = {"Records": [insert, escalated]}
    flaky = FlakySns(aws.sns_client(), "escalated")
    with monkeypatch.context() as patch:
        patch.setattr(aws, "sns_client", lambda: flaky)

        first = notifier.handler(copy.deepcopy(event), context)
        assert first == {"batchItemFailures": [{"itemIdentifier": "100000000000000000003"}]}
        assert [e["MessageAttributes"]["reason"]["Value"] for e in alerts.read()] == [
            "created_urgent"
        ]

        # Lambda retries the batch from the failed record on; here the whole batch, the worst case.
        second = notifier.handler(copy.deepcopy(event), context)
        assert second == {"batchItemFailures": []}
        assert [e["MessageAttributes"]["reason"]["Value"] for e in alerts.read()] == [
            "status_escalated"
        ]
        statuses = sorted(item["status"] for item in alerts.idempotency.scan()["Items"])
        assert statuses == ["COMPLETED", "COMPLETED"]


def test_every_record_failing_is_still_a_partial_response(
    alerts: Any, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SNS_TOPIC_ARN", alerts.topic_arn.replace("realtime-alerts", "missing"))
    response = notifier.handler(load_event("stream-insert.json"), context)
    assert response == {"batchItemFailures": [{"itemIdentifier": "100000000000000000001"}]}
    # the failed attempt left no idempotency record behind, so the retry can publish
    assert alerts.idempotency.scan()["Items"] == []


# The metrics namespace (realtime_common.metrics) and the idempotency table, both set by Terraform.
@pytest.mark.parametrize("variable", ["IDEMPOTENCY_TABLE", "POWERTOOLS_METRICS_NAMESPACE"])
def test_a_missing_variable_fails_naming_it_and_publishes_nothing(
    alerts: Any, context: Any, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.delenv(variable)
    with pytest.raises(ConfigError, match=variable):
        notifier.handler(load_event("stream-insert.json"), context)
    assert alerts.read() == []
