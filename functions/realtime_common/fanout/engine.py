"""Asynchronous delivery of frames to connections over one keep-alive HTTP pool.

``deliver`` runs ``concurrency`` coroutines that take posts from a :class:`Schedule` (frame-major,
per-connection order), pace them with a :class:`RateLimiter`, sign them with the cached-key
:class:`Signer` and send them with aiohttp. Per post: 200 delivered; 410 gone (the row is deleted);
429, 5xx and network errors or timeouts retried with full-jitter backoff up to ``max_attempts``;
401/403 not retried (IAM is the same for everyone); other 4xx (413, 400) skip that frame for that
client. No attempt starts, and none stays in flight, past the deadline: each attempt's timeout is
clipped to the time left, so the margin the handler keeps covers any function timeout.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from realtime_common.fanout.rate import RateLimiter
from realtime_common.fanout.schedule import FrameTally, Outcome, Schedule
from realtime_common.fanout.sigv4 import (
    CredentialsSource,
    Signer,
    canonical_host,
    connection_path,
    payload_hash,
)

if TYPE_CHECKING:
    import aiohttp

    from realtime_common.fanout import wire

# One attempt of one post, connect included. API Gateway answers a post in milliseconds; an
# attempt that takes seconds is a sick client or network, and must not hold a slot for long.
ATTEMPT_TIMEOUT_SECONDS = 3.0
# An attempt is not started with less time than this left before the deadline.
MIN_ATTEMPT_SECONDS = 0.05
# Failures logged one by one per invocation; the rest are only counted.
LOGGED_FAILURES = 20

_AUTH_CODES = frozenset(
    {"ForbiddenException", "AccessDeniedException", "UnrecognizedClientException"}
)


class TransportError(Exception):
    """The post got no HTTP answer (connection refused or reset, timeout)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class Poster(Protocol):
    """Sends frame slot ``frame`` to ``connection_id``; returns (HTTP status, AWS error code).

    With role-based views the slot is ``audience * frame_count + frame`` (each audience's frames
    one after the other); without, it is the frame index.
    """

    def __call__(
        self, connection_id: str, frame: int, timeout: float
    ) -> Awaitable[tuple[int, str]]: ...


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with full jitter (sleep uniform in [0, min(cap, base*2^n)])."""

    max_attempts: int = 4
    base_delay: float = 0.1
    max_delay: float = 2.0
    jitter: Callable[[], float] = random.random

    def delay(self, retry: int) -> float:
        return float(self.jitter() * min(self.max_delay, self.base_delay * 2.0**retry))


@dataclass
class Stats:
    """Counts for the ``fan-out finished`` log line (JSON-serialisable with ``as_dict``)."""

    outcomes: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    attempts: int = 0
    retries: int = 0
    throttled: int = 0  # answers 429 (each retried or counted unreachable)
    rows_deleted: int = 0
    failures_logged: int = 0

    def add(self, other: dict[str, Any]) -> None:
        self.outcomes.update(other.get("outcomes", {}))
        self.errors.update(other.get("errors", {}))
        self.attempts += int(other.get("attempts", 0))
        self.retries += int(other.get("retries", 0))
        self.throttled += int(other.get("throttled", 0))
        self.rows_deleted += int(other.get("rowsDeleted", 0))

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcomes": dict(self.outcomes),
            "errors": dict(self.errors),
            "attempts": self.attempts,
            "retries": self.retries,
            "throttled": self.throttled,
            "rowsDeleted": self.rows_deleted,
        }


@dataclass(frozen=True)
class Settings:
    concurrency: int
    rate: float  # posts per second, all attempts counted
    policy: RetryPolicy
    attempt_timeout: float = ATTEMPT_TIMEOUT_SECONDS
    # "wire": the lean client (realtime_common.fanout.wire); "session": aiohttp's ClientSession,
    # the earlier path, kept selectable (FANOUT_TRANSPORT) to measure one against the other.
    transport: str = "wire"


@dataclass
class Result:
    tallies: list[FrameTally]
    stats: Stats
    # Per frame, the connections that need it no more (delivered, gone, or a 413/400 for it):
    # what a retry of an incomplete frame can skip.
    done: list[list[str]] = field(default_factory=list)


DeleteRow = Callable[[str], bool]
LogFailure = Callable[[str, dict[str, Any]], None]


def classify(status: int, code: str) -> Outcome | None:
    """The outcome of an answered attempt, or None when it should be retried."""
    if status < 300:
        return Outcome.DELIVERED
    if status == 410 or code == "GoneException":
        return Outcome.GONE
    if status in (401, 403) or code in _AUTH_CODES:
        return Outcome.UNREACHABLE
    if status == 429 or status >= 500 or code == "LimitExceededException":
        return None
    return Outcome.CLIENT_ERROR


class _Run:
    """One ``deliver`` call: the schedule, the workers' shared state and the counters."""

    def __init__(
        self,
        connection_ids: Sequence[str],
        frame_count: int,
        poster: Poster,
        settings: Settings,
        *,
        deadline: float,
        delete_row: DeleteRow,
        log_failure: LogFailure,
        limiter: RateLimiter,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.ids = connection_ids
        self.schedule = Schedule(len(connection_ids), frame_count)
        self.poster = poster
        self.settings = settings
        self.policy = settings.policy
        self.deadline = deadline
        self.delete_row = delete_row
        self.log_failure = log_failure
        self.limiter = limiter
        self.stats = Stats()
        self.waiters: list[asyncio.Future[None]] = []
        self.in_flight = 0
        self.deletions: list[asyncio.Future[bool]] = []
        self.done: list[list[str]] = [[] for _ in range(frame_count)]
        self.already: Sequence[frozenset[str]] = ()
        self.frame_count = frame_count
        self.audiences: Sequence[int] | None = None  # per connection: which frames it gets

    def log(self, connection_id: str, frame: int, detail: dict[str, Any]) -> None:
        if self.stats.failures_logged < LOGGED_FAILURES:
            self.stats.failures_logged += 1
            self.log_failure(
                "post_to_connection failed",
                {"connection_id": connection_id, "frame": frame, **detail},
            )

    def out_of_time(self, wait: float = 0.0) -> bool:
        return self.loop.time() + wait + MIN_ATTEMPT_SECONDS > self.deadline

    async def post(self, connection_id: str, frame: int, slot: int) -> Outcome:
        """Post one frame to one connection with bounded, jittered retries.

        Each attempt is paced, starts only with time left and has its timeout clipped to the
        deadline (inlined here: one coroutine frame less per post).
        """
        status, code = 0, ""
        loop_time = self.loop.time
        for attempt in range(self.policy.max_attempts):
            wait = self.limiter.reserve()
            if loop_time() + wait + MIN_ATTEMPT_SECONDS > self.deadline:
                return Outcome.DEADLINE
            if wait:
                await asyncio.sleep(wait)
            timeout = min(self.settings.attempt_timeout, self.deadline - loop_time())
            self.stats.attempts += 1
            try:
                status, code = await self.poster(connection_id, slot, timeout)
            except TransportError as error:
                if self.out_of_time():
                    return Outcome.DEADLINE  # cut short by the deadline, not proven unreachable
                status, code = 0, error.kind
            outcome = classify(status, code) if status else None
            if status == 429:
                self.stats.throttled += 1
            if outcome is not Outcome.DELIVERED:
                self.stats.errors[code or str(status)] += 1
            if outcome in (Outcome.UNREACHABLE, Outcome.CLIENT_ERROR):
                self.log(
                    connection_id,
                    frame,
                    {"error_code": code, "http_status": status, "attempts": attempt + 1},
                )
            if outcome is not None:
                return outcome
            if attempt + 1 < self.policy.max_attempts:
                pause = self.policy.delay(attempt)
                if self.out_of_time(pause):
                    return Outcome.DEADLINE
                self.stats.retries += 1
                await asyncio.sleep(pause)
        self.log(
            connection_id,
            frame,
            {
                "error_code": "retries exhausted",
                "last_error": code,
                "http_status": status,
                "attempts": self.policy.max_attempts,
            },
        )
        return Outcome.UNREACHABLE

    def wake_all(self) -> None:
        while self.waiters:
            waiter = self.waiters.pop()
            if not waiter.done():
                waiter.set_result(None)

    async def worker(self, executor: ThreadPoolExecutor) -> None:
        while not self.out_of_time():
            item = self.schedule.next()
            if item is None:
                if self.in_flight == 0:
                    self.wake_all()
                    return
                waiter: asyncio.Future[None] = self.loop.create_future()
                self.waiters.append(waiter)
                await waiter
                continue
            connection, frame = item
            connection_id = self.ids[connection]
            if frame < len(self.already) and connection_id in self.already[frame]:
                # An earlier invocation of this retried batch got it there already.
                self.stats.outcomes["already_delivered"] += 1
                self.schedule.finish(connection, frame, Outcome.DELIVERED)
                self.done[frame].append(connection_id)
                continue
            self.in_flight += 1
            slot = frame
            if self.audiences is not None:
                slot += self.audiences[connection] * self.frame_count
            try:
                outcome = await self.post(connection_id, frame, slot)
            finally:
                self.in_flight -= 1
            self.stats.outcomes[outcome.value] += 1
            self.schedule.finish(connection, frame, outcome)
            if outcome is not Outcome.DEADLINE and outcome is not Outcome.UNREACHABLE:
                self.done[frame].append(connection_id)
            if outcome is Outcome.GONE:
                self.deletions.append(
                    self.loop.run_in_executor(executor, self.delete_row, connection_id)
                )
            if self.waiters:
                self.wake_all()


async def deliver(
    connection_ids: Sequence[str],
    frame_count: int,
    poster: Poster,
    settings: Settings,
    *,
    deadline: float,
    delete_row: DeleteRow,
    log_failure: LogFailure,
    limiter: RateLimiter | None = None,
    already: Sequence[frozenset[str]] = (),
    audiences: Sequence[int] | None = None,
) -> Result:
    """Post every frame to every connection (``deadline`` on the loop's monotonic clock).

    ``already[k]``: connections known to have frame ``k`` from an earlier attempt; skipped.
    ``audiences[i]``: which audience's frames connection ``i`` gets (see ``Poster``).
    """
    limiter = limiter or RateLimiter(settings.rate, burst=max(1, int(settings.rate / 20)))
    run = _Run(
        connection_ids,
        frame_count,
        poster,
        settings,
        deadline=deadline,
        delete_row=delete_row,
        log_failure=log_failure,
        limiter=limiter,
    )
    run.already = already
    run.audiences = audiences
    executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="fanout-delete")
    try:
        workers = max(1, min(settings.concurrency, len(connection_ids)))
        if connection_ids and frame_count:
            await asyncio.gather(*(run.worker(executor) for _ in range(workers)))
        if run.deletions:
            run.stats.rows_deleted = sum(await asyncio.gather(*run.deletions))
    finally:
        executor.shutdown(wait=False)
    return Result(run.schedule.tallies, run.stats, run.done)


# --------------------------------------------------------------------------------------------
# aiohttp ClientSession transport (FANOUT_TRANSPORT=session; the default is wire.WirePoster)
# --------------------------------------------------------------------------------------------
class HttpPoster:
    """Posts frames with a shared aiohttp session, signed for ``execute-api``."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        callback_url: str,
        frames: Sequence[bytes],
        signer: Signer,
    ) -> None:
        import aiohttp  # noqa: PLC0415 (kept out of module import for the pure-logic tests)
        import yarl  # noqa: PLC0415

        self._aiohttp = aiohttp
        self._yarl = yarl
        self._session = session
        self._base = callback_url.rstrip("/")
        self._base_path = urlsplit(self._base).path
        self._origin = self._base[: len(self._base) - len(self._base_path)]
        self._frames = list(frames)
        self._hashes = [payload_hash(data) for data in self._frames]
        self._signer = signer
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}
        self._errors = (aiohttp.ClientError, OSError, TimeoutError)

    def _timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            timeout = self._aiohttp.ClientTimeout(total=seconds)
            if len(self._timeouts) < 8:
                self._timeouts[seconds] = timeout
        return timeout

    async def __call__(self, connection_id: str, frame: int, timeout: float) -> tuple[int, str]:
        path = connection_path(self._base_path, connection_id)
        headers = self._signer.headers(path, self._hashes[frame])
        url = self._yarl.URL(self._origin + path, encoded=True)
        try:
            async with self._session.post(
                url, data=self._frames[frame], headers=headers, timeout=self._timeout(timeout)
            ) as response:
                await response.read()
                if response.status < 300:
                    return response.status, ""
                code = response.headers.get("x-amzn-ErrorType", "").split(":", 1)[0]
                return response.status, code
        except self._errors as error:
            raise TransportError(type(error).__name__) from error


class Runtime:
    """One event loop and one HTTP pool per execution environment (kept while warm)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._session: aiohttp.ClientSession | None = None
        self._session_limit = 0
        self._pool: wire.Pool | None = None
        self._pool_key: tuple[str, int] = ("", 0)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
            self._session = None
            self._pool = None
        return self._loop

    def pool(self, callback_url: str, limit: int) -> wire.Pool:
        from realtime_common.fanout import wire  # noqa: PLC0415 (imports aiohttp's parser)

        if self._pool is None or self._pool_key != (callback_url, limit):
            if self._pool is not None:
                self._pool.close()
            self._pool = wire.Pool(callback_url, limit)
            self._pool_key = (callback_url, limit)
        return self._pool

    async def session(self, limit: int) -> aiohttp.ClientSession:
        import aiohttp  # noqa: PLC0415

        if self._session is None or self._session.closed or self._session_limit != limit:
            if self._session is not None and not self._session.closed:
                await self._session.close()
            connector = aiohttp.TCPConnector(limit=limit, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector,
                # No cookies, no auto headers, no decompression: each costs CPU on every post.
                cookie_jar=aiohttp.DummyCookieJar(),
                skip_auto_headers=("User-Agent", "Content-Type", "Accept", "Accept-Encoding"),
                auto_decompress=False,
            )
            self._session_limit = limit
        return self._session

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._loop is not None and not self._loop.is_closed():
            if self._session is not None and not self._session.closed:
                self._loop.run_until_complete(self._session.close())
            self._loop.close()
        self._loop = None
        self._session = None


_RUNTIMES = threading.local()


def current_runtime() -> Runtime:
    """This thread's runtime (Lambda runs one thread; in-process workers in tests run several)."""
    runtime: Runtime | None = getattr(_RUNTIMES, "runtime", None)
    if runtime is None:
        runtime = _RUNTIMES.runtime = Runtime()
    return runtime


def region_of(callback_url: str, default: str) -> str:
    """The Region of an ``execute-api`` endpoint; ``default`` for other hosts (emulators)."""
    host = urlsplit(callback_url).hostname or ""
    parts = host.split(".")
    if len(parts) >= 5 and parts[1] == "execute-api":
        return parts[2]
    return default


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

    ``frames``: one list of frames per audience, all of the same length; ``audiences`` (one
    audience index per connection) is needed when there is more than one.
    """
    active = runtime or current_runtime()
    frame_count = len(frames[0]) if frames else 0
    if any(len(group) != frame_count for group in frames):
        raise ValueError("every audience needs the same number of frames")
    if audiences is None and len(frames) > 1:
        raise ValueError("several audiences' frames need the audience of each connection")
    flat = [frame for group in frames for frame in group]

    async def run() -> Result:
        signer = Signer(credentials, region, canonical_host(callback_url), clock=clock)
        poster: Poster
        if settings.transport == "session":
            session = await active.session(settings.concurrency)
            poster = HttpPoster(session, callback_url, flat, signer)
        else:
            from realtime_common.fanout import wire  # noqa: PLC0415

            pool = active.pool(callback_url, settings.concurrency)
            poster = wire.WirePoster(pool, callback_url, flat, signer)
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
        )

    return active.loop.run_until_complete(run())
