"""The contract between the fan-out's scheduler (``engine``) and the transports that post for it
(``wire``, and the benchmark's aiohttp one in ``tools/bench``): both import this module, and
neither imports the other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

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
