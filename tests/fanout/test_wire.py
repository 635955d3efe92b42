"""The wire client's pool (realtime_common.fanout.wire) against a scripted server on 127.0.0.1.

Each test server answers each request with the next scripted reply: raw bytes (which may be
split across writes, carry an error body or ask to close), ``"hang"`` (never answer) or
``"reset"`` (drop the connection). The pool must: answer every request exactly once and never
from inside ``request``; keep connections alive and reuse them; parse answers split across reads
and error bodies between answers; open at most ``limit`` connections and serve waiting requests
oldest first; turn hangs, resets, refused connects and unparsable answers into (0, why); and,
across invocations (the loop standing still in between, as in a frozen Lambda environment),
neither post on a connection the server closed meanwhile nor reuse one idle past its limit.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from realtime_common.fanout import wire
from testing.scripted_http import CLOSE, GONE, OK, REQUEST, Clock, Reply, Server, ThreadedServer

pytestmark = pytest.mark.fanout

Answers = list[tuple[int, str]]
T = TypeVar("T")


def run(
    script: list[Reply],
    requests: int,
    *,
    limit: int = 4,
    timeout: float = 2.0,
    url: str | None = None,
    between: Callable[[int], Awaitable[None]] | None = None,
    tls: tuple[ssl.SSLContext, ssl.SSLContext | None] | None = None,
) -> tuple[Answers, Server]:
    """Send ``requests`` requests at once through one pool; return the answers in order.

    ``tls``: the server's context and the pool's (None: the system's trust store).
    """
    server = Server(list(script))

    async def go() -> Answers:
        listener = await asyncio.start_server(
            server.handle, "127.0.0.1", 0, ssl=tls[0] if tls else None
        )
        port = listener.sockets[0].getsockname()[1]
        scheme = "https" if tls else "http"
        pool = wire.Pool(url or f"{scheme}://127.0.0.1:{port}/prod", limit, tls[1] if tls else None)
        answers = await send_all(pool, requests, timeout=timeout, between=between)
        pool.close()
        listener.close()
        await listener.wait_closed()
        return answers

    return asyncio.run(go()), server


async def send_all(
    pool: wire.Pool,
    requests: int,
    *,
    timeout: float = 2.0,
    between: Callable[[int], Awaitable[None]] | None = None,
) -> Answers:
    """Send ``requests`` requests at once through ``pool``; the answers in order."""
    loop = asyncio.get_running_loop()
    answers: dict[int, tuple[int, str]] = {}
    finished = loop.create_future()

    def done_for(index: int) -> Callable[[int, str], None]:
        def done(status: int, code: str) -> None:
            assert index not in answers, f"request {index} answered twice"
            answers[index] = (status, code)
            if len(answers) == requests and not finished.done():
                finished.set_result(None)

        return done

    for index in range(requests):
        pool.request(loop, REQUEST, loop.time() + timeout, done_for(index))
        assert index not in answers, "answered from inside request()"
        if between is not None:
            await between(index)
    await asyncio.wait_for(finished, timeout + 5)
    return [answers[index] for index in range(requests)]


def test_connections_are_kept_alive_and_reused() -> None:
    answers, server = run([], 12, limit=3)
    assert answers == [(200, "")] * 12
    assert server.connections == 3
    assert server.most_in_flight == 3


def test_no_more_than_limit_connections_and_waiting_requests_go_oldest_first() -> None:
    answers, server = run([], 9, limit=1)
    assert answers == [(200, "")] * 9
    assert server.connections == 1
    assert server.most_in_flight == 1


def test_error_bodies_and_split_answers_keep_the_connection_usable() -> None:
    split_gone = [GONE[:7], GONE[7:60], GONE[60:-5], GONE[-5:]]
    answers, server = run([split_gone, GONE, [OK[:10], OK[10:]], OK], 4, limit=1)
    assert answers == [(410, "GoneException"), (410, "GoneException"), (200, ""), (200, "")]
    assert server.connections == 1


def test_an_answer_that_asks_to_close_is_not_reused() -> None:
    answers, server = run([CLOSE, OK], 2, limit=1)
    assert answers == [(200, ""), (200, "")]
    assert server.connections == 2


def test_a_hung_request_times_out_alone_and_its_connection_is_dropped() -> None:
    async def first_times_out(index: int) -> None:
        if index == 0:
            await asyncio.sleep(0.7)

    answers, server = run(["hang"], 4, limit=2, timeout=0.5, between=first_times_out)
    assert answers == [(0, "TimeoutError")] + [(200, "")] * 3
    assert server.order.count(1) == 1  # the hung connection never carried another request
    assert server.connections == 3


def test_one_hung_request_does_not_hold_back_the_others() -> None:
    answers, server = run(["hang"], 6, limit=2, timeout=1.0)
    assert answers == [(0, "TimeoutError")] + [(200, "")] * 5
    assert server.order[1:] == [2] * 5  # served by the other connection meanwhile


def test_a_waiting_request_times_out_when_no_connection_comes_free() -> None:
    answers, server = run(["hang"], 2, limit=1, timeout=0.3)
    # The second waited for the only connection until its own timeout, and was never sent.
    assert answers == [(0, "TimeoutError"), (0, "TimeoutError")]
    assert server.requests == 1


def test_a_reset_is_reported_and_the_next_request_opens_a_new_connection() -> None:
    answers, server = run(["reset"], 3, limit=1)
    assert answers[0][0] == 0
    assert answers[0][1] in {"ConnectionResetError", "ConnectionClosed"}
    assert answers[1:] == [(200, ""), (200, "")]
    assert server.connections == 2


def test_an_unparsable_answer_fails_that_request_only() -> None:
    answers, server = run([b"SMTP ready\r\n\r\n"], 2, limit=1)
    assert answers[0][0] == 0
    assert answers[0][1].startswith("bad answer")
    assert answers[1] == (200, "")
    assert server.connections == 2


def test_a_refused_connect_is_answered_later_not_at_once() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    answers, _ = run([], 3, limit=2, url=f"http://127.0.0.1:{port}/prod")
    assert answers == [(0, "ConnectionRefusedError")] * 3


# ---------------------------------------------------------------------------------------------
# TLS (the real endpoint is https://{api}.execute-api.{region}.amazonaws.com)
# ---------------------------------------------------------------------------------------------
def test_posts_over_tls_keep_their_connections_alive(
    tls_contexts: tuple[ssl.SSLContext, str],
) -> None:
    server_context, ca = tls_contexts
    client = ssl.create_default_context(cadata=ca)  # verifies the certificate and 127.0.0.1
    answers, server = run([GONE], 6, limit=2, tls=(server_context, client))
    assert answers == [(410, "GoneException")] + [(200, "")] * 5
    assert server.connections == 2


def test_an_untrusted_certificate_is_a_failed_post_not_a_silent_one(
    tls_contexts: tuple[ssl.SSLContext, str],
) -> None:
    server_context, _ = tls_contexts
    answers, server = run([], 2, limit=1, tls=(server_context, None))  # the system's CAs
    assert answers == [(0, "SSLCertVerificationError")] * 2
    assert server.requests == 0


# ---------------------------------------------------------------------------------------------
# Idle connections across invocations (Lambda freezes the environment between them: the pool's
# loop does not run, so a connection the server closes meanwhile is not seen closing)
# ---------------------------------------------------------------------------------------------
def invocations(
    server: ThreadedServer,
    client_tls: ssl.SSLContext | None,
    *,
    pause: float,
    close_while_idle: bool,
) -> tuple[Answers, Answers]:
    """Two invocations of 6 posts on one pool and one loop, ``pause`` seconds apart on the
    pool's clock, the loop standing still in between (and the server closing its connections
    meanwhile, with ``close_while_idle``)."""
    clock = Clock()
    pool = wire.Pool(server.url, 3, client_tls, clock=clock)
    loop = asyncio.new_event_loop()
    try:
        first = loop.run_until_complete(send_all(pool, 6))
        if close_while_idle:
            server.close_idle_connections()
        clock.now += pause
        second = loop.run_until_complete(send_all(pool, 6))
        pool.close()
        loop.run_until_complete(asyncio.sleep(0.05))  # the aborted transports finish closing
    finally:
        loop.close()
    return first, second


def test_connections_the_server_closed_while_the_pool_was_frozen_are_not_posted_on(
    threaded: tuple[ThreadedServer, ssl.SSLContext | None],
) -> None:
    server, client_tls = threaded
    first, second = invocations(server, client_tls, pause=5.0, close_while_idle=True)
    assert first == [(200, "")] * 6
    assert second == [(200, "")] * 6  # no reset, no "ConnectionClosed", nothing to retry
    assert server.server.connections == 6  # three new ones for the second invocation
    assert server.server.requests == 12


def test_live_connections_idle_within_the_limit_are_reused(
    threaded: tuple[ThreadedServer, ssl.SSLContext | None],
) -> None:
    server, client_tls = threaded
    first, second = invocations(
        server, client_tls, pause=wire.IDLE_LIMIT_SECONDS - 1, close_while_idle=False
    )
    assert first == second == [(200, "")] * 6
    assert server.server.connections == 3  # probed, found alive, kept


def test_connections_idle_past_the_limit_are_closed_not_reused(
    threaded: tuple[ThreadedServer, ssl.SSLContext | None],
) -> None:
    server, client_tls = threaded
    first, second = invocations(
        server, client_tls, pause=wire.IDLE_LIMIT_SECONDS + 1, close_while_idle=False
    )
    assert first == second == [(200, "")] * 6
    assert server.server.connections == 6  # alive, but past the limit: new ones
    deadline = time.monotonic() + 5
    while server.writers and time.monotonic() < deadline:  # the pool closed every one
        time.sleep(0.02)
    assert not server.writers
