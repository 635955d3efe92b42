"""The ``sync`` request: ``{"action": "sync"}``, ``{"action": "sync", "since": "<cursor>"}`` or
``{"action": "sync", "incidents": ["<id>", ...]}`` (1..100 ids). Anything else is a
:class:`BadRequest`, answered with an ``error`` message of code ``bad_request``; the connection
stays open."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum

ACTION = "sync"
MAX_IDS = 100
# One id is at most this many UTF-8 bytes: "INC#" + the id is the state table's partition key
# (DynamoDB allows 2,048 bytes); incident ids are short in practice.
MAX_ID_BYTES = 512
# 100 ids of 512 bytes and the envelope fit; API Gateway itself refuses messages over 128 KB.
MAX_BODY_BYTES = 64 * 1024
MAX_CURSOR_CHARS = 512
_KEYS = frozenset({"action", "since", "incidents"})


class Kind(StrEnum):
    FULL = "full"
    SINCE = "since"
    IDS = "ids"


class BadRequest(ValueError):
    """A malformed sync request; the message says what to send instead."""


@dataclass(frozen=True)
class SyncRequest:
    kind: Kind
    since: str | None = None
    ids: tuple[str, ...] = ()


def parse(body: object) -> SyncRequest:
    """The request in a WebSocket message body (text), or :class:`BadRequest`."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str):
        raise BadRequest("the message has no body")
    if len(body) > MAX_BODY_BYTES or len(body.encode("utf-8")) > MAX_BODY_BYTES:
        raise BadRequest(f"the message is over {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(body)
    except ValueError:
        raise BadRequest("the message is not JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("the message must be a JSON object")
    unknown = sorted(str(key)[:40] for key in data if key not in _KEYS)
    if unknown:
        raise BadRequest(f"unknown field(s) {', '.join(unknown)}: send action, since or incidents")
    if data.get("action") != ACTION:
        raise BadRequest('action must be "sync"')
    if "since" in data and "incidents" in data:
        raise BadRequest("send either since or incidents, not both")
    if "since" in data:
        since = data["since"]
        if not isinstance(since, str) or len(since) > MAX_CURSOR_CHARS:
            raise BadRequest(
                "since must be the cursor string of your last sync.complete "
                f"(at most {MAX_CURSOR_CHARS} characters)"
            )
        return SyncRequest(Kind.SINCE, since=since)
    if "incidents" in data:
        return SyncRequest(Kind.IDS, ids=_ids(data["incidents"]))
    return SyncRequest(Kind.FULL)


def _ids(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise BadRequest(f"incidents must be a list of 1 to {MAX_IDS} incident ids")
    if len(value) > MAX_IDS:
        raise BadRequest(f"incidents has {len(value)} ids: at most {MAX_IDS} per sync")
    ids: dict[str, None] = {}  # ordered, duplicates once
    for item in value:
        if not isinstance(item, str) or not item or len(item.encode("utf-8")) > MAX_ID_BYTES:
            raise BadRequest(
                f"every incident id is a non-empty string of at most {MAX_ID_BYTES} bytes"
            )
        ids[item] = None
    return tuple(ids)
