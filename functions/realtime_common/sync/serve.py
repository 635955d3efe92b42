"""Answering one ``sync`` request (functions/README.md, "Sync"): parse, admit the connection,
refresh the cache, build the answer in the connection's role view, post it.

Every failure path answers or stays silent on purpose: a malformed request gets ``bad_request``
(the connection stays open), a second full sync within the interval gets ``sync_throttled`` with
``retryAfterMs``, a connection whose row is gone gets nothing, a role without a view gets
nothing. A cursor that cannot be read, is older than the retention or comes from the future is
answered with the full state and ``reset: true``, never with an error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from realtime_common.filters import (
    ALL_AREAS,
    ClaimError,
    Effective,
    Filter,
    FilterError,
    Permission,
    effective,
    stored_effective,
)
from realtime_common.sync import cursor, messages
from realtime_common.sync.cache import Prepared, StateCache, ending_with, join, prepare
from realtime_common.sync.config import SyncConfig
from realtime_common.sync.connection import admit
from realtime_common.sync.request import BadRequest, Kind, parse

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from realtime_common.sync.post import Delivery

Post = Callable[[str, Prepared], "Delivery"]


@dataclass(frozen=True)
class SyncResult:
    """What one sync did (logged; the benchmark and tests read it)."""

    status: str  # answered, bad_request, throttled, gone, no_view, bad_subscription
    kind: str = ""
    reset: bool = False
    count: int = 0
    frames: int = 0
    bytes: int = 0
    items_read: int = 0
    delivery: str = ""


def serve(
    body: object,
    connection_id: str,
    *,
    cfg: SyncConfig,
    cache: StateCache,
    dynamodb: DynamoDBClient,
    post: Post,
    now_ms: int,
) -> SyncResult:
    try:
        request = parse(body)
    except BadRequest as error:
        return _error(post, connection_id, "bad_request", messages.error("bad_request", str(error)))

    kind = request.kind
    since = None
    if kind is Kind.SINCE:
        since = _usable_cursor(request.since or "", cfg, now_ms)
        kind = Kind.SINCE if since is not None else Kind.FULL
    admission = admit(
        dynamodb,
        cfg.connections_table,
        connection_id,
        full=kind is Kind.FULL,
        now_ms=now_ms,
        interval_ms=cfg.full_interval_ms,
    )
    if admission.retry_after_ms is not None:
        seconds = admission.retry_after_ms / 1000
        throttled = messages.error(
            "sync_throttled",
            f"one full sync per {cfg.full_interval_ms / 1000:g} s per connection: "
            f"retry in {seconds:g} s, or sync since your last cursor",
            admission.retry_after_ms,
        )
        return _error(post, connection_id, "throttled", throttled)
    if admission.role is None:
        return SyncResult("gone", kind.value)
    audience = cfg.views.audience_of().get(admission.role)
    if audience is None:
        return SyncResult("no_view", kind.value)
    try:
        subscribed = stored_effective(admission.areas, admission.filter, cfg.default_areas)
    except (ClaimError, FilterError):
        return SyncResult("bad_subscription", kind.value)  # the fan-out sends it nothing either
    tag = cursor.filter_tag(subscribed.key)
    from_ms = None
    if since is not None:
        if _same_filter(since.tag, tag):
            from_ms = since.at_ms - cfg.overlap_ms
        else:
            # Made under another filter: what the client holds was chosen by it, so it gets the
            # full state with reset (not throttled: a new subscription is no storm).
            kind = Kind.FULL

    read = cache.refresh(dynamodb, cfg.state_table, now_ms)
    kind, prepared = _build(
        cache,
        kind,
        from_ms=from_ms,
        ids=request.ids,
        audience=audience,
        now_ms=now_ms,
        effective=subscribed,
        tag=tag,
    )
    joined = join(prepared)
    delivery = post(connection_id, joined)
    return SyncResult(
        "answered",
        kind.value,
        reset=kind is Kind.FULL,
        count=joined.count,
        frames=len(joined.frames),
        bytes=sum(len(frame) for frame in joined.frames),
        items_read=read,
        delivery=delivery.outcome,
    )


def _build(
    cache: StateCache,
    kind: Kind,
    *,
    from_ms: int | None,
    ids: tuple[str, ...],
    audience: int,
    now_ms: int,
    effective: Effective,
    tag: str,
) -> tuple[Kind, list[Prepared]]:
    """The answer's frames, sync.complete last; the kind it became (a since sync whose window
    saw an incident expire becomes a full one: only a reset can drop it). Only what the
    connection's effective filter lets through is answered (``StateCache.answer``)."""
    tail_cursor = cursor.encode(now_ms, tag)
    if kind is Kind.SINCE and from_ms is not None:
        changed = cache.since(from_ms, now_ms)
        if changed is not None:
            return kind, [
                cache.answer(
                    changed,
                    audience,
                    now_ms,
                    lambda count: messages.complete(tail_cursor, reset=False, count=count),
                    effective,
                )
            ]
        kind = Kind.FULL
    if kind is Kind.IDS:
        # An incidents sync is no position in the change feed: its cursor is empty, and the
        # client keeps the cursor of its last full or since sync.
        return kind, [
            cache.answer(
                cache.by_ids(ids),
                audience,
                now_ms,
                lambda count: messages.complete("", reset=False, count=count),
                effective,
            )
        ]
    full = cache.full(audience, now_ms, effective)
    return Kind.FULL, [
        ending_with(full, messages.complete(tail_cursor, reset=True, count=full.count))
    ]


# A cursor made before subscriptions carries no tag: it was made under the everything filter.
_EVERYTHING = cursor.filter_tag(effective(Filter(), Permission.of([ALL_AREAS])).key)


def _same_filter(made_under: str, tag: str) -> bool:
    return made_under == tag or (made_under == cursor.UNFILTERED and tag == _EVERYTHING)


def _usable_cursor(text: str, cfg: SyncConfig, now_ms: int) -> cursor.Cursor | None:
    """The since cursor when its time is usable (the filter is checked once the row is read),
    or None to reset."""
    parsed = cursor.decode_cursor(text)
    if parsed is None or parsed.at_ms > now_ms + cfg.overlap_ms:  # unreadable, or from the future
        return None
    if parsed.at_ms - cfg.overlap_ms <= now_ms - cfg.retention_ms:
        return None  # removals before it may be forgotten already
    return parsed


def _error(post: Post, connection_id: str, status: str, frame: bytes) -> SyncResult:
    delivery = post(connection_id, prepare([frame], 0))
    return SyncResult(status, frames=1, bytes=len(frame), delivery=delivery.outcome)
