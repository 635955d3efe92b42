"""The earlier fan-out client, kept only to measure the wire client against: posts through
aiohttp's ``ClientSession`` (the ``session`` contender, docs/benchmarks/fanout-profile.md).

:func:`install` makes every fan-out in this process use it: the handlers are unchanged, only
the runtime that ``realtime_common.fanout.delivery`` builds is this one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from urllib.parse import urlsplit

import aiohttp
import yarl

from realtime_common.fanout import delivery
from realtime_common.fanout.sigv4 import Signer, connection_path, payload_hash
from realtime_common.fanout.transport import Poster, Sender, TransportError


class HttpPoster:
    """Posts frames with a shared aiohttp session, signed for ``execute-api``."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        callback_url: str,
        frames: Sequence[bytes],
        signer: Signer,
    ) -> None:
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
            timeout = aiohttp.ClientTimeout(total=seconds)
            if len(self._timeouts) < 8:
                self._timeouts[seconds] = timeout
        return timeout

    async def __call__(self, connection_id: str, frame: int, timeout: float) -> tuple[int, str]:
        path = connection_path(self._base_path, connection_id)
        headers = self._signer.headers(path, self._hashes[frame])
        url = yarl.URL(self._origin + path, encoded=True)
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


class SessionRuntime(delivery.Runtime):
    """A runtime whose transport is one aiohttp ``ClientSession`` (kept while warm)."""

    def __init__(self) -> None:
        super().__init__()
        self._session: aiohttp.ClientSession | None = None
        self._session_key: tuple[object, int] = (None, 0)  # its loop and its limit

    async def session(self, limit: int) -> aiohttp.ClientSession:
        key = (asyncio.get_running_loop(), limit)
        if self._session is None or self._session.closed or self._session_key != key:
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
            self._session_key = key
        return self._session

    async def sender(
        self, callback_url: str, frames: Sequence[bytes], signer: Signer, limit: int
    ) -> Sender | Poster:
        return HttpPoster(await self.session(limit), callback_url, frames, signer)

    def close(self) -> None:
        loop, session = self._loop, self._session
        if loop is not None and not loop.is_closed() and session is not None and not session.closed:
            loop.run_until_complete(session.close())
        self._session = None
        super().close()


def install() -> None:
    """Every fan-out in this process (each thread's runtime) posts through aiohttp from now on."""
    delivery.runtime_factory = SessionRuntime
