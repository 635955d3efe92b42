"""The sync cursor: opaque to clients, ``base64url(JSON {"v": 1, "t": <epoch ms>, "f": <tag>})``.

``f`` names the connection's effective filter when the answer was built (:func:`filter_tag`,
issue 17): a ``since`` sync whose cursor was made under another filter is answered with the
full state and ``reset: true``, because what the client holds was chosen by the old filter
(``reset`` semantics hold per filter). A cursor without ``f`` (made before subscriptions) counts
as the everything filter's.

``t`` is when the answer's state was read (the start of the cache refresh that served it, on the
sync function's clock). A ``since`` sync sends back every incident whose state changed at or
after ``t - overlap`` (``SYNC_CURSOR_OVERLAP_MS``): the overlap covers clock skew between the
Broadcaster's and the sync function's clocks, writes that were in flight (``changedAt`` is taken
before the conditional write lands) and the ``byChange`` index's propagation delay. What the
overlap sends twice, clients drop by the sequence rule (equal is a duplicate, older loses).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass

VERSION = 1
# The tag of the filter a cursor without one was made under: everything.
UNFILTERED = ""


def filter_tag(key: str) -> str:
    """A short stable tag of an effective filter's canonical key (filters.Effective.key)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Cursor:
    at_ms: int
    tag: str


def encode(watermark_ms: int, tag: str = UNFILTERED) -> str:
    data: dict[str, object] = {"v": VERSION, "t": watermark_ms}
    if tag:
        data["f"] = tag
    text = json.dumps(data, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode("ascii")).decode("ascii").rstrip("=")


def decode(cursor: str) -> int | None:
    """The cursor's time (epoch ms), or None when it cannot be read (the caller resets)."""
    parsed = decode_cursor(cursor)
    return None if parsed is None else parsed.at_ms


def decode_cursor(cursor: str) -> Cursor | None:
    """The cursor's time and filter tag, or None when it cannot be read (the caller resets)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or data.get("v") != VERSION:
        return None
    value = data.get("t")
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        return None
    tag = data.get("f", UNFILTERED)
    if not isinstance(tag, str):
        return None
    return Cursor(value, tag)
