"""Posting a sync answer to its one connection (``direct``, blocking keep-alive sockets): the
frames but the last up to ``IN_FLIGHT`` at once, then the last (``sync.complete``) alone.

The frames of a full sync are shared by every client of a role until the state changes, so
their SigV4 payload hashes are computed once (cache.Prepared) and are signed here as they are;
the retry rules, the deadline and the signer's cached key are the fan-out's own. Posts of one
execution environment share one token bucket across invocations, so the function's post rate is
bounded by ``SYNC_POST_RATE`` x its concurrency (docs/operations.md: how it adds up with the
fan-out's).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from realtime_common.fanout import engine
from realtime_common.fanout.rate import RateLimiter
from realtime_common.fanout.schedule import Outcome
from realtime_common.fanout.sigv4 import CredentialsSource, Signer, canonical_host
from realtime_common.sync import direct

if TYPE_CHECKING:
    from realtime_common.sync.cache import Prepared

# A sync answer's frames but the last go to the client up to this many at once; the last (the
# sync.complete, or the frame that carries it) goes only when all of them have arrived. Order
# among the others does not matter to a client (it applies incidents by sequence; an oversize
# incident's parts still go one after another, alone: see phases). Waiting for each answer
# before the next post made a 1 MB answer ten round trips long (docs/benchmarks/sync.md). Four
# 128 KB frames keep what is in flight to one client small (API Gateway answers 429 when a
# client's buffer is full; the post is retried after a backoff).
IN_FLIGHT = 4
_DELIVERED = Outcome.DELIVERED.value


@dataclass(frozen=True)
class Delivery:
    delivered: int  # frames that reached the connection
    outcome: str  # "delivered", or the first frame's failure (gone, unreachable, ...)


@dataclass(frozen=True)
class Phase:
    """One engine run of an answer: ``lanes`` lanes of ``width`` frames each, to the one
    connection (the engine keeps each lane in order and runs the lanes side by side);
    ``frame_of[lane * width + k]`` is lane ``lane``'s frame ``k``."""

    lanes: int
    width: int
    frame_of: list[int]


def phases(runs: Sequence[int]) -> list[Phase]:
    """The order an answer of ``runs`` (Prepared.runs) is posted in: every frame that is a run
    of its own side by side; then each oversize incident's parts, one after another, alone (so
    they stay consecutive); then the last frame, the sync.complete or what carries it, once all
    the others have arrived."""
    total = sum(runs)
    singles: list[int] = []
    part_runs: list[Phase] = []
    first = 0
    for length in runs:
        body = min(length, total - 1 - first)  # the last frame is not in the body
        if body == 1 and length == 1:
            singles.append(first)
        elif body >= 1:
            part_runs.append(Phase(1, body, list(range(first, first + body))))
        first += length
    out = [Phase(len(singles), 1, singles)] if singles else []
    return [*out, *part_runs, Phase(1, 1, [total - 1])]


@functools.cache
def _limiter(rate: int) -> RateLimiter:
    return RateLimiter(rate, burst=max(1, rate // 20))


# What one environment's posts share, built on its first post (a sync posts to one
# connection, so per-call set-up would be a large share of its cost). Bounded: a caller that
# makes a credentials source per invocation must not grow it without end.
@functools.lru_cache(maxsize=8)
def _signer(credentials: CredentialsSource, region: str, callback_url: str) -> Signer:
    return Signer(credentials, region, canonical_host(callback_url), clock=time.time)


@functools.cache
def _base_path(callback_url: str) -> str:
    return urlsplit(callback_url.rstrip("/")).path


@functools.cache
def _policy(max_attempts: int) -> engine.RetryPolicy:
    return engine.RetryPolicy(max_attempts=max_attempts)


# The kept-alive connections, per thread (Lambda runs one; in-process tests may run several)
# and per callback URL.
_LINKS = threading.local()


def _links(callback_url: str) -> direct.Links:
    found: dict[str, direct.Links] = _LINKS.__dict__.setdefault("by_url", {})
    links = found.get(callback_url)
    if links is None:
        links = found[callback_url] = direct.Links(callback_url)
    return links


def post(
    connection_id: str,
    prepared: Prepared,
    *,
    callback_url: str,
    credentials: CredentialsSource,
    region: str,
    rate: int,
    max_attempts: int,
    deadline: float,
    log_failure: Callable[[str, dict[str, Any]], None],
) -> Delivery:
    """Post ``prepared``'s frames to ``connection_id`` in :func:`phases`, up to ``IN_FLIGHT`` at
    once (``deadline`` on ``time.monotonic``). Stops at the first frame that does not arrive:
    the last frame (the sync.complete) is never posted after one that failed."""
    frames = prepared.frames
    if not frames:
        return Delivery(0, _DELIVERED)
    signer = _signer(credentials, region, callback_url)
    base_path = _base_path(callback_url)
    hashes = prepared.hashes

    # Every frame's first request is signed up front, in one call (the clock, the credentials
    # and the id's escaping read once); a retry is signed when it goes.
    first: list[bytes | None] = list(
        signer.post_heads(base_path, connection_id, zip(hashes, map(len, frames), strict=True))
    )

    def request(frame: int) -> bytes:
        head, first[frame] = first[frame], None
        if head is None:
            head = signer.post_head(base_path, connection_id, hashes[frame], len(frames[frame]))
        return head + frames[frame]

    run = direct.Run(
        connection_id,
        request,
        _links(callback_url),
        limit=IN_FLIGHT,
        policy=_policy(max_attempts),
        limiter=_limiter(rate),
        deadline=deadline,
        log_failure=log_failure,
    )
    for phase in phases(prepared.runs):
        width = phase.width
        run.go([phase.frame_of[i * width : (i + 1) * width] for i in range(phase.lanes)])
        if run.failed is not None:
            return Delivery(run.delivered, run.failed.value)
    return Delivery(run.delivered, _DELIVERED)


def reset() -> None:
    """Forget the cached limiter, signer, policy and kept-alive connections (tests)."""
    _limiter.cache_clear()
    _signer.cache_clear()
    _policy.cache_clear()
    for links in _LINKS.__dict__.pop("by_url", {}).values():
        links.close()
