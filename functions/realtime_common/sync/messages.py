"""The messages and frames of a sync answer (functions/README.md, "Sync").

Incidents travel as ``incident.snapshot`` (the live envelope: ``incident`` is the role's view,
``keys``, ``eventId``, ``sequence``) or ``incident.removed`` (no ``incident``), packed into the
fan-out's ``batch`` frames of at most 128 KB (realtime_common.fanout.frames). A message that does
not fit one frame is sent as consecutive ``incident.part`` frames whose ``chunk`` strings,
concatenated in ``index`` order, are the message's JSON text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from realtime_common.fanout.frames import MAX_PAYLOAD_BYTES, pack
from realtime_common.fanout.views import View, project
from realtime_common.sync.store import Entry

MESSAGE_VERSION = 1
SNAPSHOT = "incident.snapshot"
REMOVED = "incident.removed"
PART = "incident.part"
COMPLETE = "sync.complete"
ERROR = "error"


def encode(message: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON, as the live messages are encoded."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


def _about(entry: Entry, kind: str, **body: object) -> bytes:
    """A message about one incident: the live envelope's ``version`` and ``type``, ``body``, then
    the record's ``keys``, ``eventId`` and ``sequence`` (the live messages' key order)."""
    return encode(
        {
            "version": MESSAGE_VERSION,
            "type": kind,
            **body,
            "keys": entry.keys,
            "eventId": entry.event_id,
            "sequence": entry.sequence,
        }
    )


def snapshot(entry: Entry, view: View) -> bytes:
    return _about(entry, SNAPSHOT, incident=project(entry.image, view))


def removed(entry: Entry) -> bytes:
    return _about(entry, REMOVED)


def left(entry: Entry) -> bytes:
    """``incident.left``: the incident changed and no longer matches the connection's filter."""
    return _about(entry, "incident.left")


def complete(cursor: str, *, reset: bool, count: int) -> bytes:
    return encode(
        {
            "version": MESSAGE_VERSION,
            "type": COMPLETE,
            "cursor": cursor,
            "reset": reset,
            "count": count,
        }
    )


def error(code: str, message: str, retry_after_ms: int | None = None) -> bytes:
    body: dict[str, Any] = {
        "version": MESSAGE_VERSION,
        "type": ERROR,
        "code": code,
        "message": message,
    }
    if retry_after_ms is not None:
        body["retryAfterMs"] = retry_after_ms
    return encode(body)


def parts(message: bytes, part_id: str, limit: int = MAX_PAYLOAD_BYTES) -> list[bytes]:
    """``message`` (over ``limit``) as ``incident.part`` frames of at most ``limit`` bytes each.

    Chunks are cut between characters of the JSON text; JSON escaping inside a chunk (quotes,
    backslashes, controls) is measured, never guessed, so every frame fits.
    """
    text = message.decode("utf-8")
    chunks: list[str] = []
    # Room for the envelope around the chunk; the count is at most 7 digits (a 400 KB item).
    head = len(_part(part_id, 9_999_999, 9_999_999, ""))
    room = limit - head
    start = 0
    while start < len(text):
        size = min(room, len(text) - start)
        while True:
            chunk = text[start : start + size]
            over = len(json.dumps(chunk, ensure_ascii=False).encode("utf-8")) - 2 - room
            if over <= 0:
                break
            size -= over  # every character is at least one byte: this always fits next
        chunks.append(chunk)
        start += size
    return [_part(part_id, index, len(chunks), chunk) for index, chunk in enumerate(chunks)]


def _part(part_id: str, index: int, count: int, chunk: str) -> bytes:
    return encode(
        {
            "version": MESSAGE_VERSION,
            "type": PART,
            "partId": part_id,
            "index": index,
            "count": count,
            "chunk": chunk,
        }
    )


def frames(
    messages: Sequence[bytes], part_ids: Sequence[str], limit: int = MAX_PAYLOAD_BYTES
) -> list[bytes]:
    """``messages`` in order as frames: runs of messages that fit packed into ``batch`` frames,
    each message over ``limit`` as its own ``incident.part`` frames (``part_ids[i]`` names the
    parts of message ``i``)."""
    return framed(messages, part_ids, limit)[0]


def framed(
    messages: Sequence[bytes], part_ids: Sequence[str], limit: int = MAX_PAYLOAD_BYTES
) -> tuple[list[bytes], list[int]]:
    """:func:`frames`, with the length of each run of frames that must reach the client in
    order: an oversize message's parts are one run (the contract says consecutive), every other
    frame is a run of one."""
    out: list[bytes] = []
    runs: list[int] = []
    run: list[bytes] = []
    for index, message in enumerate(messages):
        if len(message) <= limit:
            run.append(message)
            continue
        packed = pack(run, limit)
        out.extend(frame.data for frame in packed)
        runs.extend(1 for _ in packed)
        run = []
        cut = parts(message, part_ids[index], limit)
        out.extend(cut)
        runs.append(len(cut))
    packed = pack(run, limit)
    out.extend(frame.data for frame in packed)
    runs.extend(1 for _ in packed)
    return out, runs
