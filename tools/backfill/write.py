"""One backfill write: the state table's conditional write, retried with backoff when throttled."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from realtime_common.state import PK_PREFIX, StateWriteError, Written, put_if_newer

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from realtime_common.state import Item

# Errors worth waiting out; anything else (access denied, a missing table) fails at once.
RETRYABLE = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)


@dataclass(frozen=True)
class Backoff:
    """Full-jitter exponential backoff: attempt n waits uniform(0, min(cap, base * 2**n))."""

    attempts: int = 8
    base: float = 0.05
    cap: float = 5.0
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = field(default=random.random)


def put_with_backoff(
    client: DynamoDBClient,
    table: str,
    item: Item,
    backoff: Backoff,
    put: Callable[[DynamoDBClient, str, Item], Written] = put_if_newer,
) -> Written:
    """Store ``item`` unless newer state exists; throttling is retried, the last error raised."""
    for attempt in range(backoff.attempts):
        try:
            return put(client, table, item)
        except StateWriteError as error:
            if error.code not in RETRYABLE or attempt == backoff.attempts - 1:
                raise
            backoff.sleep(backoff.jitter() * min(backoff.cap, backoff.base * 2**attempt))
    raise AssertionError("unreachable: the last attempt returns or raises")


def state_exists(client: DynamoDBClient, table: str, item: Item) -> bool:
    """Whether the incident already has state (a dry run's question; nothing is written)."""
    found = client.get_item(
        TableName=table,
        Key={"pk": item["pk"], "sk": item["sk"]},
        ProjectionExpression="pk",
        ConsistentRead=True,
    )
    return "Item" in found


def incident_of(item: Item) -> str:
    return item["pk"]["S"].removeprefix(PK_PREFIX)
