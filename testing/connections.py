"""Connection rows as ``on_connect`` stores them, for tests that need connected clients.

The key layout is the functions' own (``realtime_common.connections``); the values are a fixed
user and a ``connectedAt`` well in the past, so no row is within the connecting window.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Protocol

from realtime_common.connections import PK_PREFIX, SORT_KEY

STORED_AT = "2026-11-27T14:40:00Z"


def connection_row(
    connection_id: str,
    *,
    role: str = "dispatcher",  # the whole incident (the default role views)
    user: str = "u",
    connected_at: str = STORED_AT,
    expires_in: int = 3600,
    **extra: object,
) -> dict[str, object]:
    """The row of ``connection_id`` (boto3 resource form); ``expires_in`` seconds from now."""
    return {
        "pk": PK_PREFIX + connection_id,
        "sk": SORT_KEY,
        "userId": user,
        "role": role,
        "connectedAt": connected_at,
        "expiresAt": int(time.time()) + expires_in,
        **extra,
    }


class Table(Protocol):
    """What is used of a boto3 DynamoDB ``Table`` resource."""

    def put_item(self, *, Item: Mapping[str, object]) -> object: ...


def add_connection(table: Table, connection_id: str, **fields: object) -> None:
    """Store one row in a boto3 ``Table`` (fields as ``connection_row`` takes them)."""
    # **fields are connection_row's keyword arguments, which mypy cannot see through object
    table.put_item(Item=connection_row(connection_id, **fields))  # type: ignore[arg-type]
