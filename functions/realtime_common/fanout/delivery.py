"""The fan-out's composition root: the scheduler (``engine``) driven over the wire client
(``wire``), signed for ``execute-api`` (``sigv4``), on one event loop and one keep-alive pool per
execution environment.

The handlers ``broadcaster`` and ``fanout_worker`` call :func:`fan_out`; every handler that posts
(those two, ``sync``, ``subscribe``) takes its deadline from :func:`deadline_for`;
nothing below this module knows about the others' concrete types (``engine`` and ``wire`` meet
only through the contract in ``transport``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from realtime_common.fanout import wire
from realtime_common.fanout.engine import DeleteRow, LogFailure, Result, Settings, deliver
from realtime_common.fanout.sigv4 import CredentialsSource, Signer, canonical_host
from realtime_common.fanout.transport import Poster, Sender


class Runtime:
    """One event loop and one HTTP pool per execution environment (kept while warm).

    :meth:`sender` is the one place a transport is chosen: the benchmark's aiohttp runtime
    (``tools/bench/session.py``) overrides it to measure the earlier client against this one.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pool: wire.Pool | None = None
        self._pool_key: tuple[str, int] = ("", 0)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
            self._pool = None
        return self._loop

    def pool(self, callback_url: str, limit: int) -> wire.Pool:
        if self._pool is None or self._pool_key != (callback_url, limit):
            if self._pool is not None:
                self._pool.close()
            self._pool = wire.Pool(callback_url, limit)
            self._pool_key = (callback_url, limit)
        return self._pool

    async def sender(
        self, callback_url: str, frames: Sequence[bytes], signer: Signer, limit: int
    ) -> Sender | Poster:
        """The transport for one fan-out, on this runtime's loop (called inside it)."""
        return wire.WireSender(self.pool(callback_url, limit), callback_url, frames, signer)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._loop is not None and not self._loop.is_closed():
            self._loop.close()
        self._loop = None


_RUNTIMES = threading.local()
# What builds a thread's runtime: the benchmark swaps in its aiohttp one (as it swaps
# ``aws.dynamodb_client`` for an in-memory table).
runtime_factory: Callable[[], Runtime] = Runtime


def current_runtime() -> Runtime:
    """This thread's runtime (Lambda runs one thread; in-process workers in tests run several)."""
    runtime: Runtime | None = getattr(_RUNTIMES, "runtime", None)
    if runtime is None:
        runtime = _RUNTIMES.runtime = runtime_factory()
    return runtime


def reset_runtime() -> None:
    """Close this thread's runtime; the next fan-out builds a new one (tests)."""
    runtime: Runtime | None = getattr(_RUNTIMES, "runtime", None)
    if runtime is not None:
        runtime.close()
        _RUNTIMES.runtime = None


def region_of(callback_url: str, default: str) -> str:
    """The Region of an ``execute-api`` endpoint; ``default`` for other hosts (emulators)."""
    host = urlsplit(callback_url).hostname or ""
    parts = host.split(".")
    if len(parts) >= 5 and parts[1] == "execute-api":
        return parts[2]
    return default


def deadline_for(remaining_seconds: float, now: float) -> float:
    """The ``time.monotonic()`` by which delivery stops.

    Every post's timeout is clipped to this deadline (``engine``), so the margin only has to
    cover summarising and returning: a tenth of the time, at most one second. That holds for
    every function timeout Terraform accepts (1-900 s).
    """
    return now + remaining_seconds - min(1.0, remaining_seconds / 10)


def fan_out(
    connection_ids: Sequence[str],
    frames: Sequence[Sequence[bytes]],
    settings: Settings,
    *,
    callback_url: str,
    credentials: CredentialsSource,
    region: str,
    deadline: float,
    delete_row: DeleteRow,
    log_failure: LogFailure,
    runtime: Runtime | None = None,
    clock: Callable[[], float] = time.time,
    already: Sequence[frozenset[str]] = (),
    audiences: Sequence[int] | None = None,
) -> Result:
    """Deliver ``frames`` to ``connection_ids`` over HTTP; ``deadline`` is ``time.monotonic()``.

    ``frames``: one list of frames per audience, all of the same length (b"": nothing of that
    frame for that audience, skipped); ``audiences`` (one audience index per connection) is
    needed when there is more than one.
    """
    active = runtime or current_runtime()
    frame_count = len(frames[0]) if frames else 0
    if any(len(group) != frame_count for group in frames):
        raise ValueError("every audience needs the same number of frames")
    if audiences is None and len(frames) > 1:
        raise ValueError("several audiences' frames need the audience of each connection")
    flat = [frame for group in frames for frame in group]
    empty = frozenset(slot for slot, frame in enumerate(flat) if not frame)

    async def run() -> Result:
        signer = Signer(credentials, region, canonical_host(callback_url), clock=clock)
        poster = await active.sender(callback_url, flat, signer, settings.concurrency)
        return await deliver(
            connection_ids,
            frame_count,
            poster,
            settings,
            deadline=deadline,
            delete_row=delete_row,
            log_failure=log_failure,
            already=already,
            audiences=audiences,
            empty=empty,
        )

    return active.loop.run_until_complete(run())
