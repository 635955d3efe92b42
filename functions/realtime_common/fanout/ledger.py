"""What an execution environment remembers of its last batch that ran out of time.

For each frame the batch did not complete (keyed by the endpoint and the event ids the frame
carries), the connections that need it no more. Lambda re-sends a failed batch from the first
failed record, so the same frames come back; when the retry lands in the same environment (the
usual case: one invocation at a time per shard), it skips those connections and goes on from
where the last one stopped.
"""

from __future__ import annotations

from collections.abc import Sequence

from realtime_common.fanout.engine import Result
from realtime_common.fanout.schedule import Failure, first_failure

FrameKey = tuple[str, ...]


class RetryLedger:
    """Per frame key, the connections an earlier invocation got that frame to (or gave up on)."""

    def __init__(self) -> None:
        self._done: dict[FrameKey, frozenset[str]] = {}

    def already(self, keys: Sequence[FrameKey]) -> list[frozenset[str]]:
        """For each frame, the connections to skip."""
        return [self._done.get(key, frozenset()) for key in keys]

    def remember(self, keys: Sequence[FrameKey], result: Result) -> None:
        """Keep what a retry can skip, only when time ran out (any other failure, or none,
        leaves nothing worth skipping); forget the earlier batch."""
        self._done.clear()
        failure = first_failure(result.tallies)
        if failure is not None and failure[1] is Failure.TIME:
            for index in range(failure[0], len(keys)):
                self._done[keys[index]] = frozenset(result.done[index])

    def clear(self) -> None:
        self._done.clear()

    def __len__(self) -> int:
        return len(self._done)
