"""Reading the state table (the schema is pinned in functions/README.md, "State table"):
items of ``pk = "INC#<id>"``, ``sk = "STATE#"``, read through the ``byChange`` index
(hash ``feed`` = ``"F#0"``, range ``changedAt``) with one Query per refresh."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from realtime_common.state import CHANGE_INDEX, FEED, PK_PREFIX
from realtime_common.stream import JSONValue, deserialize, to_plain

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class MalformedStateError(ValueError):
    """A state item that does not follow the schema (logged and skipped by the cache)."""


@dataclass(slots=True, eq=False)
class Entry:
    """One incident's latest state, as the sync serves it (images already plain JSON)."""

    pk: str
    keys: dict[str, JSONValue]
    image: dict[str, JSONValue] | None
    sequence: str
    order: int  # the sequence as an integer: newer wins, equal is a duplicate
    event_id: str
    removed: bool
    changed_at: int  # epoch ms
    expires_at: int | None  # epoch s (TTL)
    # Encoded messages of this state, per audience (index into RoleViews.audiences).
    encoded: dict[int, bytes] = field(default_factory=dict)

    @property
    def incident_id(self) -> str:
        return self.pk[len(PK_PREFIX) :]

    def expired(self, now_s: float) -> bool:
        """Past its retention (state.is_live's rule, on the parsed entry: TTL deletes lazily)."""
        return self.expires_at is not None and self.expires_at <= now_s

    def live(self, now_s: float) -> bool:
        """Shown to clients: not a tombstone and not past its retention."""
        return not self.removed and not self.expired(now_s)


def pk_of(incident_id: str) -> str:
    """The state item's ``pk`` for an id a sync request names (state.incident_id)."""
    return PK_PREFIX + incident_id


def parse_item(item: Mapping[str, Any]) -> Entry:
    """A low-level (typed) state item as an :class:`Entry`."""
    try:
        pk = item["pk"]["S"]
        sequence = item["sequence"]["S"]
        removed = bool(item.get("removed", {}).get("BOOL", False))
        image = item.get("image")
        expires = item.get("expiresAt", {}).get("N")
        return Entry(
            pk=pk,
            keys=_plain_map(item["keys"]),
            image=None if removed or image is None else _plain_map(image),
            sequence=sequence,
            order=int(sequence),
            event_id=item.get("eventId", {}).get("S", ""),
            removed=removed,
            changed_at=int(item["changedAt"]["N"]),
            expires_at=None if expires is None else int(float(expires)),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise MalformedStateError(f"state item {str(item.get('pk'))[:80]}: {error!r}") from error


def _plain_map(value: Mapping[str, Any]) -> dict[str, JSONValue]:
    plain = to_plain(deserialize(value))
    if not isinstance(plain, dict):
        raise TypeError("not a map")
    return plain


@dataclass
class Page:
    items: list[dict[str, Any]]
    read: int  # items DynamoDB read (ScannedCount)


def changes_since(dynamodb: DynamoDBClient, table: str, since_ms: int | None) -> Iterator[Page]:
    """Every state item whose ``changedAt`` is at least ``since_ms`` (all of them for None),
    page by page (1 MB each), oldest first."""
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": CHANGE_INDEX,
        "KeyConditionExpression": "feed = :feed"
        + ("" if since_ms is None else " AND changedAt >= :since"),
        "ExpressionAttributeValues": {":feed": {"S": FEED}}
        | ({} if since_ms is None else {":since": {"N": str(since_ms)}}),
    }
    while True:
        page = dynamodb.query(**kwargs)
        items = page.get("Items", [])
        yield Page(items, int(page.get("ScannedCount", len(items))))
        last = page.get("LastEvaluatedKey")
        if not last:
            return
        kwargs["ExclusiveStartKey"] = last
