"""The contract between the fan-out's scheduler (``engine``) and the transports that post for it
(``wire``, and the benchmark's aiohttp one in ``tools/bench``): both import this module, and
neither imports the other. ``AwaitingSender`` adapts an awaitable ``Poster`` to the ``Sender`` the
scheduler drives.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from typing_extensions import TypeIs

Done = Callable[[int, str], None]


class TransportError(Exception):
    """The post got no HTTP answer (connection refused or reset, timeout)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@runtime_checkable
class Sender(Protocol):
    """A callback transport: starts one attempt and reports its answer through ``done``.

    ``done(status, error_code)`` is called exactly once, never from inside ``send``, with the
    HTTP status, or with status 0 and the kind of failure (``TimeoutError``, a reset) when no
    answer came within ``timeout`` seconds. ``slot`` is what ``Poster`` calls ``frame``.
    """

    def send(self, connection_id: str, slot: int, timeout: float, done: Done) -> None: ...


class Poster(Protocol):
    """Sends frame slot ``frame`` to ``connection_id``; returns (HTTP status, AWS error code), or
    raises :class:`TransportError` when no answer came.

    With role-based views the slot is ``audience * frame_count + frame`` (each audience's frames
    one after the other); without, it is the frame index.
    """

    def __call__(
        self, connection_id: str, frame: int, timeout: float
    ) -> Awaitable[tuple[int, str]]: ...


class AwaitingSender:
    """A ``Sender`` made of an awaitable ``Poster``: one task per attempt in flight."""

    def __init__(self, poster: Poster) -> None:
        self._poster = poster
        self.fail: Callable[[BaseException], None] = _raise
        self._tasks: set[asyncio.Task[None]] = set()

    def send(self, connection_id: str, slot: int, timeout: float, done: Done) -> None:
        task = asyncio.get_running_loop().create_task(
            self._post(connection_id, slot, timeout, done)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, connection_id: str, slot: int, timeout: float, done: Done) -> None:
        try:
            try:
                status, code = await self._poster(connection_id, slot, timeout)
            except TransportError as error:
                status, code = 0, error.kind
            done(status, code)
        except BaseException as error:  # noqa: BLE001 (deliver fails with it)
            self.fail(error)


def is_sender(poster: Poster | Sender) -> TypeIs[Sender]:
    """Whether ``poster`` is a callback transport (``Sender`` has ``send``; a ``Poster`` is an
    awaitable callable). Not ``isinstance`` on the runtime-checkable protocol: that walks the
    protocol's attributes on every call."""
    return callable(getattr(poster, "send", None))


def _raise(error: BaseException) -> None:
    raise error
