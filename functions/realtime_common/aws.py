"""AWS clients, created once per execution environment.

Lambda reuses an execution environment across invocations, so clients (and their connection
pools) live in module-level caches. Tests call :func:`reset_clients` between cases so every test
gets clients bound to its own ``mock_aws`` context.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import boto3
import botocore.session
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_ssm import SSMClient

    from realtime_common.fanout.sigv4 import CredentialsSource


@functools.cache
def dynamodb_client(max_pool_connections: int = 10) -> DynamoDBClient:
    """The DynamoDB client; the broadcaster sizes its pool for its row deletions."""
    return boto3.client(
        "dynamodb",
        config=Config(max_pool_connections=max_pool_connections, retries={"mode": "standard"}),
    )


@functools.cache
def state_client(max_pool_connections: int) -> DynamoDBClient:
    """The DynamoDB client the broadcaster writes the state table with, before it sends.

    Short timeouts and five attempts (botocore's standard retries back off on throttling): a
    write that does not land within seconds fails its records, which Lambda retries, instead of
    holding the whole batch's fan-out until the function's timeout.
    """
    return boto3.client(
        "dynamodb",
        config=Config(
            max_pool_connections=max_pool_connections,
            retries={"mode": "standard", "total_max_attempts": 5},
            connect_timeout=2,
            read_timeout=5,
        ),
    )


@functools.cache
def sns_client() -> SNSClient:
    return boto3.client("sns", config=Config(retries={"mode": "standard"}))


@functools.cache
def ssm_client() -> SSMClient:
    """The SSM client the authorizer reads its HS256 secret with. Short timeouts: it runs inside
    a ``$connect`` handshake, and a slow read fails into the cached secret (or a refusal)."""
    return boto3.client(
        "ssm",
        config=Config(retries={"mode": "standard"}, connect_timeout=2, read_timeout=3),
    )


@functools.cache
def lambda_client(max_pool_connections: int) -> LambdaClient:
    """The Lambda client the broadcaster invokes its fan-out workers with.

    The read timeout covers the longest synchronous invocation (Lambda's 900 s maximum): the
    broadcaster waits for its workers, which stop by the deadline it gives them. No botocore
    retries: a failed worker fails its segment's records, and Lambda retries the batch.
    """
    return boto3.client(
        "lambda",
        config=Config(
            max_pool_connections=max_pool_connections,
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=3,
            read_timeout=905,
        ),
    )


@functools.cache
def _botocore_session() -> botocore.session.Session:
    return botocore.session.get_session()


def credentials_source() -> CredentialsSource:
    """A callable returning the current frozen credentials from botocore's provider chain.

    In Lambda these are the execution role's (with a session token); botocore refreshes
    refreshable credentials when they near expiry, and the signer sees the new ones.
    """
    from botocore.credentials import RefreshableCredentials  # noqa: PLC0415

    from realtime_common.fanout.sigv4 import FrozenCredentials  # noqa: PLC0415

    credentials = _botocore_session().get_credentials()
    if credentials is not None and not isinstance(credentials, RefreshableCredentials):
        # Static credentials (environment variables, as Lambda sets them) never change: read
        # them once, not on every post.
        frozen = credentials.get_frozen_credentials()
        if frozen.access_key and frozen.secret_key:
            static = FrozenCredentials(frozen.access_key, frozen.secret_key, frozen.token)
            return lambda: static

    def current() -> FrozenCredentials:
        if credentials is None:
            from botocore.exceptions import NoCredentialsError  # noqa: PLC0415

            raise NoCredentialsError
        frozen = credentials.get_frozen_credentials()
        if not frozen.access_key or not frozen.secret_key:
            from botocore.exceptions import NoCredentialsError  # noqa: PLC0415

            raise NoCredentialsError
        return FrozenCredentials(frozen.access_key, frozen.secret_key, frozen.token)

    return current


def region(default: str = "us-east-1") -> str:
    """The Region botocore resolves (``AWS_REGION`` in Lambda)."""
    return str(_botocore_session().get_config_variable("region") or default)


def reset_clients() -> None:
    """Forget every cached client (tests; never needed in Lambda)."""
    dynamodb_client.cache_clear()
    state_client.cache_clear()
    sns_client.cache_clear()
    ssm_client.cache_clear()
    lambda_client.cache_clear()
    _botocore_session.cache_clear()
