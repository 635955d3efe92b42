"""The state as one execution environment serves it: every incident's latest state, kept
current by one ``byChange`` Query per sync, and each role's full-sync frames built once per
state version.

A reconnect storm (thousands of full syncs within a minute) then costs one small Query per sync
(the changes since the last one, plus the overlap) instead of a read of the whole table, and one
encoding of the state per view and version instead of one per client.

Exactness: each sync refreshes the cache before it answers, reading every item whose
``changedAt`` is at least the previous refresh's start minus the overlap. An item is therefore
served by every sync that starts after it became visible in the index, provided it became
visible no later than ``overlap`` after its ``changedAt`` (clock skew, in-flight writes, index
propagation: see cursor.py).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from realtime_common.fanout.frames import appended
from realtime_common.fanout.sigv4 import payload_hash
from realtime_common.fanout.views import View
from realtime_common.filters import AREA_FIELD, Effective, matches
from realtime_common.sync import messages
from realtime_common.sync.store import (
    Entry,
    MalformedStateError,
    changes_since,
    parse_item,
    pk_of,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


@dataclass(frozen=True)
class Prepared:
    """Frames ready to post, with each body's SigV4 payload hash (computed once)."""

    frames: list[bytes]
    hashes: list[str]
    count: int  # incident messages they carry
    # The frames as runs that must reach the client in order (lengths, summing to the number
    # of frames): an oversize incident's parts are one run, any other frame a run of one.
    runs: list[int]


def prepare(frames: list[bytes], count: int, runs: list[int] | None = None) -> Prepared:
    """``runs``: messages.framed's; by default every frame is a run of its own."""
    return Prepared(
        frames,
        [payload_hash(frame) for frame in frames],
        count,
        [1] * len(frames) if runs is None else runs,
    )


def join(parts: list[Prepared]) -> Prepared:
    """One answer of several prepared pieces, in order."""
    if len(parts) == 1:
        return parts[0]
    return Prepared(
        [frame for part in parts for frame in part.frames],
        [digest for part in parts for digest in part.hashes],
        sum(part.count for part in parts),
        [run for part in parts for run in part.runs],
    )


def ending_with(prepared: Prepared, message: bytes) -> Prepared:
    """``prepared`` followed by ``message`` (the sync.complete): carried by the last frame when
    that is no oversize incident's part and it still fits, else a frame of its own. One post
    fewer per full sync, for the hash of one frame (the others' stay shared)."""
    if prepared.frames and prepared.runs[-1] == 1:
        merged = appended(prepared.frames[-1], message)
        if merged is not None:
            return Prepared(
                [*prepared.frames[:-1], merged],
                [*prepared.hashes[:-1], payload_hash(merged)],
                prepared.count,
                prepared.runs,
            )
    return join([prepared, prepare([message], 0)])


class StateCache:
    def __init__(
        self,
        audiences: list[View],
        *,
        overlap_ms: int,
        retention_ms: int,
        warn: Callable[[str, dict[str, Any]], None] = lambda _m, _e: None,
    ) -> None:
        self.audiences = audiences
        self.overlap_ms = overlap_ms
        self.retention_ms = retention_ms
        self.warn = warn
        self.entries: dict[str, Entry] = {}
        self.watermark: int | None = None  # epoch ms: when the last refresh started
        self.version = 0
        self._looked_s = -math.inf  # epoch s: when expire() last looked for ended retentions
        # (changedAt, pk) of every entry, sorted: a since sync reads the tail past its window
        # instead of every entry (a catch-up after a short gap touches a few of thousands).
        self._by_change: list[tuple[int, str]] = []
        # (expiresAt, pk) of every live entry with a retention, sorted: whether one expired
        # within a since window is one bisection.
        self._by_expiry: list[tuple[int, str]] = []
        self._full: dict[tuple[str, int], Prepared] = {}  # (effective filter key, view)
        self._full_version = -1

    # ---------------------------------------------------------------------------------------
    # Refresh
    # ---------------------------------------------------------------------------------------
    def refresh(self, dynamodb: DynamoDBClient, table: str, now_ms: int) -> int:
        """Read what changed since the last refresh (everything, the first time); the number
        of items DynamoDB read."""
        since = None if self.watermark is None else self.watermark - self.overlap_ms
        read = 0
        for page in changes_since(dynamodb, table, since):
            read += page.read
            self.merge(page.items)
        self.watermark = now_ms
        self.expire(now_ms)
        return read

    def merge(self, items: Iterable[dict[str, Any]]) -> None:
        """Take each item whose sequence is newer than what the cache holds for its incident."""
        entries = self.entries
        for item in items:
            current = entries.get(item.get("pk", {}).get("S", ""))
            if current is not None and current.sequence == item.get("sequence", {}).get("S"):
                continue  # the overlap read it again: nothing to parse
            try:
                entry = parse_item(item)
            except MalformedStateError as error:
                self.warn("state item skipped", {"error": str(error)})
                continue
            if current is not None:
                if current.order >= entry.order:
                    continue
                self._unindex(current)
            entries[entry.pk] = entry
            self._index(entry)
            self.version += 1

    def expire(self, now_ms: int) -> None:
        """Bump the version when a live entry's retention ended since the last look (full-sync
        frames change), and then forget entries no cursor can still need."""
        now_s = now_ms / 1000
        expiries = self._by_expiry
        first = bisect.bisect_right(expiries, self._looked_s, key=_first)
        self._looked_s = now_s
        if first == len(expiries) or expiries[first][0] > now_s:
            return
        self.version += 1
        forget_before = (now_ms - self.retention_ms - 2 * self.overlap_ms) / 1000
        for pk, entry in list(self.entries.items()):
            if entry.expires_at is not None and entry.expires_at <= forget_before:
                self._unindex(entry)
                del self.entries[pk]

    def _index(self, entry: Entry) -> None:
        bisect.insort(self._by_change, (entry.changed_at, entry.pk))
        if entry.expires_at is not None and not entry.removed:
            bisect.insort(self._by_expiry, (entry.expires_at, entry.pk))

    def _unindex(self, entry: Entry) -> None:
        _discard(self._by_change, (entry.changed_at, entry.pk))
        if entry.expires_at is not None and not entry.removed:
            _discard(self._by_expiry, (entry.expires_at, entry.pk))

    # ---------------------------------------------------------------------------------------
    # Answers
    # ---------------------------------------------------------------------------------------
    def message(self, entry: Entry, audience: int, now_s: float) -> bytes:
        """The entry's message for ``audience``: a snapshot, or a removal once it is not live."""
        if not entry.live(now_s):
            return messages.removed(entry)
        data = entry.encoded.get(audience)
        if data is None:
            data = entry.encoded[audience] = messages.snapshot(entry, self.audiences[audience])
        return data

    def full(self, audience: int, now_ms: int, effective: Effective) -> Prepared:
        """Every live incident ``effective`` matches, in ``audience``'s view, as frames (built
        once per (filter, view, state version): a reconnect storm of one area's boards encodes
        that area's state once)."""
        if self._full_version != self.version:
            self._full.clear()
            self._full_version = self.version
        prepared = self._full.get((effective.key, audience))
        if prepared is None:
            now_s = now_ms / 1000
            live = [
                entry
                for entry in self.entries.values()
                if entry.live(now_s) and matches(effective, entry.image or {})
            ]
            encoded = [self.message(entry, audience, now_s) for entry in live]
            part_ids = [f"{entry.sequence}.{audience}" for entry in live]
            frames, runs = messages.framed(encoded, part_ids)
            prepared = self._full[(effective.key, audience)] = prepare(frames, len(encoded), runs)
        return prepared

    def since(self, from_ms: int, now_ms: int) -> list[Entry] | None:
        """The entries changed at or after ``from_ms`` (oldest change first); None when one
        expired since then (its removal is not a change the client can apply by sequence: the
        caller resets)."""
        expiries = self._by_expiry
        first = bisect.bisect_right(expiries, from_ms / 1000, key=_first)
        if first < len(expiries) and expiries[first][0] <= now_ms / 1000:
            return None
        changes = self._by_change
        entries = self.entries
        return [
            entries[pk] for _, pk in changes[bisect.bisect_left(changes, from_ms, key=_first) :]
        ]

    def by_ids(self, incident_ids: Iterable[str]) -> list[Entry]:
        """The entries of ``incident_ids`` the state knows (unknown ids are left out)."""
        found = (self.entries.get(pk_of(incident_id)) for incident_id in incident_ids)
        return [entry for entry in found if entry is not None]

    def answer(
        self,
        entries: list[Entry],
        audience: int,
        now_ms: int,
        tail: Callable[[int], bytes],
        effective: Effective,
    ) -> Prepared:
        """``entries`` as ``effective`` lets them through, in ``audience``'s view, followed by
        ``tail(count)`` (sync.complete), as frames.

        A live incident the filter matches is a snapshot. One it does not match is
        ``incident.left`` when the token may see its area (the client may hold it from before
        its last change; keys only), and left out otherwise: nothing of an incident outside the
        permission is sent. A tombstone has no image to match: its ``incident.removed`` (keys
        only) is sent, so a board that held the incident drops it; an incident past its
        retention is removed where it matches.
        """
        now_s = now_ms / 1000
        encoded: list[bytes] = []
        part_ids: list[str] = []
        for entry in entries:
            image = entry.image
            if image is None or matches(effective, image):
                data = self.message(entry, audience, now_s)
            elif entry.live(now_s) and effective.areas.allows(_area(image)):
                data = messages.left(entry)
            else:
                continue
            encoded.append(data)
            part_ids.append(f"{entry.sequence}.{audience}")
        frames, runs = messages.framed([*encoded, tail(len(encoded))], [*part_ids, ""])
        return prepare(frames, len(encoded), runs)


def _first(pair: tuple[int, str]) -> int:
    return pair[0]


def _discard(index: list[tuple[int, str]], pair: tuple[int, str]) -> None:
    at = bisect.bisect_left(index, pair)
    if at < len(index) and index[at] == pair:
        del index[at]


def _area(image: dict[str, Any]) -> str | None:
    area = image.get(AREA_FIELD)
    return area if isinstance(area, str) else None
