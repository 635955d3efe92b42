"""Posting one answer to one connection over blocking keep-alive sockets, without an event loop.

A sync or subscribe answer goes to one connection: a few frames, at most ``limit`` in flight
(on as many kept-alive connections), answered in milliseconds. The fan-out's engine and wire
client are built for thousands of connections on an asyncio loop; for one connection the loop's
own work (tasks, futures, callbacks, transports) cost about as much again as the posts
(docs/benchmarks/sync.md). Here each request is written with ``sendall`` and the answers are
waited for with one ``poll`` over the sockets in flight.

What it shares instead of restating: what follows an attempt that did not deliver
(``engine.after_failure``: retried and how, the deadline's margin, what is logged), each
attempt's timeout (``engine.ATTEMPT_TIMEOUT_SECONDS``), how many failures are logged
(``engine.LOGGED_FAILURES``) and when a kept-alive connection may be reused
(``wire.reusable``); the caller brings the signed requests and the rate limiter. Answers are
read by :class:`Reader`, which a unit test holds to the fan-out's parser (aiohttp's llhttp)
answer for answer.

Unlike the engine, one connection's answer stops at its first frame that does not arrive: the
frames not yet posted are not posted (a client without its ``sync.complete`` syncs again).
"""

from __future__ import annotations

import math
import select
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from realtime_common.fanout import engine, wire
from realtime_common.fanout.rate import RateLimiter
from realtime_common.fanout.schedule import Outcome

_READ_SIZE = 2**16
_POLLIN = select.POLLIN | select.POLLERR | select.POLLHUP
# An answer's status line and headers larger than this are not a management API answer.
MAX_HEAD_BYTES = 2**15
_HEAD_END = b"\r\n\r\n"
_ORDER = {outcome: n for n, outcome in enumerate(Outcome)}


class Reader:
    """The answer to the one request in flight on a connection, from its bytes as they come:
    (status, AWS error code, whether the connection must not be reused), as
    ``wire.AnswerReader`` reads it. A body with a ``Content-Length`` is read to its end, so the
    connection can carry the next request; one without (chunked, or until the server closes) is
    not read: the answer is complete with its headers and the connection is not reused.
    Raises ``ValueError`` on bytes that are not an answer."""

    __slots__ = ("_answer", "_buffer", "_rest")

    def __init__(self) -> None:
        self._buffer = b""
        self._answer: wire.Answer | None = None  # once the head is in, while the body comes
        self._rest = 0  # body bytes still to come

    def feed(self, data: bytes) -> wire.Answer | None:
        if self._answer is None:
            buffer = self._buffer + data if self._buffer else data
            while True:
                end = buffer.find(_HEAD_END)
                if end < 0:
                    if len(buffer) > MAX_HEAD_BYTES:
                        raise ValueError("an answer's head without an end")
                    self._buffer = buffer
                    return None
                status, code, close, length = _head(buffer[:end])
                buffer = buffer[end + 4 :]
                if status >= 200:
                    break
                # 1xx: an interim answer; the final one follows.
            self._buffer = b""
            if length is None:
                return self._done((status, code, True), buffer, 0)
            self._answer = (status, code, close)
            self._rest = length
            data = buffer
        return self._done(self._answer, data, self._rest)

    def _done(self, answer: wire.Answer, data: bytes, rest: int) -> wire.Answer | None:
        if len(data) < rest:
            self._rest = rest - len(data)
            return None
        if len(data) > rest and not answer[2]:
            raise ValueError("bytes after the answer, with no request to answer")
        self._answer = None
        self._rest = 0
        return answer


def _head(head: bytes) -> tuple[int, str, bool, int | None]:
    """Status, error code, close, and the body's length (None: not known) of an answer's head."""
    lines = head.split(b"\r\n")
    version, _, rest = lines[0].partition(b" ")
    status_text = rest[:3]
    if not version.startswith(b"HTTP/1.") or len(status_text) != 3 or not status_text.isdigit():
        raise ValueError(f"not an HTTP/1.x status line: {lines[0][:40]!r}")
    status = int(status_text)
    close = version == b"HTTP/1.0"
    code = ""
    length: int | None = None
    encoded = False
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            raise ValueError(f"not a header: {line[:40]!r}")
        name = name.lower()
        value = value.strip()
        if name == b"content-length":
            if not value.isdigit() or (length is not None and int(value) != length):
                raise ValueError(f"bad Content-Length: {value[:20]!r}")
            length = int(value)
        elif name == b"connection":
            tokens = {t.strip().lower() for t in value.split(b",")}
            close = b"close" in tokens or (close and b"keep-alive" not in tokens)
        elif name == b"transfer-encoding":
            encoded = True  # its length is in the body (chunked): not read, not reused
        elif name == b"x-amzn-errortype" and status >= 300:
            code = value.decode("latin-1").split(":", 1)[0]
    if status in (204, 304) or 100 <= status < 200:
        return status, code, close, 0
    if encoded:
        return status, code, True, None
    return status, code, close, length


class _Link:
    """One kept-alive connection."""

    __slots__ = ("idle_since", "reader", "sock", "timeout", "tls")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = Reader()
        self.idle_since = 0.0
        self.timeout = 0.0  # the socket's, set only when it changes
        self.tls = False

    def readable_while_idle(self) -> bool:
        return wire.readable_while_idle(self.sock)

    def time_out_after(self, seconds: float) -> None:
        """Bound each send and receive to ``seconds``. A Python socket timeout, not the
        kernel's (SO_SNDTIMEO): on a blocking TLS socket Python's ssl module retries a send
        the kernel cut short, for ever, so a peer that stops reading would hold the answer
        until the function's own timeout (tests/fanout/test_direct.py has that peer)."""
        self.sock.settimeout(seconds)
        self.timeout = seconds


class Links:
    """Kept-alive connections to one origin, reused across invocations (Lambda freezes them in
    between: ``wire.reusable`` decides whether one may carry the next request)."""

    def __init__(
        self,
        url: str,
        ssl_context: ssl.SSLContext | None = None,
        *,
        idle_limit: float = wire.IDLE_LIMIT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self._ssl = (
            (ssl_context or ssl.create_default_context()) if parts.scheme == "https" else None
        )
        self.idle_limit = idle_limit
        self._clock = clock
        self._idle: list[_Link] = []

    def take(self, timeout: float) -> _Link:
        """A kept-alive connection, or a new one (raises ``OSError`` when it cannot connect
        within ``timeout``)."""
        if self._idle:
            now = self._clock()
            while self._idle:
                link = self._idle.pop()  # the most recently used: once one expired, all did
                if wire.reusable(now - link.idle_since, self.idle_limit, link.readable_while_idle):
                    return link
                link.sock.close()
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            link = _Link(sock)
            link.time_out_after(timeout)
            if self._ssl is not None:
                link.sock = self._ssl.wrap_socket(sock, server_hostname=self.host)
                link.tls = True  # the wrapped socket keeps the timeout
        except BaseException:
            sock.close()
            raise
        return link

    def give_back(self, link: _Link, *, reuse: bool) -> None:
        if reuse:
            link.idle_since = self._clock()
            self._idle.append(link)
        else:
            link.sock.close()

    def close(self) -> None:
        for link in self._idle:
            link.sock.close()
        self._idle.clear()


class _Post:
    """One frame's attempts; ``lane`` holds the frames that follow it, in order."""

    __slots__ = ("attempts", "due", "expires", "frame", "lane", "link")

    def __init__(self, frame: int, lane: deque[int]) -> None:
        self.frame = frame
        self.lane = lane
        self.attempts = 0
        self.link: _Link | None = None
        self.expires = 0.0  # the attempt in flight times out then
        self.due = 0.0  # a retry's backoff ends then


class Run:
    """One answer's posts: ``lanes`` go side by side, up to ``limit`` in flight, each lane's
    frames one after another; ``request(k)`` is the signed request that posts frame ``k``.
    Stops starting posts at the first frame that does not arrive (:attr:`failed`)."""

    def __init__(
        self,
        connection_id: str,
        request: Callable[[int], bytes],
        links: Links,
        *,
        limit: int,
        policy: engine.RetryPolicy,
        limiter: RateLimiter,
        deadline: float,
        log_failure: engine.LogFailure,
        clock: Callable[[], float] = time.monotonic,
        attempt_timeout: float = engine.ATTEMPT_TIMEOUT_SECONDS,
    ) -> None:
        self.connection_id = connection_id
        self.request = request
        self.links = links
        self.limit = max(1, limit)
        self.policy = policy
        self.limiter = limiter
        self.deadline = deadline  # on ``clock``
        self.log_failure = log_failure
        self.clock = clock
        self.attempt_timeout = attempt_timeout
        self.delivered = 0
        self.failed: Outcome | None = None  # the first frame that did not arrive: why
        self._logged = 0
        self._ready: deque[_Post] = deque()
        self._flight: dict[int, _Post] = {}  # by socket descriptor
        self._backoff: list[_Post] = []
        self._poller = select.poll()
        self._paced_until = 0.0

    def go(self, lanes: Sequence[Sequence[int]]) -> int:
        """Post every lane; how many frames arrived (the first failure is in :attr:`failed`)."""
        before = self.delivered
        self._ready.extend(_Post(lane[0], deque(lane[1:])) for lane in lanes if lane)
        flight = self._flight
        while True:
            now = self._start_ready(self.clock())
            if self.failed is not None:
                self._backoff.clear()
                self._ready.clear()
            if not flight and not self._ready and not self._backoff:
                return self.delivered - before
            soonest = min([p.expires for p in flight.values()]) if flight else math.inf
            for fd, _events in self._poller.poll(self._wait(now, soonest) * 1000):
                self._receive(fd)
            if soonest <= self.clock():
                self._expire()

    def _expire(self) -> None:
        """Attempts past their timeout fail; an answer may still be on its way, so their
        connections are not reused."""
        now = self.clock()
        for fd, post in list(self._flight.items()):
            if post.expires <= now:
                self._land(fd, post, reuse=False)
                self._answered(post, 0, "TimeoutError")

    def _start_ready(self, now: float) -> float:
        """Start what may: retries whose pause is over first, while a slot is free and the
        rate allows. Returns the clock after."""
        ready = self._ready
        if self._backoff:
            for post in [p for p in self._backoff if p.due <= now]:
                self._backoff.remove(post)
                ready.appendleft(post)  # ahead of frames not yet tried
        while ready and len(self._flight) < self.limit and self.failed is None:
            if now + engine.MIN_ATTEMPT_SECONDS > self.deadline:
                self._fail(Outcome.DEADLINE)
                break
            if now < self._paced_until:
                break
            wait = self.limiter.take()
            if wait:
                self._paced_until = now + wait
                break
            post = ready.popleft()
            error = self._start(post, now)
            if error:
                self._answered(post, 0, error)
            else:
                fd = post.link.sock.fileno()  # type: ignore[union-attr]
                self._flight[fd] = post
                self._poller.register(fd, _POLLIN)
            now = self.clock()
        return now

    def _wait(self, now: float, soonest: float) -> float:
        """Seconds until something is due: ``soonest`` (the first answer's timeout), a
        pause's end, the rate."""
        if self._backoff:
            soonest = min(soonest, *(p.due for p in self._backoff))
        if self._ready and len(self._flight) < self.limit:
            soonest = min(soonest, self._paced_until)  # only the rate holds them back
        return 0.0 if soonest == math.inf else max(0.0, soonest - now)

    def _receive(self, fd: int) -> None:
        """Read what arrived for the post in flight on ``fd``; handle its answer if complete."""
        post = self._flight[fd]
        link: _Link = post.link  # type: ignore[assignment]
        try:
            data = link.sock.recv(_READ_SIZE)
            if not data:
                raise ConnectionResetError("closed by the server")
            if link.tls:
                while link.sock.pending():  # type: ignore[attr-defined]  # decrypted, unseen by poll
                    data += link.sock.recv(_READ_SIZE)
            answer = link.reader.feed(data)
        except (OSError, ValueError) as error:
            self._land(fd, post, reuse=False)
            self._answered(post, 0, type(error).__name__)
            return
        if answer is None:
            return
        status, code, close = answer
        self._land(fd, post, reuse=not close)
        if 200 <= status < 300:
            self.delivered += 1
            if post.lane:
                self._ready.append(_Post(post.lane.popleft(), post.lane))
        else:
            self._answered(post, status, code)

    def _land(self, fd: int, post: _Post, *, reuse: bool) -> None:
        """The attempt on ``fd`` is over: its connection goes back (or is closed)."""
        del self._flight[fd]
        self._poller.unregister(fd)
        if post.link is not None:
            self.links.give_back(post.link, reuse=reuse)
            post.link = None

    def _start(self, post: _Post, now: float) -> str:
        """Send one attempt; "" when it is in flight, else why it could not be sent."""
        post.attempts += 1
        timeout = min(self.attempt_timeout, self.deadline - now)
        post.expires = now + timeout
        try:
            link = self.links.take(timeout)
            if link.timeout != timeout:
                link.time_out_after(timeout)
        except OSError as error:
            return type(error).__name__
        try:
            link.sock.sendall(self.request(post.frame))
        except OSError as error:
            self.links.give_back(link, reuse=False)
            return type(error).__name__
        post.link = link
        return ""

    def _answered(self, post: _Post, status: int, code: str) -> None:
        """An attempt that did not deliver (status 0: no answer, ``code`` says why): retried
        after a jittered pause, or the answer stops here (``engine.after_failure``)."""
        now = self.clock()
        step = engine.after_failure(
            status, code, post.attempts, self.policy, now=now, deadline=self.deadline
        )
        if step.log is not None:
            self._log(post, step.log)
        if step.outcome is not None:
            self._fail(step.outcome)
        else:
            post.due = now + step.pause
            self._backoff.append(post)

    def _fail(self, outcome: Outcome) -> None:
        """Record why the answer stops: of several frames that failed, the first in
        ``Outcome``'s order (a gone connection says more than a frame that timed out)."""
        if self.failed is None or _ORDER[outcome] < _ORDER[self.failed]:
            self.failed = outcome

    def _log(self, post: _Post, detail: dict[str, object]) -> None:
        if self._logged < engine.LOGGED_FAILURES:
            self._logged += 1
            self.log_failure(
                "post_to_connection failed",
                {"connection_id": self.connection_id, "frame": post.frame, **detail},
            )
