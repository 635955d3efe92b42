"""boto3 clients for the emulator: its endpoint, its fixed test credentials, its region.

boto3 is imported when a client is made, not with this module: the parts of the tooling that never
talk to the emulator (the CLI's help, the pure functions) do not need it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tools.localenv.emulator import REGION

if TYPE_CHECKING:
    from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient


def _options(endpoint: str, **config: Any) -> dict[str, Any]:  # noqa: ANN401 - botocore Config kwargs
    from botocore.config import Config  # noqa: PLC0415 - see the module docstring

    return {
        "endpoint_url": endpoint,
        "region_name": REGION,
        "aws_access_key_id": "test",
        "aws_secret_access_key": "test",  # the emulator's fixed local credentials
        "config": Config(retries={"max_attempts": 3, "mode": "standard"}, **config),
    }


def dynamodb(endpoint: str) -> DynamoDBClient:
    import boto3  # noqa: PLC0415

    return boto3.client("dynamodb", **_options(endpoint))


def dynamodbstreams(endpoint: str) -> DynamoDBStreamsClient:
    import boto3  # noqa: PLC0415

    return boto3.client("dynamodbstreams", **_options(endpoint))


def sqs(endpoint: str) -> SQSClient:
    import boto3  # noqa: PLC0415

    return boto3.client("sqs", **_options(endpoint))


def sns(endpoint: str) -> SNSClient:
    import boto3  # noqa: PLC0415

    return boto3.client("sns", **_options(endpoint))


def s3(endpoint: str) -> S3Client:
    """Path-style addressing: the emulator serves buckets under its one host name."""
    import boto3  # noqa: PLC0415

    return boto3.client("s3", **_options(endpoint, s3={"addressing_style": "path"}))


def lambda_(endpoint: str, read_timeout: int = 60) -> LambdaClient:
    import boto3  # noqa: PLC0415

    return boto3.client("lambda", **_options(endpoint, read_timeout=read_timeout))


def ssm(endpoint: str) -> SSMClient:
    import boto3  # noqa: PLC0415

    return boto3.client("ssm", **_options(endpoint))


def management_api(endpoint: str) -> ApiGatewayManagementApiClient:
    """The WebSocket API's management endpoint (the stack's websocket_management_url)."""
    import boto3  # noqa: PLC0415

    return boto3.client("apigatewaymanagementapi", **_options(endpoint))
