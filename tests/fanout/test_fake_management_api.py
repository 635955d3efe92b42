"""The fake management API itself: the load tests and the benchmark rely on it answering many
overlapping posts at once (its latency is a timer, not a blocked thread), one request at a time
per keep-alive connection, in order, and recording every post even when the client went away."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import pytest

from testing.fake_management_api import FakeManagementApi

pytestmark = pytest.mark.fanout


def post_bytes(path: str, body: bytes, *, close: bool = False) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: fake\r\nContent-Length: {len(body)}\r\n"
    if close:
        head += "Connection: close\r\n"
    return (head + "\r\n").encode() + body


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(
        int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")
    )
    return int(lines[0].split(" ")[1]), await reader.readexactly(length)


def address(api: FakeManagementApi) -> tuple[str, int]:
    parts = urlsplit(api.url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def test_posts_on_many_connections_wait_out_their_latency_together(
    api: FakeManagementApi,
) -> None:
    api.latency = 0.5
    connections = 300

    async def one(n: int) -> tuple[int, bytes]:
        reader, writer = await asyncio.open_connection(*address(api))
        writer.write(post_bytes(f"/prod/@connections/c{n}", json.dumps({"n": n}).encode()))
        answer = await read_answer(reader)
        writer.close()
        return answer

    async def all_of_them() -> list[tuple[int, bytes]]:
        return await asyncio.gather(*(one(n) for n in range(connections)))

    began = time.monotonic()
    answers = asyncio.run(all_of_them())
    elapsed = time.monotonic() - began
    assert answers == [(200, b"")] * connections
    # 300 sequential waits would take 150 s: a tenth of that proves they overlap, with room for a
    # loaded machine (max_in_flight below is the exact check).
    assert elapsed < connections * api.latency / 10
    assert api.max_in_flight > connections // 2
    assert api.delivered("c7") == [{"n": 7}]
    assert all(p.finished - p.started >= api.latency for p in api.posts)


def test_pipelined_posts_on_one_connection_are_answered_in_order_one_at_a_time(
    api: FakeManagementApi,
) -> None:
    api.latency = 0.02
    api.behaviours["slow"] = "throttle:1"

    async def pipeline() -> list[tuple[int, bytes]]:
        reader, writer = await asyncio.open_connection(*address(api))
        requests = b"".join(
            post_bytes(f"/prod/@connections/{cid}", json.dumps({"cid": cid}).encode())
            for cid in ("a", "slow", "slow", "b")
        )
        # Split mid-head and mid-body: the parser must wait for the rest.
        for cut in range(0, len(requests), 7):
            writer.write(requests[cut : cut + 7])
            await writer.drain()
        answers = [await read_answer(reader) for _ in range(4)]
        writer.close()
        return answers

    answers = asyncio.run(pipeline())
    assert [status for status, _ in answers] == [200, 429, 200, 200]
    assert json.loads(answers[1][1]) == {"message": "LimitExceededException"}
    assert [p.connection_id for p in api.posts] == ["a", "slow", "slow", "b"]
    assert all(b.started >= a.finished for a, b in zip(api.posts, api.posts[1:], strict=False))
    assert api.max_in_flight == 1


def test_a_post_whose_client_went_away_is_still_recorded(api: FakeManagementApi) -> None:
    api.latency = 0.2
    with socket.create_connection(address(api)) as sock:
        sock.sendall(post_bytes("/prod/@connections/gone-away", b'{"x":1}'))
    deadline = time.monotonic() + 5
    while not api.posts and time.monotonic() < deadline:
        time.sleep(0.05)
    (post,) = api.posts
    assert (post.connection_id, post.status, post.body) == ("gone-away", 200, b'{"x":1}')
    # ... and the fake goes on serving others.
    with socket.create_connection(address(api)) as sock:
        sock.sendall(post_bytes("/prod/@connections/next", b"{}", close=True))
        answer = b""
        while chunk := sock.recv(4096):  # the fake closes after a Connection: close request
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert b"Connection: close" in answer


def test_control_endpoints_and_counters_only_mode() -> None:
    with FakeManagementApi(keep_posts=False, stage="dev", default="gone") as api:
        origin = api.url.rsplit("/", 1)[0]
        for cid in ("x", "y%3D"):
            request = urllib.request.Request(  # noqa: S310 (our own fake on 127.0.0.1)
                f"{api.url}/@connections/{cid}", data=b"{}", method="POST"
            )
            with pytest.raises(urllib.error.HTTPError) as gone:
                urllib.request.urlopen(request, timeout=5)  # noqa: S310
            assert gone.value.code == 410
            assert gone.value.headers["x-amzn-ErrorType"] == "GoneException"
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{origin}/prod/@connections/x", data=b"{}", timeout=5)  # noqa: S310
        assert missing.value.code == 404
        with urllib.request.urlopen(f"{origin}/_fake/stats", timeout=5) as response:  # noqa: S310
            stats = json.loads(response.read())
        assert stats["posts"] == 2
        assert stats["statuses"] == {"410": 2}
        assert api.posts == []  # counters only
        reset = urllib.request.Request(f"{origin}/_fake/reset", method="POST")  # noqa: S310
        with urllib.request.urlopen(reset, timeout=5) as response:  # noqa: S310
            assert response.status == 200
        assert api.stats()["posts"] == 0


def test_it_serves_https_with_a_certificate_the_client_can_verify(tmp_path: Any) -> None:
    import ssl  # noqa: PLC0415

    from testing import tls  # noqa: PLC0415

    issued = tls.issue(tmp_path)
    with FakeManagementApi(tls_cert=str(issued.server_pem)) as api:
        assert api.url.startswith("https://127.0.0.1:")
        context = ssl.create_default_context(cafile=str(issued.ca_pem))
        request = urllib.request.Request(  # noqa: S310 (127.0.0.1)
            api.url + "/@connections/abc%3D", data=b'{"x":1}', method="POST"
        )
        with urllib.request.urlopen(request, timeout=5, context=context) as response:  # noqa: S310
            assert response.status == 200
        assert api.delivered("abc=") == [{"x": 1}]
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            urllib.request.urlopen(request, timeout=5)  # noqa: S310 (the system's CAs: refused)


def test_a_connecting_connection_answers_410_until_its_handshake_is_over(
    api: FakeManagementApi,
) -> None:
    def post(cid: str) -> int:
        request = urllib.request.Request(  # noqa: S310 (our own fake on 127.0.0.1)
            f"{api.url}/@connections/{cid}", data=b"{}", method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                return int(response.status)
        except urllib.error.HTTPError as error:
            assert error.headers["x-amzn-ErrorType"] == "GoneException"
            return error.code

    api.connecting("young", 0.4)
    api.behaviours["young-throttled"] = "throttle:1"
    api.connecting("young-throttled")  # until established
    assert [post("young"), post("young"), post("other")] == [410, 410, 200]
    assert post("young-throttled") == 410  # the handshake comes before any behaviour
    time.sleep(0.5)
    assert [post("young"), post("young-throttled")] == [200, 410]
    api.established("young-throttled")
    assert post("young-throttled") == 200  # throttle:1 was used up by the 410s
