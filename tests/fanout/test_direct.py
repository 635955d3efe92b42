"""The sync's blocking client (realtime_common.sync.direct) against a scripted server on
127.0.0.1 (testing/scripted_http.py, on its own thread: the client blocks).

A run posts lanes of frames to one connection: lanes side by side up to ``limit``, each lane in
order. It must keep connections alive and reuse them; read split answers and error bodies and
keep the connection; never reuse one asked to close, hung, reset or unparsable; retry 429, 5xx
and failed attempts (the engine's rules) and stop the whole answer at the first frame that does
not arrive (410, 403, retries exhausted, the deadline), logging all but the 410; pace attempts by
the rate limiter; work over TLS; and across invocations neither post on a connection the server
closed meanwhile nor reuse one idle past its limit.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from realtime_common.fanout import engine, wire
from realtime_common.fanout.rate import RateLimiter
from realtime_common.fanout.schedule import Outcome
from realtime_common.sync import direct
from testing.scripted_http import CLOSE, GONE, OK, REQUEST, Clock, Reply, ThreadedServer

pytestmark = pytest.mark.fanout

THROTTLED = (
    b"HTTP/1.1 429 Too Many Requests\r\nx-amzn-ErrorType: LimitExceededException\r\n"
    b"Content-Length: 24\r\n\r\n" + b'{"message":"Throttled"}\n'
)
FORBIDDEN = (
    b"HTTP/1.1 403 Forbidden\r\nx-amzn-ErrorType: ForbiddenException\r\nContent-Length: 2\r\n\r\n{}"
)
NO_PAUSE = engine.RetryPolicy(max_attempts=3, jitter=lambda: 0.0)


@pytest.fixture
def server() -> Iterator[ThreadedServer]:
    started = ThreadedServer()
    yield started
    started.stop()


class Posted:
    """One run's result: what arrived, why it stopped, what it logged."""

    def __init__(self, run: direct.Run, delivered: int, logged: list[dict[str, Any]]) -> None:
        self.delivered = delivered
        self.failed = run.failed
        self.logged = logged


def make_run(
    links: direct.Links,
    *,
    request: bytes = REQUEST,
    limit: int = 4,
    policy: engine.RetryPolicy = NO_PAUSE,
    rate: float = 100_000,
    seconds: float = 10.0,
    attempt_timeout: float = engine.ATTEMPT_TIMEOUT_SECONDS,
) -> tuple[direct.Run, list[dict[str, Any]]]:
    """A run that posts ``request`` for every frame, and the failures it logs."""
    logged: list[dict[str, Any]] = []
    run = direct.Run(
        "conn-1",
        lambda _frame: request,
        links,
        limit=limit,
        policy=policy,
        limiter=RateLimiter(rate, burst=1),
        deadline=time.monotonic() + seconds,
        log_failure=lambda _message, detail: logged.append(detail),
        attempt_timeout=attempt_timeout,
    )
    return run, logged


def post(
    server: ThreadedServer,
    script: Sequence[Reply],
    lanes: Sequence[Sequence[int]],
    *,
    links: direct.Links | None = None,
    **settings: Any,
) -> Posted:
    server.server.script[:] = list(script)
    own = links is None
    links = links or direct.Links(server.url)
    run, logged = make_run(links, **settings)
    try:
        return Posted(run, run.go(lanes), logged)
    finally:
        if own:
            links.close()


def singles(count: int) -> list[list[int]]:
    return [[frame] for frame in range(count)]


def test_lanes_go_side_by_side_on_kept_alive_connections(server: ThreadedServer) -> None:
    result = post(server, [], singles(12), limit=3)
    assert (result.delivered, result.failed) == (12, None)
    assert server.server.connections == 3
    assert server.server.most_in_flight == 3


def test_a_lane_goes_one_frame_after_another(server: ThreadedServer) -> None:
    result = post(server, [], [[0, 1, 2, 3, 4]], limit=4)
    assert result.delivered == 5
    assert server.server.most_in_flight == 1
    assert server.server.connections == 1


def test_split_answers_and_error_bodies_keep_the_connection(server: ThreadedServer) -> None:
    split = [THROTTLED[:7], THROTTLED[7:60], THROTTLED[60:-5], THROTTLED[-5:]]
    result = post(server, [split, THROTTLED, [OK[:10], OK[10:]]], [[0, 1]], limit=1)
    assert (result.delivered, result.failed) == (2, None)  # 429 twice, retried, then 200s
    assert server.server.requests == 4
    assert server.server.connections == 1
    assert result.logged == []


def test_an_answer_that_asks_to_close_is_not_reused(server: ThreadedServer) -> None:
    result = post(server, [CLOSE, OK], [[0, 1]], limit=1)
    assert result.delivered == 2
    assert server.server.connections == 2


@pytest.mark.parametrize("reply", ["hang", "reset", b"SMTP ready\r\n\r\n"])
def test_a_failed_attempt_is_retried_on_a_new_connection(
    server: ThreadedServer, reply: Reply
) -> None:
    result = post(server, [reply], [[0]], limit=1, attempt_timeout=0.3)
    assert (result.delivered, result.failed) == (1, None)
    assert server.server.requests == 2
    assert server.server.connections == 2  # the failed one never carried another request


def test_a_gone_connection_stops_the_answer_unlogged(server: ThreadedServer) -> None:
    result = post(server, [GONE], [[0, 1, 2], [3], [4]], limit=1)
    assert (result.delivered, result.failed) == (0, Outcome.GONE)
    assert server.server.requests == 1  # nothing more is posted to a connection that is gone
    assert result.logged == []


def test_forbidden_is_not_retried_and_is_logged(server: ThreadedServer) -> None:
    result = post(server, [FORBIDDEN], [[0, 1]], limit=1)
    assert (result.delivered, result.failed) == (0, Outcome.UNREACHABLE)
    assert server.server.requests == 1
    assert result.logged == [
        {
            "connection_id": "conn-1",
            "frame": 0,
            "error_code": "ForbiddenException",
            "http_status": 403,
            "attempts": 1,
        }
    ]


def test_retries_exhausted_stop_the_answer_with_the_last_error(server: ThreadedServer) -> None:
    result = post(server, [THROTTLED] * 3, [[0, 1]], limit=1)
    assert (result.delivered, result.failed) == (0, Outcome.UNREACHABLE)
    assert server.server.requests == NO_PAUSE.max_attempts
    (logged,) = result.logged
    assert logged["error_code"] == "retries exhausted"
    assert logged["last_error"] == "LimitExceededException"
    assert logged["attempts"] == NO_PAUSE.max_attempts


def test_a_refused_connect_is_retried_then_reported(server: ThreadedServer) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    refused = direct.Links(f"http://127.0.0.1:{port}/prod")
    result = post(server, [], [[0]], links=refused)
    assert (result.delivered, result.failed) == (0, Outcome.UNREACHABLE)
    assert result.logged[0]["last_error"] == "ConnectionRefusedError"


def test_no_attempt_outlives_the_deadline(server: ThreadedServer) -> None:
    began = time.monotonic()
    result = post(server, ["hang"], [[0, 1]], limit=1, seconds=0.4)
    assert (result.delivered, result.failed) == (0, Outcome.DEADLINE)
    assert time.monotonic() - began < 0.4 + 0.2  # the hung attempt was cut at the deadline
    assert server.server.requests == 1


def test_attempts_are_paced_by_the_rate(server: ThreadedServer) -> None:
    began = time.monotonic()
    result = post(server, [], singles(5), limit=4, rate=20)
    assert result.delivered == 5
    # At 20/s with a burst of 1 the fifth attempt cannot start before 200 ms: a lower bound
    # (the four slots alone would have sent four at once).
    assert server.server.arrived[-1] - began >= 4 / 20


# ---------------------------------------------------------------------------------------------
# The answer reader, held to the fan-out's (aiohttp's llhttp) answer for answer
# ---------------------------------------------------------------------------------------------
ANSWERS = [
    OK,
    CLOSE,
    GONE,
    THROTTLED,
    FORBIDDEN,
    b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 500 Internal Server Error\r\nX-Amzn-ErrorType: InternalServerErrorException\r\n"
    b"Connection: Close\r\nContent-Length: 5\r\n\r\noops!",
    b"HTTP/1.1 204 No Content\r\nx-amzn-RequestId: 1\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
]


@pytest.mark.unit
@pytest.mark.parametrize("answer", ANSWERS)
def test_the_reader_reads_what_the_fan_outs_parser_reads_however_split(answer: bytes) -> None:
    oracle = oracle_reader().feed(answer)
    expected = oracle[-1]
    for cut in range(1, len(answer)):
        reader = direct.Reader()
        assert reader.feed(answer[:cut]) is None
        assert reader.feed(answer[cut:]) == expected, cut
    assert direct.Reader().feed(answer) == expected


@pytest.mark.unit
@pytest.mark.parametrize(
    "garbage",
    [
        b"SMTP ready\r\n\r\n",
        b"HTTP/1.1 2x0 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        OK + b"HTTP/1.1 200 OK",  # more than the one request in flight can be answered
    ],
)
def test_what_is_not_an_answer_is_refused_by_both_readers(garbage: bytes) -> None:
    with pytest.raises(ValueError, match=r"."):
        direct.Reader().feed(garbage)
    if garbage.startswith(OK):
        return  # llhttp would wait for a second request's answer; ours has none in flight
    with pytest.raises(Exception, match=r"."):
        oracle_reader().feed(garbage)


@pytest.mark.unit
def test_a_body_of_unknown_length_is_not_read_and_the_connection_not_reused() -> None:
    chunked = b"HTTP/1.1 429 x\r\nTransfer-Encoding: chunked\r\nx-amzn-ErrorType: Lim\r\n\r\n"
    assert direct.Reader().feed(chunked + b"5\r\nhello\r\n0\r\n\r\n") == (429, "Lim", True)
    assert direct.Reader().feed(b"HTTP/1.1 200 OK\r\n\r\nuntil the end") == (200, "", True)


@pytest.mark.unit
def test_a_head_without_an_end_is_refused() -> None:
    reader = direct.Reader()
    assert reader.feed(b"HTTP/1.1 200 OK\r\n") is None
    with pytest.raises(ValueError, match="without an end"):
        reader.feed(b"x-filler: " + b"y" * direct.MAX_HEAD_BYTES)


class _StillFlow:
    """A connection for the parser to pause and resume: answers fed by hand need neither."""

    def pause_reading(self) -> None:
        pass

    def resume_reading(self, resume_parser: bool = True) -> None:
        pass


def oracle_reader() -> wire.AnswerReader:
    """The fan-out's answer reader, fed by hand."""
    loop = asyncio.new_event_loop()
    loop.close()  # the parser only keeps it for readers that wait; nothing waits here
    return wire.AnswerReader(loop, _StillFlow())


# ---------------------------------------------------------------------------------------------
# Plain and TLS, and idle connections across invocations (Lambda freezes the environment in
# between: nothing reads a connection the server closes meanwhile)
# ---------------------------------------------------------------------------------------------
def test_posts_keep_their_connections_alive_over_http_and_tls(
    threaded: tuple[ThreadedServer, ssl.SSLContext | None],
) -> None:
    started, client_tls = threaded
    links = direct.Links(started.url, client_tls)
    result = post(started, [THROTTLED], singles(6), limit=2, links=links)
    links.close()
    assert (result.delivered, result.failed) == (6, None)
    assert started.server.connections == 2


def test_an_untrusted_certificate_is_a_failed_post_not_a_silent_one(
    tls_contexts: tuple[ssl.SSLContext, str],
) -> None:
    started = ThreadedServer(tls_contexts[0])
    try:
        result = post(started, [], [[0]], links=direct.Links(started.url))  # the system's CAs
        assert (result.delivered, result.failed) == (0, Outcome.UNREACHABLE)
        assert result.logged[0]["last_error"] == "SSLCertVerificationError"
        assert started.server.requests == 0
    finally:
        started.stop()


@pytest.mark.parametrize("https", [False, True])
def test_a_peer_that_stops_reading_times_the_send_out(
    tls_contexts: tuple[ssl.SSLContext, str],
    https: bool,
) -> None:
    server_context, ca = tls_contexts
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept_and_never_read() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the test is over
            if https:
                client = server_context.wrap_socket(client, server_side=True)
            accepted.append(client)

    thread = threading.Thread(target=accept_and_never_read, daemon=True)
    thread.start()
    scheme = "https" if https else "http"
    url = f"{scheme}://127.0.0.1:{listener.getsockname()[1]}/prod"
    links = direct.Links(url, ssl.create_default_context(cadata=ca) if https else None)
    huge = REQUEST + b"x" * 32_000_000  # more than the kernel's buffers on both sides hold
    run, logged = make_run(links, request=huge, limit=1, rate=1000, attempt_timeout=0.3)
    began = time.monotonic()
    posting = threading.Thread(target=run.go, args=([[0]],), daemon=True)
    posting.start()
    posting.join(10)
    hung = posting.is_alive()
    links.close()
    listener.close()
    for client in accepted:
        client.close()  # a hung send ends with the peer
    assert not hung, "the send outlived every timeout"
    assert time.monotonic() - began < 5  # three attempts of 0.3 s
    assert (run.delivered, run.failed) == (0, Outcome.UNREACHABLE)
    assert logged[0]["last_error"] in {"TimeoutError", "timeout"}
    assert logged[0]["attempts"] == NO_PAUSE.max_attempts


@pytest.mark.parametrize(
    ("pause", "close", "connections"),
    [
        (5.0, True, 6),  # closed by the server meanwhile: seen, not posted on, three new ones
        (wire.IDLE_LIMIT_SECONDS - 1, False, 3),  # alive and within the limit: probed, reused
        (wire.IDLE_LIMIT_SECONDS + 1, False, 6),  # alive but past the limit: closed, new ones
    ],
)
def test_idle_connections_across_invocations(
    threaded: tuple[ThreadedServer, ssl.SSLContext | None],
    pause: float,
    close: bool,
    connections: int,
) -> None:
    started, client_tls = threaded
    clock = Clock()
    links = direct.Links(started.url, client_tls, clock=clock)
    first = post(started, [], singles(6), limit=3, links=links)
    if close:
        started.close_idle_connections()
    clock.now += pause
    second = post(started, [], singles(6), limit=3, links=links)
    links.close()
    assert first.delivered == second.delivered == 6
    assert started.server.requests == 12  # not one failed attempt, nothing retried
    assert started.server.connections == connections
