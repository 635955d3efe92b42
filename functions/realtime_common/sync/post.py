"""Posting a sync answer to its one connection over the fan-out's keep-alive wire pool: the
frames but the last up to ``IN_FLIGHT`` at once, then the last (``sync.complete``) alone.

The frames of a full sync are shared by every client of a role until the state changes, so
their SigV4 payload hashes are computed once (cache.Prepared) and this sender takes them as they
are; everything else (the engine's retries, per-connection order and deadline, the wire client,
the signer's cached key) is the fan-out's own. Posts of one execution environment share one
token bucket across invocations, so the function's post rate is bounded by
``SYNC_POST_RATE`` x its concurrency (docs/operations.md: how it adds up with the fan-out's).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from realtime_common.fanout import delivery, engine
from realtime_common.fanout.rate import RateLimiter
from realtime_common.fanout.schedule import Outcome
from realtime_common.fanout.sigv4 import CredentialsSource, Signer, canonical_host
from realtime_common.fanout.transport import Done

if TYPE_CHECKING:
    from realtime_common.fanout import wire
    from realtime_common.sync.cache import Prepared

# A sync answer's frames but the last go to the client up to this many at once; the last (the
# sync.complete, or the frame that carries it) goes only when all of them have arrived. Order
# among the others does not matter to a client (it applies incidents by sequence; an oversize
# incident's parts still go one after another, alone: see phases). Waiting for each answer
# before the next post made a 1 MB answer ten round trips long: ten wake-ups of the function
# instead of about four (docs/benchmarks/sync.md). Four 128 KB frames keep what is in flight to
# one client small (API Gateway answers 429 when a client's buffer is full; the engine backs off
# and retries).
IN_FLIGHT = 4
_DELIVERED = Outcome.DELIVERED.value
# What the frames not posted after a 410 are answered (the engine's classify says gone).
_GONE_ANSWER = (410, "GoneException")


class PreparedSender:
    """The engine's ``Sender`` for frames whose payload hashes are known; ``frame_of[slot]`` is
    the frame the engine's ``slot`` posts.

    Its lanes all go to one connection: once one answer says the connection is gone (410), the
    frames not yet posted are answered 410 without a post (nothing more can arrive there)."""

    def __init__(
        self,
        pool: wire.Pool,
        callback_url: str,
        prepared: Prepared,
        signer: Signer,
        frame_of: Sequence[int],
    ) -> None:
        self._pool = pool
        self._loop = asyncio.get_running_loop()
        self._base_path = _base_path(callback_url)
        self._prepared = prepared
        self._signer = signer
        self._frame_of = frame_of
        self.gone = False

    def send(self, connection_id: str, slot: int, timeout: float, done: Done) -> None:
        if self.gone:
            self._loop.call_soon(done, *_GONE_ANSWER)  # never from inside send
            return
        index = self._frame_of[slot]
        body = self._prepared.frames[index]
        head = self._signer.post_head(
            self._base_path, connection_id, self._prepared.hashes[index], len(body)
        )

        def answered(status: int, code: str) -> None:
            if engine.classify(status, code) is Outcome.GONE:
                self.gone = True
            done(status, code)

        self._pool.request(self._loop, head + body, self._loop.time() + timeout, answered)


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
def _settings(rate: int, max_attempts: int) -> engine.Settings:
    return engine.Settings(IN_FLIGHT, rate, engine.RetryPolicy(max_attempts=max_attempts))


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
    once. Stops after the first phase with a frame that did not arrive: the last frame (the
    sync.complete) is never posted after one that failed."""
    frames = prepared.frames
    if not frames:
        return Delivery(0, _DELIVERED)
    runtime = delivery.current_runtime()
    settings = _settings(rate, max_attempts)
    signer = _signer(credentials, region, callback_url)

    async def run() -> Delivery:
        pool = runtime.pool(callback_url, IN_FLIGHT)

        async def deliver(
            ids: list[str],
            width: int,
            sender: PreparedSender,
            audiences: Sequence[int] | None,
        ) -> Delivery:
            result = await engine.deliver(
                ids,
                width,
                sender,
                settings,
                deadline=deadline,
                delete_row=lambda _cid: False,  # the $disconnect route and the TTL own the row
                log_failure=log_failure,
                limiter=_limiter(rate),
                audiences=audiences,
            )
            return _delivery(result.stats.outcomes)

        delivered = 0
        for phase in phases(prepared.runs):
            done = await deliver(
                [connection_id] * phase.lanes,
                phase.width,
                PreparedSender(pool, callback_url, prepared, signer, phase.frame_of),
                audiences=range(phase.lanes) if phase.lanes > 1 else None,
            )
            delivered += done.delivered
            if done.outcome != _DELIVERED:
                return Delivery(delivered, done.outcome)
        return Delivery(delivered, _DELIVERED)

    return runtime.loop.run_until_complete(run())


def _delivery(outcomes: Mapping[str, int]) -> Delivery:
    """What one engine run did; its outcome is the first failure's, in ``Outcome``'s order."""
    delivered = outcomes.get(_DELIVERED, 0)
    if all(count == 0 or name == _DELIVERED for name, count in outcomes.items()):
        return Delivery(delivered, _DELIVERED)  # the usual case, without a walk of the enum
    failed = [o.value for o in Outcome if o is not Outcome.DELIVERED and outcomes.get(o.value)]
    return Delivery(delivered, failed[0])


def reset() -> None:
    """Forget the cached limiter, signer and settings (tests)."""
    _limiter.cache_clear()
    _signer.cache_clear()
    _settings.cache_clear()
