"""Handler tests: moto ``mock_aws`` with the Connections table, the idempotency table and an SNS
topic whose alerts land in an SQS queue so tests can read them back."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from testing import terraform_defaults
from testing.fake_management_api import FakeManagementApi
from testing.lambda_context import LambdaContext

REGION = "us-east-1"
CONNECTIONS_TABLE = "realtime-connections"
IDEMPOTENCY_TABLE = "realtime-idempotency"
TOPIC_NAME = "realtime-alerts"


@pytest.fixture
def context() -> LambdaContext:
    return LambdaContext()


@pytest.fixture
def broadcaster_environment(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """What Terraform sets on the broadcaster besides names of resources (main.tf and
    fanout_workers.tf, with variables.tf's defaults): its reader requires it."""
    for name, value in terraform_defaults.BROADCASTER.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FANOUT_WORKER_FUNCTION", "realtime-fanout-worker")


@pytest.fixture
def connect_environment(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """What Terraform sets on connect and disconnect besides the table name (main.tf's
    connection_environment, with variables.tf's defaults): their reader requires it."""
    for name, value in terraform_defaults.CONNECT.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def connections_table(
    connect_environment: None,
    monkeypatch: pytest.MonkeyPatch,
    create_connections_table: Callable[[str], Any],
) -> Any:
    table = create_connections_table(CONNECTIONS_TABLE)
    monkeypatch.setenv("CONNECTIONS_TABLE", CONNECTIONS_TABLE)
    return table


STATE_TABLE = "realtime-state"


@pytest.fixture
def state_table(
    aws_env: None,
    monkeypatch: pytest.MonkeyPatch,
    create_state_table: Callable[[str], Any],
) -> Any:
    """The state table and the settings Terraform gives the Broadcaster and sync (its
    defaults)."""
    for name, value in {"STATE_TABLE": STATE_TABLE, **terraform_defaults.INCIDENT_STATE}.items():
        monkeypatch.setenv(name, value)
    return create_state_table(STATE_TABLE)


@pytest.fixture
def posting_env(
    connections_table: Any,
    state_table: Any,
    api: FakeManagementApi,
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    """What a function that posts to connections (the Broadcaster, sync) runs against: its
    tables and the fake management API as WS_CALLBACK_URL; the Connections table."""
    monkeypatch.setenv("WS_CALLBACK_URL", api.url)
    return connections_table


@pytest.fixture
def env(posting_env: Any, monkeypatch: pytest.MonkeyPatch, broadcaster_environment: None) -> Any:
    """The Broadcaster's environment: ``posting_env``, what Terraform sets on it and 8
    concurrent posts; the Connections table."""
    monkeypatch.setenv("FANOUT_CONCURRENCY", "8")
    return posting_env


@dataclass
class Alerts:
    topic_arn: str
    queue_url: str
    idempotency: Any

    def read(self) -> list[dict[str, Any]]:
        """Every SNS notification delivered to the queue so far (the SNS envelope, parsed)."""
        sqs = boto3.client("sqs", region_name=REGION)
        out = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            messages = batch.get("Messages", [])
            if not messages:
                return out
            for message in messages:
                out.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def alerts(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Alerts:
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic_arn = sns.create_topic(Name=TOPIC_NAME)["TopicArn"]
    queue_url = sqs.create_queue(QueueName="alerts-readback")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName=IDEMPOTENCY_TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    monkeypatch.setenv("SNS_TOPIC_ARN", topic_arn)
    monkeypatch.setenv("IDEMPOTENCY_TABLE", IDEMPOTENCY_TABLE)
    for name, value in terraform_defaults.NOTIFIER.items():  # variables.tf's defaults
        monkeypatch.setenv(name, value)
    table = boto3.resource("dynamodb", region_name=REGION).Table(IDEMPOTENCY_TABLE)
    return Alerts(topic_arn, queue_url, table)
