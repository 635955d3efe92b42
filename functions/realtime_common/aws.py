"""AWS clients, created once per execution environment.

Lambda reuses an execution environment across invocations, so clients (and their connection
pools) live in module-level caches. Tests call :func:`reset_clients` between cases so every test
gets clients bound to its own ``mock_aws`` context.
"""

from __future__ import annotations

import functools

import boto3
from botocore.client import BaseClient
from botocore.config import Config


@functools.cache
def dynamodb_client(max_pool_connections: int = 10) -> BaseClient:
    """The DynamoDB client; the broadcaster sizes its pool to its fan-out concurrency."""
    return boto3.client(
        "dynamodb",
        config=Config(max_pool_connections=max_pool_connections, retries={"mode": "standard"}),
    )


@functools.cache
def sns_client() -> BaseClient:
    return boto3.client("sns", config=Config(retries={"mode": "standard"}))


@functools.cache
def management_api_client(endpoint_url: str, max_pool_connections: int) -> BaseClient:
    """The API Gateway management API client for ``post_to_connection``.

    botocore's own retries are off (``total_max_attempts=1``): the broadcaster retries throttling
    and server errors itself with bounded, jittered backoff per connection, and stacking botocore's
    retries under that would multiply attempts. Timeouts are short because a post is a small
    request and a slow connection must not hold a worker for long.
    """
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint_url,
        config=Config(
            max_pool_connections=max_pool_connections,
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=3,
            read_timeout=5,
        ),
    )


def reset_clients() -> None:
    """Forget every cached client (tests; never needed in Lambda)."""
    dynamodb_client.cache_clear()
    sns_client.cache_clear()
    management_api_client.cache_clear()
