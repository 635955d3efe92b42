"""The fan-out's scheduler: asynchronous delivery of frames to connections through a transport.

``deliver`` keeps up to ``concurrency`` posts active, taken from a :class:`Schedule` (frame-major,
per-connection order) and paced by a :class:`RateLimiter`, and hands them to a ``Sender`` (the
contract in ``transport``; in production the wire client, composed with its pool and signer in
``delivery``). It runs on callbacks: a
post's answer is handled, and the next post started, inside the transport's ``data_received``,
so there is no task, future or coroutine switch per post (tests may still pass an awaitable
:class:`Poster`; it runs as a task per attempt).

Per post: 200 delivered; 410 gone (the row is deleted); 429, 5xx and network errors or timeouts
retried with full-jitter backoff up to ``max_attempts``; 401/403 not retried (IAM is the same for
everyone); other 4xx (413, 400) skip that frame for that client. No attempt starts, and none
stays in flight, past the deadline: each attempt's timeout is clipped to the time left, so the
margin the handler keeps covers any function timeout.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from realtime_common.fanout.rate import RateLimiter
from realtime_common.fanout.schedule import FrameTally, Outcome, Schedule
from realtime_common.fanout.transport import AwaitingSender, Poster, Sender, is_sender

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


@dataclass(frozen=True)
class Step:
    """What follows an attempt that did not deliver: ``outcome`` (the frame is done with) or a
    retry after ``pause`` seconds (``outcome`` None); ``log``: the failure's details to log;
    ``cut_short``: no answer with the deadline close, which is no error of the client's."""

    outcome: Outcome | None
    pause: float = 0.0
    log: dict[str, Any] | None = None
    cut_short: bool = False


def after_failure(
    status: int, code: str, attempts: int, policy: RetryPolicy, *, now: float, deadline: float
) -> Step:
    """The rules for an attempt that did not deliver (status 0: no answer, ``code`` says why),
    shared by every client that posts: no answer this close to the deadline is the deadline,
    not proof of an unreachable client; a final answer (``classify``) ends the frame, logged
    unless the connection is gone; anything else is retried after a jittered pause while
    attempts and time are left, else logged as retries exhausted."""
    if not status and now + MIN_ATTEMPT_SECONDS > deadline:
        return Step(Outcome.DEADLINE, cut_short=True)
    outcome = classify(status, code) if status else None
    if outcome is not None:
        detail = {"error_code": code, "http_status": status, "attempts": attempts}
        return Step(outcome, log=None if outcome is Outcome.GONE else detail)
    if attempts < policy.max_attempts:
        pause = policy.delay(attempts - 1)
        if now + pause + MIN_ATTEMPT_SECONDS > deadline:
            return Step(Outcome.DEADLINE)
        return Step(None, pause)
    return Step(
        Outcome.UNREACHABLE,
        log={
            "error_code": "retries exhausted",
            "last_error": code,
            "http_status": status,
            "attempts": attempts,
        },
    )


def _clock_of(loop: asyncio.AbstractEventLoop) -> Callable[[], float]:
    """The loop's clock, read several times per post: ``time.monotonic`` itself when the loop's
    ``time()`` is asyncio's own (which returns it), saving a Python call per read."""
    if getattr(loop.time, "__func__", None) is asyncio.BaseEventLoop.time:
        return time.monotonic
    return loop.time


class _Post:
    """One frame on its way to one connection: what its attempts share."""

    __slots__ = ("attempts", "connection", "connection_id", "frame", "run", "slot")

    def __init__(
        self, run: _Run, connection: int, frame: int, connection_id: str, slot: int
    ) -> None:
        self.run = run
        self.connection = connection
        self.frame = frame
        self.connection_id = connection_id
        self.slot = slot
        self.attempts = 0

    def answered(self, status: int, code: str) -> None:
        """The sender's ``done``: one attempt's answer (status 0: no answer, ``code`` says why)."""
        run = self.run
        try:
            run.answered(self, status, code)
        except BaseException as error:  # noqa: BLE001 (a bug here must fail deliver, not hang it)
            run.fail(error)


class _Run:
    """One ``deliver`` call, driven by callbacks: no task or coroutine per post.

    Up to ``concurrency`` posts are active at once (in flight, paced by the rate limiter or
    waiting out a retry's backoff). Each answer is handled in the sender's callback, which
    starts the next post at once: on a warm keep-alive pool one epoll wake-up answers and
    re-fills several connections without a task switch or a future in between.
    """

    def __init__(
        self,
        connection_ids: Sequence[str],
        frame_count: int,
        sender: Sender,
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
        self.sender = sender
        self.settings = settings
        self.policy = settings.policy
        self.limit = max(1, settings.concurrency)
        self.deadline = deadline
        self.delete_row = delete_row
        self.log_failure = log_failure
        self.limiter = limiter
        # Row deletions (410s) run on threads, started with the first one: most runs have none.
        self.executor: ThreadPoolExecutor | None = None
        self.stats = Stats()
        self.active = 0
        self.deletions: list[asyncio.Future[bool]] = []
        self.done: list[list[str]] = [[] for _ in range(frame_count)]
        self.already: Sequence[frozenset[str]] = ()
        self.frame_count = frame_count
        self.audiences: Sequence[int] | None = None  # per connection: which frames it gets
        self.empty: frozenset[int] = frozenset()  # slots with nothing to post (filtered)
        self.finished: asyncio.Future[None] = self.loop.create_future()
        self._pumping = False
        self.now = _clock_of(self.loop)
        self.attempt_timeout = settings.attempt_timeout
        # Active posts waiting for the rate to let them start (new ones and retries).
        self.parked: deque[_Post] = deque()
        self._paced = False  # the rate's timer is set
        self.delivered = 0

    def log(self, connection_id: str, frame: int, detail: dict[str, Any]) -> None:
        if self.stats.failures_logged < LOGGED_FAILURES:
            self.stats.failures_logged += 1
            self.log_failure(
                "post_to_connection failed",
                {"connection_id": connection_id, "frame": frame, **detail},
            )

    def fail(self, error: BaseException) -> None:
        if not self.finished.done():
            self.finished.set_exception(error)

    def pump(self) -> None:
        """Start posts while the rate allows, first those parked for it, then new ones while a
        slot is free; set one timer when the rate says wait; finish when nothing is left."""
        if self._pumping:  # re-entered from a post that ended at once: the outer loop goes on
            return
        self._pumping = True
        try:
            self._pump()
        finally:
            self._pumping = False
        if self.active == 0 and not self.finished.done():
            self.finished.set_result(None)

    def _pump(self) -> None:
        schedule = self.schedule
        parked = self.parked
        take = self.limiter.take
        last_start = self.deadline - MIN_ATTEMPT_SECONDS
        while parked or self.active < self.limit:
            now = self.now()
            if now > last_start:
                while parked:  # no attempt starts this close to the deadline
                    self.complete(parked.popleft(), Outcome.DEADLINE, pump=False)
                return
            if parked:
                post = parked[0]
            else:
                item = schedule.next()
                if item is None:
                    return  # more may become ready when a post in flight finishes
                connection, frame = item
                connection_id = self.ids[connection]
                if frame < len(self.already) and connection_id in self.already[frame]:
                    # An earlier invocation of this retried batch got it there already.
                    self.stats.outcomes["already_delivered"] += 1
                    schedule.finish(connection, frame, Outcome.DELIVERED)
                    self.done[frame].append(connection_id)
                    continue
                slot = frame
                if self.audiences is not None:
                    slot += self.audiences[connection] * self.frame_count
                if self.empty and slot in self.empty:
                    # Nothing of this frame matches the connection's filter: not posted.
                    self.stats.outcomes[Outcome.FILTERED.value] += 1
                    schedule.finish(connection, frame, Outcome.FILTERED)
                    continue
                self.active += 1
                post = _Post(self, connection, frame, connection_id, slot)
                parked.append(post)
            wait = take()
            if wait:
                if not self._paced:  # one timer for every parked post
                    self._paced = True
                    self.loop.call_at(min(now + wait, last_start + 1e-3), self.paced)
                return
            parked.popleft()
            self.stats.attempts += 1
            post.attempts += 1
            self.sender.send(
                post.connection_id,
                post.slot,
                min(self.attempt_timeout, self.deadline - now),
                post.answered,
            )

    def paced(self) -> None:
        """The rate's timer: parked posts may go on."""
        self._paced = False
        try:
            self.pump()
        except BaseException as error:  # noqa: BLE001 (a sender's bug fails deliver)
            self.fail(error)

    def retry(self, post: _Post) -> None:
        """A retry's backoff is over: it is parked for the rate, ahead of new posts."""
        self.parked.append(post)
        try:
            self.pump()
        except BaseException as error:  # noqa: BLE001
            self.fail(error)

    def answered(self, post: _Post, status: int, code: str) -> None:
        """One attempt's answer: done, retried after a jittered pause, or given up."""
        if 0 < status < 300:
            self.complete(post, Outcome.DELIVERED)
            return
        step = after_failure(
            status, code, post.attempts, self.policy, now=self.now(), deadline=self.deadline
        )
        if status == 429:
            self.stats.throttled += 1
        if not step.cut_short:
            self.stats.errors[code or str(status)] += 1
        if step.log is not None:
            self.log(post.connection_id, post.frame, step.log)
        if step.outcome is not None:
            self.complete(post, step.outcome)
            return
        self.stats.retries += 1
        self.loop.call_later(step.pause, self.retry, post)

    def complete(self, post: _Post, outcome: Outcome, *, pump: bool = True) -> None:
        self.active -= 1
        if outcome is Outcome.DELIVERED:
            self.delivered += 1  # summed into stats.outcomes at the end: no Enum hash per post
        else:
            self.stats.outcomes[outcome.value] += 1
        self.schedule.finish(post.connection, post.frame, outcome)
        if outcome is Outcome.DELIVERED or outcome is Outcome.GONE:
            self.done[post.frame].append(post.connection_id)
            if outcome is Outcome.GONE:
                if self.executor is None:
                    self.executor = ThreadPoolExecutor(
                        max_workers=4, thread_name_prefix="fanout-delete"
                    )
                self.deletions.append(
                    self.loop.run_in_executor(self.executor, self.delete_row, post.connection_id)
                )
        elif outcome is Outcome.CLIENT_ERROR:
            self.done[post.frame].append(post.connection_id)
        if pump:
            self.pump()


async def deliver(
    connection_ids: Sequence[str],
    frame_count: int,
    poster: Poster | Sender,
    settings: Settings,
    *,
    deadline: float,
    delete_row: DeleteRow,
    log_failure: LogFailure,
    limiter: RateLimiter | None = None,
    already: Sequence[frozenset[str]] = (),
    audiences: Sequence[int] | None = None,
    empty: frozenset[int] = frozenset(),
) -> Result:
    """Post every frame to every connection (``deadline`` on the loop's monotonic clock).

    ``poster``: a ``Sender`` (callback transport, the fast path) or an awaitable ``Poster``.
    ``already[k]``: connections known to have frame ``k`` from an earlier attempt; skipped.
    ``audiences[i]``: which audience's frames connection ``i`` gets (see ``Poster``).
    ``empty``: slots (frame + audience * frame_count) that carry nothing for their audience:
    skipped without a post (``Outcome.FILTERED``), the connection's next frame follows.
    """
    limiter = limiter or RateLimiter(
        settings.rate,
        burst=max(1, int(settings.rate / 20)),
        clock=_clock_of(asyncio.get_running_loop()),
    )
    sender = poster if is_sender(poster) else AwaitingSender(poster)
    run = _Run(
        connection_ids,
        frame_count,
        sender,
        settings,
        deadline=deadline,
        delete_row=delete_row,
        log_failure=log_failure,
        limiter=limiter,
    )
    if isinstance(sender, AwaitingSender):
        sender.fail = run.fail
    run.already = already
    run.audiences = audiences
    run.empty = empty
    try:
        if connection_ids and frame_count:
            run.pump()
            await run.finished
        if run.delivered:
            run.stats.outcomes[Outcome.DELIVERED.value] += run.delivered
        if run.deletions:
            run.stats.rows_deleted = sum(await asyncio.gather(*run.deletions))
    finally:
        if run.executor is not None:
            run.executor.shutdown(wait=False)
    return Result(run.schedule.tallies, run.stats, run.done)
