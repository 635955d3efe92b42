"""Packing a batch's messages into as few WebSocket frames as fit (README: message contract).

A frame carrying one message is that message, unchanged. A frame carrying several is
``{"version":1,"type":"batch","messages":[<message>, ...]}`` with the messages in stream order.
Every frame is at most ``MAX_PAYLOAD_BYTES``; messages are never split or reordered, so a batch
that does not fit in one frame becomes several consecutive frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# API Gateway WebSocket APIs accept a message payload of at most 128 KB; a larger
# post_to_connection fails with PayloadTooLargeException
# (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html, "Amazon API Gateway
# quotas for configuring and running a WebSocket API": "Message payload size: 128 KB").
MAX_PAYLOAD_BYTES = 128 * 1024
BATCH_VERSION = 1

_HEAD = b'{"version":%d,"type":"batch","messages":[' % BATCH_VERSION
_TAIL = b"]}"


@dataclass(frozen=True)
class Frame:
    """One post's body and the messages it carries (``first`` .. ``first + count - 1``)."""

    data: bytes
    first: int
    count: int

    @property
    def last(self) -> int:
        return self.first + self.count - 1


def batch_frame(messages: Sequence[bytes]) -> bytes:
    """The body of a frame carrying ``messages`` (one message is sent as itself)."""
    if len(messages) == 1:
        return messages[0]
    return _HEAD + b",".join(messages) + _TAIL


def appended(frame: bytes, message: bytes, limit: int = MAX_PAYLOAD_BYTES) -> bytes | None:
    """``frame`` (a batch, or one message) with ``message`` after what it carries, as one
    frame; None when that would be over ``limit``."""
    if frame.startswith(_HEAD):
        data = frame[: -len(_TAIL)] + b"," + message + _TAIL
    else:
        data = batch_frame([frame, message])
    return data if len(data) <= limit else None


def spans(sizes: Sequence[int], limit: int = MAX_PAYLOAD_BYTES) -> list[tuple[int, int]]:
    """Greedy, order-keeping grouping of messages of ``sizes`` bytes: (first, count) per frame.

    Role-based views group every audience's messages by the largest of each record's encodings,
    so frame ``k`` carries the same records for every role (a view is never larger than the
    whole incident, and a group that fits for the largest fits for all).
    """
    out: list[tuple[int, int]] = []
    first = 0
    size = 0  # bytes of the messages in the open group, commas included
    for index, length in enumerate(sizes):
        if length > limit:
            raise ValueError(f"message {index} is {length} bytes, over the {limit} limit")
        grown = size + length + (1 if index > first else 0)
        # A group of one is sent bare, so only groups of two or more pay for the envelope.
        if index > first and len(_HEAD) + grown + len(_TAIL) > limit:
            out.append((first, index - first))
            first, grown = index, length
        size = grown
    if first < len(sizes):
        out.append((first, len(sizes) - first))
    return out


def pack(messages: Sequence[bytes], limit: int = MAX_PAYLOAD_BYTES) -> list[Frame]:
    """Greedy, order-keeping packing of encoded messages (each at most ``limit`` bytes)."""
    return [
        Frame(batch_frame(messages[first : first + count]), first, count)
        for first, count in spans([len(m) for m in messages], limit)
    ]
