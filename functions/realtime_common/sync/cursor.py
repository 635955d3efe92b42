"""The sync cursor: opaque to clients, ``base64url(JSON {"v": 1, "t": <epoch ms>})``.

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
import json

VERSION = 1


def encode(watermark_ms: int) -> str:
    text = json.dumps({"v": VERSION, "t": watermark_ms}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode("ascii")).decode("ascii").rstrip("=")


def decode(cursor: str) -> int | None:
    """The cursor's time (epoch ms), or None when it cannot be read (the caller resets)."""
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
    return value
