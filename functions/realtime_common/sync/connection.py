"""The syncing connection's own row, re-checked on every sync (the role comes from here, never
from the message), and the full-sync throttle, in one DynamoDB call.

A full sync is admitted by a conditional ``UpdateItem`` that sets ``lastFullSyncAt`` only when
the row exists and its last full sync is at least the interval old: one call checks the identity,
applies the throttle and returns the role. Other syncs read the row with a consistent
``GetItem`` (a sync may follow ``$connect`` by milliseconds).

The role is taken from the row, not from ``requestContext.authorizer``: the row is what the
Broadcaster uses (one source for live and sync views), it exists only for admitted connections
(a row that is gone gets nothing), it holds the query-string identity of dev stacks
(``allow_query_identity``) that the authorizer context lacks, and the throttle needs the row
anyway, so reading the role from it costs nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from realtime_common.connections import connection_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

LAST_FULL_SYNC = "lastFullSyncAt"


@dataclass(frozen=True)
class Admission:
    """``role`` for an admitted sync; None with ``retry_after_ms`` when throttled; neither when
    the connection's row is gone (or past its expiry)."""

    role: str | None
    retry_after_ms: int | None = None


GONE = Admission(None)


def admit(
    dynamodb: DynamoDBClient,
    table: str,
    connection_id: str,
    *,
    full: bool,
    now_ms: int,
    interval_ms: int,
) -> Admission:
    key = connection_key(connection_id)
    if not full:
        item = dynamodb.get_item(
            TableName=table,
            Key=key,
            ConsistentRead=True,
            ProjectionExpression="#role, expiresAt",
            ExpressionAttributeNames={"#role": "role"},
        ).get("Item")
        return _role(item, now_ms)
    try:
        answer = dynamodb.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET #last = :now",
            ConditionExpression="attribute_exists(pk)"
            " AND (attribute_not_exists(expiresAt) OR expiresAt > :seconds)"
            " AND (attribute_not_exists(#last) OR #last <= :cutoff)",
            ExpressionAttributeNames={"#last": LAST_FULL_SYNC},
            ExpressionAttributeValues={
                ":now": {"N": str(now_ms)},
                ":cutoff": {"N": str(now_ms - interval_ms)},
                ":seconds": {"N": str(now_ms // 1000)},
            },
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except dynamodb.exceptions.ConditionalCheckFailedException as error:
        old = cast("dict[str, Any] | None", error.response.get("Item"))
        if not old or _role(old, now_ms).role is None:
            return GONE
        last = int(old.get(LAST_FULL_SYNC, {}).get("N", "0"))
        return Admission(None, retry_after_ms=max(1, last + interval_ms - now_ms))
    return _role(answer.get("Attributes"), now_ms)


def _role(item: dict[str, Any] | None, now_ms: int) -> Admission:
    if not item:
        return GONE
    expires = item.get("expiresAt", {}).get("N")
    if expires is not None and float(expires) * 1000 <= now_ms:
        return GONE  # TTL deletes lazily: the connection is closed (2 h at most)
    return Admission(item.get("role", {}).get("S", ""))
