"""Where the token travels in a ``$connect`` request (browsers cannot set WebSocket headers)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from realtime_common.auth.errors import UnauthorizedError
from realtime_common.connections import TOKEN_SUBPROTOCOL, offered_subprotocols

# A JWT from an OIDC provider is a few KB; anything far larger is refused before parsing.
MAX_TOKEN_CHARS = 8192


def extract_token(event: Mapping[str, Any]) -> str:
    """The bearer token: ``token`` query parameter or the subprotocol after ``bearer``.

    Two different tokens in one request are refused rather than one silently preferred.
    """
    query = event.get("queryStringParameters") or {}
    from_query = query.get("token") if isinstance(query, Mapping) else None
    protocols = offered_subprotocols(event.get("headers"))
    from_header = None
    if TOKEN_SUBPROTOCOL in protocols:
        position = protocols.index(TOKEN_SUBPROTOCOL)
        from_header = protocols[position + 1] if position + 1 < len(protocols) else None
    found = {t for t in (from_query, from_header) if isinstance(t, str) and t}
    if not found:
        raise UnauthorizedError("no token (query parameter 'token' or subprotocol 'bearer')")
    if len(found) > 1:
        raise UnauthorizedError("two different tokens in one request")
    token = found.pop()
    if len(token) > MAX_TOKEN_CHARS:
        raise UnauthorizedError(f"token longer than {MAX_TOKEN_CHARS} characters")
    return token
