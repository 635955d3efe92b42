"""The messages clients receive (functions/README.md: message contract), one JSON text per record
and role view, never larger than the management API's payload limit."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from realtime_common.fanout.frames import MAX_PAYLOAD_BYTES
from realtime_common.fanout.views import View, project
from realtime_common.state import removed_message
from realtime_common.stream import StreamRecord

MESSAGE_VERSION = 1


def build_message(record: StreamRecord, view: View = None) -> dict[str, Any]:
    """The message clients receive for an INSERT or MODIFY record (README: message contract);
    ``view`` is the role's allow-list of incident attributes (None: the whole incident)."""
    return {
        "version": MESSAGE_VERSION,
        "type": "incident.created" if record.event_name == "INSERT" else "incident.updated",
        "incident": project(record.new_image, view),
        "keys": record.keys,
        "eventId": record.event_id,
        "sequence": record.sequence,
    }


def slim_envelope(message: Mapping[str, Any]) -> dict[str, Any]:
    """What replaces a message over the payload limit: enough for the client to fetch it."""
    return {
        "version": message["version"],
        "type": message["type"],
        "keys": message["keys"],
        "eventId": message["eventId"],
        "sequence": message["sequence"],
        "truncated": True,
    }


def encode(message: Mapping[str, Any]) -> bytes:
    return json.dumps(
        message, separators=(",", ":"), ensure_ascii=False, allow_nan=False, sort_keys=True
    ).encode("utf-8")


def encode_message(record: StreamRecord, view: View = None) -> tuple[bytes, bool]:
    """The UTF-8 payload for ``record`` and whether it had to be truncated to the slim envelope."""
    message = build_message(record, view)
    data = encode(message)
    if len(data) <= MAX_PAYLOAD_BYTES:
        return data, False
    return encode(slim_envelope(message)), True


def encode_for_views(record: StreamRecord, views: Sequence[View]) -> tuple[list[bytes], bool]:
    """One payload per view (once per view, not per connection) and whether any was truncated.
    A REMOVE record is the same ``incident.removed`` message for every view."""
    if record.event_name == "REMOVE":
        removed = encode(removed_message(record.keys, record.event_id, record.sequence))
        return [removed] * len(views), False
    encoded = [encode_message(record, view) for view in views]
    return [data for data, _ in encoded], any(was_truncated for _, was_truncated in encoded)
