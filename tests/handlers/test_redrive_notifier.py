"""Redrive through the real notifier handler (moto SNS, SQS, DynamoDB Streams): a record whose
alert failed until the fault was fixed is replayed and alerted once; replaying records already
alerted alerts nobody twice."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

import notifier
from realtime_common import aws
from testing import emf
from testing.fake_lambda import FakeLambda
from tools.localenv import resources
from tools.redrive.run import Clients, Target, redrive
from tools.redrive.stream import stream_event

pytestmark = pytest.mark.handler

FUNCTION = "realtime-test-notifier"


class BrokenSns:
    def publish(self, **kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "AuthorizationError", "Message": "kms"}}, "Publish")


@pytest.fixture
def incidents(alerts: Any) -> dict[str, Any]:
    """An Incidents table with a stream, one urgent incident written, its record, and a DLQ."""
    dynamodb = boto3.client("dynamodb")
    stream_arn = resources.ensure_incidents_table(dynamodb, [])  # the local stack's demo table
    dynamodb.put_item(
        TableName="Incidents",
        Item={
            "incidentId": {"S": "INC-7"},
            "urgency": {"S": "critical"},
            "status": {"S": "open"},
            "title": {"S": "Gas leak"},
        },
    )
    streams = boto3.client("dynamodbstreams")
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    (record,) = streams.get_records(ShardIterator=iterator)["Records"]
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="realtime-test-notifier-dlq")["QueueUrl"]
    return {
        "stream_arn": stream_arn,
        "shard_id": shard["ShardId"],
        "record": record,
        "queue_url": queue_url,
    }


def park(incidents: dict[str, Any]) -> None:
    sequence = incidents["record"]["dynamodb"]["SequenceNumber"]
    boto3.client("sqs").send_message(
        QueueUrl=incidents["queue_url"],
        MessageBody=json.dumps(
            {
                "requestContext": {"condition": "RetryAttemptsExhausted"},
                "DDBStreamBatchInfo": {
                    "shardId": incidents["shard_id"],
                    "startSequenceNumber": sequence,
                    "endSequenceNumber": sequence,
                    "batchSize": 1,
                    "streamArn": incidents["stream_arn"],
                },
            }
        ),
    )


def replay(incidents: dict[str, Any], context: Any) -> Any:
    lam = FakeLambda(lambda name, event: notifier.handler(event, context))
    clients = Clients(
        sqs=boto3.client("sqs"),
        streams=boto3.client("dynamodbstreams"),
        lambda_=lam,  # type: ignore[arg-type]
    )
    target = Target("notifier", incidents["queue_url"], FUNCTION)
    return redrive(clients, [target], dry_run=False, progress=lambda line: None)


def queued(queue_url: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(v) for v in attributes.values())


def test_a_record_that_failed_until_the_fault_was_fixed_is_alerted_once(
    incidents: dict[str, Any],
    alerts: Any,
    context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The stream mapping delivered the record while publishing was broken: reported failed,
    # retried until parked (here: parked directly).
    sequence = incidents["record"]["dynamodb"]["SequenceNumber"]
    with monkeypatch.context() as broken:
        broken.setattr(aws, "sns_client", BrokenSns)
        event = stream_event([incidents["record"]], incidents["stream_arn"])
        assert notifier.handler(event, context) == {
            "batchItemFailures": [{"itemIdentifier": sequence}]
        }
    park(incidents)
    assert alerts.read() == []

    # Fault fixed: the redrive replays the record, the alert goes out, the message is deleted.
    report = replay(incidents, context)
    assert report.ok and report.records_replayed == 1
    (envelope,) = alerts.read()
    assert json.loads(envelope["Message"])["incident"]["incidentId"] == "INC-7"
    assert queued(incidents["queue_url"]) == 0


def test_replaying_an_already_alerted_record_alerts_nobody_twice(
    incidents: dict[str, Any],
    alerts: Any,
    context: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    park(incidents)
    park(incidents)  # the same batch parked twice (a redrive run twice, a retry storm)
    report = replay(incidents, context)
    assert report.ok and len(report.replayed) == 2
    assert len(alerts.read()) == 1
    totals = [emf.metrics(doc) for doc in emf.documents(capsys.readouterr().out)]
    assert {"AlertsPublished": 1.0, "RecordsFailed": 0.0} in totals
    assert {"DuplicateAlertsSuppressed": 1.0, "RecordsFailed": 0.0} in totals
