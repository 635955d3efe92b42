"""State table items and the table itself, as the pinned schema has them (functions/README.md,
"State table"), for the sync tests and the benchmark: one place that writes what the Broadcaster
writes, so a reader is tested against the schema and not against itself."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeSerializer

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_SERIALIZER = TypeSerializer()
FEED = "F#0"


def typed(value: Mapping[str, Any]) -> dict[str, Any]:
    """A plain map as DynamoDB's typed ``M`` value (ints stay ints; no floats: use strings)."""
    return _SERIALIZER.serialize(dict(value))  # type: ignore[return-value]


def state_item(
    incident_id: str,
    image: Mapping[str, Any] | None,
    *,
    sequence: int,
    changed_at_ms: int,
    removed: bool = False,
    expires_at: int | None = None,
    event_id: str | None = None,
    event_name: str = "MODIFY",
) -> dict[str, Any]:
    """The low-level item the Broadcaster stores for one incident's latest change."""
    keys = {"pk": f"INCIDENT#{incident_id}", "sk": "META"}
    item: dict[str, Any] = {
        "pk": {"S": "INC#" + "|".join(str(keys[k]) for k in sorted(keys))},
        "sk": {"S": "STATE#"},
        "keys": typed(keys),
        "sequence": {"S": str(sequence)},
        "seqSort": {"S": str(sequence).zfill(48)},
        "eventId": {"S": event_id or f"ev-{incident_id}-{sequence}"},
        "eventName": {"S": "REMOVE" if removed else event_name},
        "changedAt": {"N": str(changed_at_ms)},
        "feed": {"S": FEED},
    }
    if removed:
        item["removed"] = {"BOOL": True}
    elif image is not None:
        item["image"] = typed(image)
    if expires_at is not None:
        item["expiresAt"] = {"N": str(expires_at)}
    return item


def incident_id_of(incident_id: str) -> str:
    """The id a sync request names for ``state_item(incident_id, ...)`` (its keys joined)."""
    return f"INCIDENT#{incident_id}|META"


def create_state_table(dynamodb: DynamoDBClient, name: str) -> None:
    """The state table: pk/sk, the byChange index (feed, changedAt; projection ALL)."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "feed", "AttributeType": "S"},
            {"AttributeName": "changedAt", "AttributeType": "N"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byChange",
                "KeySchema": [
                    {"AttributeName": "feed", "KeyType": "HASH"},
                    {"AttributeName": "changedAt", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
