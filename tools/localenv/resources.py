"""What in real life exists outside this stack, made in the emulator: the Terraform state bucket,
the demo Incidents table (another team's) and the queue the alerts land in.

Each ``ensure_*`` creates its resource only when missing and then adds its name to ``created``,
so `down` removes what `up` made and nothing it found.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient

INCIDENTS_TABLE = "Incidents"
INCIDENTS_KEY = "incidentId"
ALERTS_QUEUE = "realtime-local-alerts-inbox"


class ResourceError(RuntimeError):
    """A resource outside the stack is not as the stack needs it; the message says what to do."""


def backend_setting(backend_file: Path, name: str) -> str:
    """A ``name = "value"`` setting of a ``*.s3.tfbackend`` file."""
    text = backend_file.read_text()
    match = re.search(rf'^\s*{name}\s*=\s*"([^"]+)"', text, re.MULTILINE)
    if match is None:
        raise ResourceError(f"{backend_file.name} sets no {name}")
    return match.group(1)


def ensure_state_bucket(s3: S3Client, bucket: str, created: list[str]) -> str:
    if bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", []) if "Name" in b}:
        s3.create_bucket(Bucket=bucket)
        created.append("state_bucket")
    return bucket


def ensure_incidents_table(ddb: DynamoDBClient, created: list[str]) -> str:
    """The demo Incidents table with a NEW_AND_OLD_IMAGES stream; returns the stream ARN."""
    try:
        table = ddb.describe_table(TableName=INCIDENTS_TABLE)["Table"]
    except ddb.exceptions.ResourceNotFoundException:
        table = ddb.create_table(
            TableName=INCIDENTS_TABLE,
            AttributeDefinitions=[{"AttributeName": INCIDENTS_KEY, "AttributeType": "S"}],
            KeySchema=[{"AttributeName": INCIDENTS_KEY, "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )["TableDescription"]
        created.append("incidents_table")
    spec = table.get("StreamSpecification")
    if (
        not spec
        or not spec.get("StreamEnabled")
        or spec.get("StreamViewType") != "NEW_AND_OLD_IMAGES"
    ):
        raise ResourceError(
            f"table {INCIDENTS_TABLE} exists in the emulator without a NEW_AND_OLD_IMAGES stream; "
            "run 'make down' and 'make up' again"
        )
    return table["LatestStreamArn"]


def ensure_alerts_queue(sqs: SQSClient, created: list[str]) -> tuple[str, str]:
    """The local-only SQS queue subscribed to the alerts topic; its URL and ARN."""
    try:
        url = sqs.get_queue_url(QueueName=ALERTS_QUEUE)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        url = sqs.create_queue(QueueName=ALERTS_QUEUE)["QueueUrl"]
        created.append("alerts_queue")
    return url, queue_arn(sqs, url)


def queue_arn(sqs: SQSClient, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]


def delete_queue(sqs: SQSClient, url: str) -> str:
    sqs.delete_queue(QueueUrl=url)
    return f"deleted queue {ALERTS_QUEUE}"


def delete_table(ddb: DynamoDBClient, name: str) -> str:
    ddb.delete_table(TableName=name)
    return f"deleted table {name}"


def delete_layer_version(lam: LambdaClient, arn: str) -> str:
    name, version = arn.rsplit(":", 2)[-2:]
    lam.delete_layer_version(LayerName=name, VersionNumber=int(version))
    return f"deleted layer version {arn}"


def delete_parameter(ssm: SSMClient, name: str) -> str:
    ssm.delete_parameter(Name=name)
    return f"deleted SSM parameter {name}"


def delete_bucket(s3: S3Client, bucket: str) -> str:
    for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        if "Key" in obj:
            s3.delete_object(Bucket=bucket, Key=obj["Key"])
    s3.delete_bucket(Bucket=bucket)
    return f"deleted bucket {bucket}"
