"""State table items as the Broadcaster writes them (realtime_common.state.build_item from a
stream record), for the sync tests and the benchmark: readers are tested against the writer,
never against a copy of the schema."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from boto3.dynamodb.types import TypeSerializer

from realtime_common.state import IncidentState, Item, build_item
from realtime_common.stream import parse_record

_SERIALIZER = TypeSerializer()
RETENTION_SECONDS = 86_400
CLOSED_STATUSES = frozenset({"closed", "resolved"})


def typed(value: Mapping[str, Any]) -> dict[str, Any]:
    """A plain map's attributes as DynamoDB typed values (no floats: write numbers as text)."""
    return {name: _SERIALIZER.serialize(item) for name, item in value.items()}


def incident_keys(incident_id: str) -> dict[str, str]:
    """The Incidents table's keys of ``incident_id`` (the sample events' schema)."""
    return {"pk": f"INCIDENT#{incident_id}", "sk": "META"}


def sync_id(incident_id: str) -> str:
    """The id a sync request names for it (realtime_common.state.incident_id of its keys)."""
    return f"INCIDENT#{incident_id}|META"


def stream_record(
    incident_id: str, image: Mapping[str, Any] | None, sequence: int, *, removed: bool = False
) -> dict[str, Any]:
    """A raw MODIFY (or REMOVE) stream record of one incident."""
    body: dict[str, Any] = {
        "Keys": typed(incident_keys(incident_id)),
        "SequenceNumber": str(sequence),
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if not removed and image is not None:
        body["NewImage"] = typed(image)
    return {
        "eventID": f"ev-{incident_id}-{sequence}",
        "eventName": "REMOVE" if removed else "MODIFY",
        "eventSource": "aws:dynamodb",
        "dynamodb": body,
    }


def state_item(
    incident_id: str,
    image: Mapping[str, Any] | None,
    *,
    sequence: int,
    changed_at_ms: int,
    removed: bool = False,
    retention_seconds: int = RETENTION_SECONDS,
) -> Item:
    """The state item the Broadcaster stores for this change at ``changed_at_ms``."""
    raw = stream_record(incident_id, image, sequence, removed=removed)
    settings = IncidentState("state", retention_seconds, CLOSED_STATUSES)
    return build_item(raw, parse_record(raw), settings, changed_at_ms)
