"""Which post goes next, and what a batch's outcome is: pure logic, no I/O.

Delivery is frame-major: every connection's frame ``k`` is handed out before any connection's
frame ``k + 1``, and a connection's frame ``k + 1`` only after its frame ``k`` finished (so each
client sees the frames in stream order). A connection that is slow or hung holds back only its
own later frames, never another connection's posts, and frame ``k`` completes for every reachable
connection before later frames compete with it for time. So when an invocation runs out of time,
the frames that completed are a prefix of the batch and Lambda's checkpoint moves past them.

State is one counter triple per frame and a queue per frame of connection indexes that finished
the previous frame: nothing per connection is allocated up front beyond the id list.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum


class Outcome(Enum):
    """What happened to one frame for one connection."""

    DELIVERED = "delivered"
    GONE = "gone"  # 410: the connection is closed; its row is deleted
    CLIENT_ERROR = "client_error"  # 413/400: this frame can never reach this client; skipped
    UNREACHABLE = "unreachable"  # network, auth, 429 or 5xx after every attempt
    DEADLINE = "deadline"  # time ran out before this frame reached this connection
    FILTERED = "filtered"  # this frame has nothing for this connection's filter: not posted


class Failure(Enum):
    """Why a frame (and the records it carries) is reported failed."""

    TIME = "time ran out before every connection was reached"
    UNREACHABLE = "the management API could not be reached for any connection"
    WORKER = "a fan-out worker failed or timed out"


@dataclass
class FrameTally:
    """Per frame: connections still owed it, connections reached, connections unreachable."""

    pending: int
    reached: int = 0
    unreachable: int = 0
    worker_failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "pending": self.pending,
            "reached": self.reached,
            "unreachable": self.unreachable,
            "workerFailed": self.worker_failed,
        }

    @classmethod
    def from_dict(cls, data: dict[str, int]) -> FrameTally:
        return cls(
            pending=int(data["pending"]),
            reached=int(data["reached"]),
            unreachable=int(data["unreachable"]),
            worker_failed=int(data.get("workerFailed", 0)),
        )


def frame_failure(tally: FrameTally) -> Failure | None:
    """None when the frame needs no retry."""
    if tally.worker_failed:
        return Failure.WORKER
    if tally.pending:
        return Failure.TIME
    if tally.reached == 0 and tally.unreachable:
        return Failure.UNREACHABLE
    return None


def first_failure(tallies: Sequence[FrameTally]) -> tuple[int, Failure] | None:
    """The first frame that must be retried, and why (every later frame is retried with it)."""
    for index, tally in enumerate(tallies):
        failure = frame_failure(tally)
        if failure is not None:
            return index, failure
    return None


def merge(parts: Iterable[Sequence[FrameTally]], frame_count: int) -> list[FrameTally]:
    """Sum the tallies of disjoint audiences (one per worker) frame by frame."""
    total = [FrameTally(pending=0) for _ in range(frame_count)]
    for part in parts:
        if len(part) != frame_count:
            raise ValueError(f"a worker reported {len(part)} frames, expected {frame_count}")
        for into, tally in zip(total, part, strict=True):
            into.pending += tally.pending
            into.reached += tally.reached
            into.unreachable += tally.unreachable
            into.worker_failed += tally.worker_failed
    return total


class Schedule:
    """Hands out (connection index, frame index) pairs, lowest frame first."""

    def __init__(self, connections: int, frames: int) -> None:
        self.connections = connections
        self.frames = frames
        self.tallies = [FrameTally(pending=connections) for _ in range(frames)]
        self._cursor = 0 if frames else connections  # next connection for frame 0
        self._ready: list[deque[int]] = [deque() for _ in range(frames)]

    def next(self) -> tuple[int, int] | None:
        """The next post to make, or None when nothing is ready (more may become ready)."""
        if self._cursor < self.connections:
            self._cursor += 1
            return self._cursor - 1, 0
        for frame in range(1, self.frames):
            ready = self._ready[frame]
            if ready:
                return ready.popleft(), frame
        return None

    def finish(self, connection: int, frame: int, outcome: Outcome) -> None:
        """Record ``outcome`` of ``frame`` for ``connection`` and release what it unblocks."""
        if outcome is Outcome.DEADLINE:
            return  # still owed: pending stays, the frame is retried
        tally = self.tallies[frame]
        tally.pending -= 1
        if outcome is Outcome.FILTERED:  # owed nothing: neither reached nor unreachable
            if frame + 1 < self.frames:
                self._ready[frame + 1].append(connection)
            return
        if outcome is Outcome.DELIVERED or outcome is Outcome.CLIENT_ERROR:
            tally.reached += 1
            if frame + 1 < self.frames:
                self._ready[frame + 1].append(connection)
            return
        later = range(frame + 1, self.frames)
        if outcome is Outcome.GONE:
            # Nothing more to deliver to a closed connection: it counts as reached for the rest.
            for index in (frame, *later):
                self.tallies[index].reached += 1
            for index in later:
                self.tallies[index].pending -= 1
        else:  # UNREACHABLE: skip its later frames so it never sees them out of order
            for index in (frame, *later):
                self.tallies[index].unreachable += 1
            for index in later:
                self.tallies[index].pending -= 1
