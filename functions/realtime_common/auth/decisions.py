"""Allows remembered per execution environment for ``AUTH_CACHE_SECONDS`` (0: off)."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field

from realtime_common.auth.claims import Principal

MAX_CACHED_DECISIONS = 4096


@dataclass
class DecisionCache:
    """Allowed principals by token digest for ``AUTH_CACHE_SECONDS`` (never past the token's exp).

    API Gateway caches authorizer results only for HTTP APIs, so a WebSocket API that wants
    caching gets it here, per execution environment. Only allows are cached; the token itself is
    not kept (its SHA-256 is the key). 0 s turns it off (Terraform's default).
    """

    seconds: int
    entries: OrderedDict[bytes, tuple[float, Principal]] = field(default_factory=OrderedDict)

    def get(self, token: str, now: float) -> Principal | None:
        if self.seconds <= 0:
            return None
        digest = hashlib.sha256(token.encode()).digest()
        entry = self.entries.get(digest)
        if entry is None:
            return None
        until, principal = entry
        if now >= until:
            del self.entries[digest]
            return None
        return principal

    def put(self, token: str, principal: Principal, now: float) -> None:
        if self.seconds <= 0:
            return
        until = min(now + self.seconds, principal.expires_at)
        self.entries[hashlib.sha256(token.encode()).digest()] = (until, principal)
        while len(self.entries) > MAX_CACHED_DECISIONS:
            self.entries.popitem(last=False)
