"""The Connections table's key schema: one row per open WebSocket connection.

``pk = "CONN#<connectionId>"``, ``sk = "META#"`` (README: data model). Every function that reads
or writes a connection row builds its key here.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

PK_PREFIX = "CONN#"
SORT_KEY = "META#"


def connection_key(connection_id: str) -> dict[str, dict[str, str]]:
    """The low-level (typed attribute values) key of ``connection_id``'s row."""
    return {"pk": {"S": PK_PREFIX + connection_id}, "sk": {"S": SORT_KEY}}


# ``connectedAt``: when ``on_connect`` stored the row, ISO-8601 UTC to the second (S). Fixed
# width, so comparing the strings compares the times (a DynamoDB condition can).
CONNECTED_AT_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# A row is written by ``on_connect`` before API Gateway has finished the handshake, and
# ``PostToConnection`` answers 410 to a connection whose ``$connect`` has not completed yet
# (AWS-FACTS.md). The handshake completes when the ``$connect`` integration returns, and an
# integration runs at most 29 s, API Gateway's hard limit whatever the function's timeout
# (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html). So a 410 proves a
# connection gone only once its row is older than that: 29 s, plus 1 s because ``connectedAt``
# is cut to the second, plus 1 s for the clocks of the two functions (Lambda hosts keep NTP time
# to within milliseconds). The AWS limit is the owner, not ``functions.connect.timeout``: the
# window then holds for every timeout an operator can set, and a dead row costs only one more
# 410 per broadcast for at most half a minute.
CONNECT_INTEGRATION_TIMEOUT_SECONDS = 29
CONNECTING_WINDOW_SECONDS = CONNECT_INTEGRATION_TIMEOUT_SECONDS + 2


def connected_at(now: float) -> str:
    """The ``connectedAt`` value of a row stored at ``now`` (epoch seconds)."""
    return datetime.fromtimestamp(int(now), tz=UTC).strftime(CONNECTED_AT_FORMAT)


def connecting_cutoff(now: float) -> str:
    """The newest ``connectedAt`` a row may have for a 410 at ``now`` to prove it gone: a row
    connected later may belong to a connection whose handshake is still under way."""
    return connected_at(now - CONNECTING_WINDOW_SECONDS)


def connection_id_from_pk(pk: str) -> str | None:
    """The connection id a ``pk`` value names, or None if it is not a connection row's key."""
    if not pk.startswith(PK_PREFIX) or len(pk) == len(PK_PREFIX):
        return None
    return pk[len(PK_PREFIX) :]


# A user id is an opaque identifier from the authorizer (a JWT ``sub``): it lands in the table and
# in the logs, so it is bounded and holds no character that can disguise or break a log line:
# Unicode controls (``Cc``: C0, DEL and C1 such as U+0085 NEL and U+009B CSI), format characters
# (``Cf``: bidi overrides and isolates, zero-width joiners, U+FEFF), lone surrogates (``Cs``, not
# UTF-8 encodable) and the line and paragraph separators (``Zl``, ``Zp``).
MAX_USER_ID_CHARS = 256
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def is_valid_user_id(value: object) -> bool:
    """True for a string of 1..256 characters, none of them in a refused Unicode category."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_USER_ID_CHARS
        and not any(unicodedata.category(ch) in _REFUSED_CATEGORIES for ch in value)
    )


# Browsers cannot set headers on a WebSocket, but they can offer subprotocols:
# ``new WebSocket(url, ["bearer", token])`` sends ``Sec-WebSocket-Protocol: bearer, <token>``.
# The authorizer reads the token that follows ``bearer``; ``$connect`` must then answer with the
# one subprotocol it selected (``bearer``, never the token), or the browser drops the connection.
# https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-connect-route-subprotocol.html
TOKEN_SUBPROTOCOL = "bearer"  # noqa: S105 - a protocol name, not a secret
SUBPROTOCOL_HEADER = "sec-websocket-protocol"


def offered_subprotocols(headers: object) -> list[str]:
    """The subprotocols a handshake offered, in order (header name matched case-insensitively)."""
    if not isinstance(headers, dict):
        return []
    for name, value in headers.items():
        if isinstance(name, str) and name.lower() == SUBPROTOCOL_HEADER and isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
    return []
