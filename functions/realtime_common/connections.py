"""The Connections table's key schema: one row per open WebSocket connection.

``pk = "CONN#<connectionId>"``, ``sk = "META#"`` (README: data model). Every function that reads
or writes a connection row builds its key here.
"""

from __future__ import annotations

PK_PREFIX = "CONN#"
SORT_KEY = "META#"


def connection_key(connection_id: str) -> dict[str, dict[str, str]]:
    """The low-level (typed attribute values) key of ``connection_id``'s row."""
    return {"pk": {"S": PK_PREFIX + connection_id}, "sk": {"S": SORT_KEY}}


def connection_id_from_pk(pk: str) -> str | None:
    """The connection id a ``pk`` value names, or None if it is not a connection row's key."""
    if not pk.startswith(PK_PREFIX) or len(pk) == len(PK_PREFIX):
        return None
    return pk[len(PK_PREFIX) :]
