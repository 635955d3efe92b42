"""The Connections table as the fan-out reads it: ids (one Scan segment or all) and 410 clean-up
(never of a row younger than the ``$connect`` window)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from realtime_common.connections import connecting_cutoff, connection_id_from_pk, connection_key
from realtime_common.fanout.audience import Row

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def scan_connections(
    dynamodb: DynamoDBClient,
    table: str,
    now: float,
    *,
    segment: int | None = None,
    total_segments: int | None = None,
) -> Iterator[Row]:
    """Every live connection of the table (or of one parallel-Scan segment): its id, its role
    ("" when the row has none) and its subscription's ``areas`` and ``filter`` texts (None when
    the row has none), page by page, in the same request (no read per connection or record).

    One Scan page stops at 1 MB. Rows whose ``expiresAt`` has passed are skipped: DynamoDB's TTL
    deletes lazily, and such a connection is closed already (API Gateway's 2 h limit). Segments
    (``Segment``/``TotalSegments``) are disjoint and together cover the table
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Scan.html#Scan.ParallelScan).
    """
    kwargs: dict[str, Any] = {
        "TableName": table,
        # "role" and "filter" are DynamoDB reserved words: names go through placeholders.
        "ProjectionExpression": "pk, expiresAt, #role, #areas, #filter",
        "ExpressionAttributeNames": {"#role": "role", "#areas": "areas", "#filter": "filter"},
        "ConsistentRead": False,
    }
    if total_segments is not None:
        kwargs["Segment"] = segment or 0
        kwargs["TotalSegments"] = total_segments
    for page in dynamodb.get_paginator("scan").paginate(**kwargs):
        for item in page.get("Items", []):
            connection_id = connection_id_from_pk(item.get("pk", {}).get("S", ""))
            if connection_id is None:
                continue
            expires = item.get("expiresAt", {}).get("N")
            if expires is not None and float(expires) <= now:
                continue
            areas = item.get("areas")
            filter_text = item.get("filter")
            yield (
                connection_id,
                item.get("role", {}).get("S", ""),
                None if areas is None else areas.get("S"),
                None if filter_text is None else filter_text.get("S"),
            )


def row_deleter(
    dynamodb: DynamoDBClient,
    table: str,
    warn: Callable[[str, dict[str, Any]], None],
    clock: Callable[[], float] = time.time,
) -> Callable[[str], bool]:
    """A function deleting the row of a connection that answered 410; True if it deleted one.

    The delete is conditional: a row younger than the ``$connect`` window
    (``connections.CONNECTING_WINDOW_SECONDS``) may belong to a connection whose handshake is
    still under way, which API Gateway also answers with 410, so it is kept (the connection
    gets the next message; a later 410 once the row is old enough, or the TTL, removes it).
    A row without ``connectedAt`` is deleted, and a row already gone is fine.
    """
    from botocore.exceptions import ClientError  # noqa: PLC0415

    def delete(connection_id: str) -> bool:
        cutoff = connecting_cutoff(clock())
        try:
            dynamodb.delete_item(
                TableName=table,
                Key=connection_key(connection_id),
                ConditionExpression="attribute_not_exists(connectedAt) OR connectedAt <= :cutoff",
                ExpressionAttributeValues={":cutoff": {"S": cutoff}},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                warn(
                    "410 from a connection still within the $connect window: row kept",
                    {"connection_id": connection_id, "connected_after": cutoff},
                )
                return False
            warn(
                "could not delete a gone connection's row; TTL will",
                {"connection_id": connection_id, "error": str(error)},
            )
            return False
        return True

    return delete
