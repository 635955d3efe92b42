"""Who gets which frames: the connections a Scan returned, split by their role's audience.

The stream consumer (``broadcaster``) and the fan-out worker (``fanout_worker``) both split their
connections this way, and both log through a :data:`Warn` made by :func:`warner`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

Warn = Callable[[str, dict[str, Any]], None]


class _WarningLogger(Protocol):
    def warning(self, msg: object, *, extra: Mapping[str, object] | None = ...) -> None: ...


def warner(logger: _WarningLogger) -> Warn:
    """``warn(message, extra)``: one warning line with ``extra``'s fields, on ``logger``."""

    def warn(message: str, extra: dict[str, Any]) -> None:
        logger.warning(message, extra=extra)

    return warn


@dataclass
class Audience:
    """The connections to post to, each with its audience (an index into the frame sets)."""

    ids: list[str] = field(default_factory=list)
    audiences: list[int] = field(default_factory=list)
    without_view: int = 0  # connections left out: their role has no view


def split(rows: Iterable[tuple[str, str]], roles: Mapping[str, int], warn: Warn) -> Audience:
    """``rows`` (connection id, role) as an :class:`Audience`; a role without a view gets
    nothing, and the connections left out are logged once, by role (the 20 largest)."""
    audience = Audience()
    without_view: Counter[str] = Counter()
    for connection_id, role in rows:
        index = roles.get(role)
        if index is None:
            without_view[role] += 1
            continue
        audience.ids.append(connection_id)
        audience.audiences.append(index)
    if without_view:
        warn(
            "connections whose role has no view get nothing",
            {"connections_by_role": dict(without_view.most_common(20))},
        )
    audience.without_view = sum(without_view.values())
    return audience
