"""Posting a sync answer to its one connection over the fan-out's keep-alive wire pool.

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
from collections.abc import Callable
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

# One connection's frames go one after another (per-connection order): two slots are plenty.
CONCURRENCY = 2


class PreparedSender:
    """The engine's ``Sender`` for frames whose payload hashes are known."""

    def __init__(
        self, pool: wire.Pool, callback_url: str, prepared: Prepared, signer: Signer
    ) -> None:
        self._pool = pool
        self._loop = asyncio.get_running_loop()
        self._base_path = urlsplit(callback_url.rstrip("/")).path
        self._prepared = prepared
        self._signer = signer

    def send(self, connection_id: str, slot: int, timeout: float, done: Done) -> None:
        body = self._prepared.frames[slot]
        head = self._signer.post_head(
            self._base_path, connection_id, self._prepared.hashes[slot], len(body)
        )
        self._pool.request(self._loop, head + body, self._loop.time() + timeout, done)


@dataclass(frozen=True)
class Delivery:
    delivered: int  # frames that reached the connection
    outcome: str  # "delivered", or the first frame's failure (gone, unreachable, ...)


@functools.cache
def _limiter(rate: int) -> RateLimiter:
    return RateLimiter(rate, burst=max(1, rate // 20))


@functools.cache
def _signer(credentials: CredentialsSource, region: str, host: str) -> Signer:
    return Signer(credentials, region, host, clock=time.time)


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
    """Post ``prepared``'s frames to ``connection_id`` in order; stops at the first that fails
    (the engine gives a connection none of the frames after one it could not deliver)."""
    if not prepared.frames:
        return Delivery(0, Outcome.DELIVERED.value)
    runtime = delivery.current_runtime()
    settings = engine.Settings(CONCURRENCY, rate, engine.RetryPolicy(max_attempts=max_attempts))
    signer = _signer(credentials, region, canonical_host(callback_url))

    async def run() -> engine.Result:
        pool = runtime.pool(callback_url, CONCURRENCY)
        return await engine.deliver(
            [connection_id],
            len(prepared.frames),
            PreparedSender(pool, callback_url, prepared, signer),
            settings,
            deadline=deadline,
            delete_row=lambda _cid: False,  # the $disconnect route and the TTL own the row
            log_failure=log_failure,
            limiter=_limiter(rate),
        )

    result = runtime.loop.run_until_complete(run())
    outcomes = result.stats.outcomes
    failed = [o.value for o in Outcome if o is not Outcome.DELIVERED and outcomes.get(o.value)]
    return Delivery(outcomes.get(Outcome.DELIVERED.value, 0), failed[0] if failed else "delivered")


def reset() -> None:
    """Forget the cached limiter and signer (tests)."""
    _limiter.cache_clear()
    _signer.cache_clear()
