"""Who gets which frames: the connections a Scan returned, grouped into audiences by their
role's view and their effective subscription filter (``realtime_common.filters``).

The stream consumer (``broadcaster``) and the fan-out worker (``fanout_worker``) both route their
connections this way (:class:`Router`), and both log through a :data:`Warn` made by
:func:`warner`.

Cost model (issue 17): a connection row costs one dictionary look-up keyed by the row's raw
``role``, ``areas`` and ``filter`` texts; each distinct (areas, filter) pair is parsed once,
each distinct effective filter is matched once per record (:meth:`Change.decide`), and each
distinct (view, per-record decisions) pair has its frames built once. Two filters that decide
the same for every record of the batch share one frame set.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from realtime_common.fanout.frames import batch_frame
from realtime_common.filters import (
    AREA_FIELD,
    ClaimError,
    Effective,
    FilterError,
    Permission,
    matches,
    stored_effective,
)

Warn = Callable[[str, dict[str, Any]], None]

# A connection row as the Scan gives it: id, role ("" when none), areas and filter (None when
# the row has none).
Row = tuple[str, str, str | None, str | None]

# What one effective filter makes of one record.
NOTHING = 0  # not sent
MESSAGE = 1  # the record's message in the connection's view (incident.removed for a REMOVE)
LEFT = 2  # incident.left: the old image matched, the new one does not

Decisions = tuple[int, ...]


class _WarningLogger(Protocol):
    def warning(self, msg: object, *, extra: Mapping[str, object] | None = ...) -> None: ...


def warner(logger: _WarningLogger) -> Warn:
    """``warn(message, extra)``: one warning line with ``extra``'s fields, on ``logger``."""

    def warn(message: str, extra: dict[str, Any]) -> None:
        logger.warning(message, extra=extra)

    return warn


@dataclass(frozen=True)
class Change:
    """What a filter needs to know of one record: whether it is a removal, and its new and old
    plain images (only the filterable fields and ``area`` matter)."""

    removal: bool
    new: Mapping[str, Any] | None
    old: Mapping[str, Any] | None

    def decide(self, effective: Effective) -> int:
        """A removal goes where the removed incident (its old image) matched; without an old
        image (a stream that does not carry it) it goes everywhere: it carries only keys, and a
        board that holds the incident must drop it. An INSERT or MODIFY goes where the new image
        matches; a MODIFY whose old image matched and new image does not becomes LEFT."""
        if self.removal:
            return MESSAGE if self.old is None or matches(effective, self.old) else NOTHING
        if self.new is not None and matches(effective, self.new):
            return MESSAGE
        if self.old is not None and matches(effective, self.old):
            return LEFT
        return NOTHING

    def projected(self, fields: frozenset[str]) -> Change:
        """Only what matching reads (``fields`` and ``area``): what a worker job carries."""
        keep = fields | {AREA_FIELD}

        def cut(image: Mapping[str, Any] | None) -> dict[str, Any] | None:
            if image is None:
                return None
            return {name: value for name, value in image.items() if name in keep}

        return Change(self.removal, cut(self.new), cut(self.old))

    def as_dict(self) -> dict[str, Any]:
        return {"removal": self.removal, "new": self.new, "old": self.old}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Change:
        return cls(bool(data["removal"]), data.get("new"), data.get("old"))


@dataclass(frozen=True)
class Encoded:
    """A batch's messages, encoded once: per view, each record's message; per record its
    ``incident.left`` message (b"" when it cannot leave a filter); the frame groups (first
    record, count), the same for every audience; and each record's :class:`Change`."""

    views: Sequence[Sequence[bytes]]
    left: Sequence[bytes]
    groups: Sequence[tuple[int, int]]
    changes: Sequence[Change]


@dataclass
class Audience:
    """The connections to post to, each with its audience (an index into ``frames``), and each
    audience's frames (b"" for a frame with nothing for it: skipped, not posted)."""

    ids: list[str] = field(default_factory=list)
    audiences: list[int] = field(default_factory=list)
    frames: list[list[bytes]] = field(default_factory=list)
    without_view: int = 0  # connections left out: their role has no view
    not_matching: int = 0  # connections left out: their filter matches no record of the batch
    invalid: int = 0  # connections left out: a stored areas/filter this stack did not write


# Router cache entries besides audience indexes.
_NO_VIEW = -1
_NO_MATCH = -2
_INVALID = -3


class Router:
    """Routes Scan rows to audiences for one batch's :class:`Encoded` messages.

    ``roles`` maps each role that has a view to its view (an index into ``encoded.views``);
    ``default`` is the permission of a row written without ``areas``.
    """

    def __init__(
        self, encoded: Encoded, roles: Mapping[str, int], default: Permission, warn: Warn
    ) -> None:
        self.encoded = encoded
        self.roles = roles
        self.default = default
        self.warn = warn
        self.rows: dict[tuple[str, str | None, str | None], int] = {}
        self.decided: dict[str, Decisions] = {}  # effective filter key -> decisions
        self.sets: dict[tuple[int, Decisions], int] = {}
        self.matched = 0  # (record, distinct filter) pairs decided
        self.frames_built = 0  # audiences whose frames were built

    def split(self, rows: Iterable[Row]) -> Audience:
        """``rows`` as an :class:`Audience`; connections left out are logged once by cause."""
        audience = Audience()
        without_view: Counter[str] = Counter()
        cache = self.rows
        ids = audience.ids
        indexes = audience.audiences
        for connection_id, role, areas, filter_text in rows:
            key = (role, areas, filter_text)
            index = cache.get(key)
            if index is None:
                index = cache[key] = self._place(audience, role, areas, filter_text)
            if index >= 0:
                ids.append(connection_id)
                indexes.append(index)
            elif index == _NO_VIEW:
                without_view[role] += 1
            elif index == _NO_MATCH:
                audience.not_matching += 1
            else:
                audience.invalid += 1
        if without_view:
            self.warn(
                "connections whose role has no view get nothing",
                {"connections_by_role": dict(without_view.most_common(20))},
            )
        audience.without_view = sum(without_view.values())
        return audience

    def _place(
        self, audience: Audience, role: str, areas: str | None, filter_text: str | None
    ) -> int:
        view = self.roles.get(role)
        if view is None:
            return _NO_VIEW
        try:
            effective = stored_effective(areas, filter_text, self.default)
        except (ClaimError, FilterError) as error:
            self.warn(
                "connection row with a malformed areas or filter gets nothing",
                {
                    "areas": (areas or "")[:200],
                    "filter": (filter_text or "")[:200],
                    "error": str(error),
                },
            )
            return _INVALID
        decisions = self.decided.get(effective.key)
        if decisions is None:
            decisions = self.decided[effective.key] = tuple(
                change.decide(effective) for change in self.encoded.changes
            )
            self.matched += len(decisions)
        if not any(decisions):
            return _NO_MATCH
        index = self.sets.get((view, decisions))
        if index is None:
            index = self.sets[(view, decisions)] = len(audience.frames)
            audience.frames.append(self._frames(view, decisions))
        return index

    def _frames(self, view: int, decisions: Decisions) -> list[bytes]:
        """One audience's frames: per group, the messages its decisions let through."""
        self.frames_built += 1
        messages = self.encoded.views[view]
        left = self.encoded.left
        out: list[bytes] = []
        for first, count in self.encoded.groups:
            chosen = [
                messages[index] if decisions[index] == MESSAGE else left[index]
                for index in range(first, first + count)
                if decisions[index]
            ]
            out.append(batch_frame(chosen) if chosen else b"")
        return out
