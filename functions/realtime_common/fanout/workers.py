"""Fan-out beyond one invocation: parallel Scan segments, one worker invocation per segment.

The stream consumer invokes the worker function once per segment, synchronously and all at once,
waits for every answer and merges the per-frame tallies, so failures are still reported per
record and each client still gets its frames in order (a connection lives in exactly one segment,
and its worker posts its frames in order). The account's post rate is split evenly between the
workers. A synchronous invocation's request payload is at most 6 MB
(https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html): frames that do not fit
in one worker event are sent in consecutive rounds, and a round that fails stops the later ones.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from realtime_common.fanout.audience import Warn
from realtime_common.fanout.schedule import FrameTally, first_failure, merge

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

WORKER_EVENT_KEY = "fanoutWorker"
MAX_WORKER_EVENT_BYTES = 5_000_000  # under the 6 MB synchronous payload limit, with room

# Workers answer this long before the stream consumer's own deadline: time for the reply.
REPLY_SECONDS = 0.5

Invoke = Callable[[dict[str, Any]], dict[str, Any]]


class WorkerError(RuntimeError):
    """A worker invocation failed (function error, throttling, timeout)."""


def segment_count(estimate: int, per_worker: int, max_workers: int) -> int:
    """How many Scan segments (= workers) an audience of about ``estimate`` connections needs."""
    return max(2, min(max_workers, math.ceil(estimate / per_worker)))


WORKER_EVENT_VERSION = 2


@dataclass(frozen=True)
class WorkerJob:
    """What one worker is asked to do: its segment, each audience's frames, its share of the rate.

    ``roles`` maps each role that has a view to its audience (an index into ``frames``); the
    worker sends a connection its role's frames and nothing to a role without a view.
    """

    segment: int
    total_segments: int
    frames: tuple[tuple[str, ...], ...]  # per audience, the UTF-8 JSON text of each frame
    roles: dict[str, int]
    rate: float
    deadline_epoch: float  # wall clock (time.time()) by which the worker must have answered
    max_attempts: int

    def deadline(self, deadline: float) -> float:
        """The worker's ``time.monotonic()`` deadline: its own, or the job's if that is sooner."""
        return min(deadline, time.monotonic() + self.deadline_epoch - time.time())

    @property
    def frame_count(self) -> int:
        return len(self.frames[0]) if self.frames else 0

    def to_event(self) -> dict[str, Any]:
        return {
            WORKER_EVENT_KEY: {
                "version": WORKER_EVENT_VERSION,
                "segment": self.segment,
                "totalSegments": self.total_segments,
                "frames": [list(group) for group in self.frames],
                "roles": self.roles,
                "rate": self.rate,
                "deadlineEpoch": self.deadline_epoch,
                "maxAttempts": self.max_attempts,
            }
        }

    @classmethod
    def from_event(cls, event: object) -> WorkerJob:
        body = event.get(WORKER_EVENT_KEY) if isinstance(event, dict) else None
        if not isinstance(body, dict) or body.get("version") != WORKER_EVENT_VERSION:
            raise ValueError(
                f"not a fan-out worker event (no {WORKER_EVENT_KEY} version {WORKER_EVENT_VERSION})"
            )
        total = int(body["totalSegments"])
        segment = int(body["segment"])
        if not 0 <= segment < total:
            raise ValueError(f"segment {segment} is not in 0..{total - 1}")
        frames = tuple(tuple(str(frame) for frame in group) for group in body["frames"])
        roles = {str(role): int(index) for role, index in dict(body["roles"]).items()}
        if any(not 0 <= index < len(frames) for index in roles.values()):
            raise ValueError("a role's audience is not one of the frame sets")
        if len({len(group) for group in frames}) > 1:
            raise ValueError("every audience needs the same number of frames")
        return cls(
            segment=segment,
            total_segments=total,
            frames=frames,
            roles=roles,
            rate=float(body["rate"]),
            deadline_epoch=float(body["deadlineEpoch"]),
            max_attempts=int(body["maxAttempts"]),
        )


def answer_by(deadline: float) -> float:
    """The ``deadlineEpoch`` (wall clock) of workers invoked by a consumer whose own deadline is
    ``deadline`` (``time.monotonic()``)."""
    return time.time() + (deadline - time.monotonic()) - REPLY_SECONDS


def rounds(frames: Sequence[Sequence[bytes]], limit: int = MAX_WORKER_EVENT_BYTES) -> list[range]:
    """Consecutive frame ranges whose worker event (every audience's frames) stays under ``limit``
    bytes; ``frames`` is one list per audience."""
    out: list[range] = []
    start, size = 0, 0
    count = len(frames[0]) if frames else 0
    for index in range(count):
        cost = sum(len(json.dumps(group[index].decode("utf-8"))) + 2 for group in frames)
        if index > start and size + cost > limit:
            out.append(range(start, index))
            start, size = index, 0
        size += cost
    if start < count:
        out.append(range(start, count))
    return out


@dataclass
class WorkerRun:
    tallies: list[FrameTally]
    stats: list[dict[str, Any]]
    connections: int
    failed_workers: int


def run_workers(
    invoke: Invoke,
    frames: Sequence[Sequence[bytes]],
    total_segments: int,
    *,
    roles: dict[str, int],
    rate: float,
    deadline_epoch: float,
    max_attempts: int,
    warn: Warn,
) -> WorkerRun:
    """Invoke one worker per segment for each round of frames; merge their tallies.

    ``frames``: one list per audience; ``roles``: role -> audience.
    """
    run = WorkerRun(tallies=[], stats=[], connections=0, failed_workers=0)
    texts = [[frame.decode("utf-8") for frame in group] for group in frames]
    frame_count = len(frames[0]) if frames else 0
    with ThreadPoolExecutor(max_workers=total_segments, thread_name_prefix="fanout-worker") as pool:
        for span in rounds(frames):
            jobs = [
                WorkerJob(
                    segment=segment,
                    total_segments=total_segments,
                    frames=tuple(tuple(group[span.start : span.stop]) for group in texts),
                    roles=roles,
                    rate=rate / total_segments,
                    deadline_epoch=deadline_epoch,
                    max_attempts=max_attempts,
                )
                for segment in range(total_segments)
            ]
            answers = list(pool.map(lambda job: _call(invoke, job, warn), jobs))
            parts: list[list[FrameTally]] = []
            for answer in answers:
                if answer is None:
                    run.failed_workers += 1
                    parts.append([FrameTally(pending=0, worker_failed=1) for _ in span])
                    continue
                parts.append([FrameTally.from_dict(t) for t in answer["tallies"]])
                run.stats.append(answer.get("stats", {}))
                run.connections += int(answer.get("connections", 0))
            merged = merge(parts, len(span))
            run.tallies.extend(merged)
            if first_failure(merged) is not None:
                # Later rounds are not sent: their records are retried after this one's.
                run.tallies.extend(FrameTally(pending=1) for _ in range(span.stop, frame_count))
                break
    return run


def _call(invoke: Invoke, job: WorkerJob, warn: Warn) -> dict[str, Any] | None:
    try:
        answer = invoke(job.to_event())
        tallies = answer.get("tallies")
        if not isinstance(tallies, list) or len(tallies) != job.frame_count:
            raise WorkerError(f"unexpected worker answer: {str(answer)[:200]}")
    except Exception as error:  # noqa: BLE001 (any failure of one worker fails its segment only)
        warn(
            "fan-out worker failed",
            {"segment": job.segment, "total_segments": job.total_segments, "error": str(error)},
        )
        return None
    return answer


def lambda_invoker(client: LambdaClient, function_name: str) -> Invoke:
    """Synchronous (``RequestResponse``) invocation of the worker function."""

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        response = client.invoke(
            FunctionName=function_name,
            InvocationType="RequestResponse",
            Payload=json.dumps(event, separators=(",", ":")).encode(),
        )
        payload = response["Payload"].read()
        if response.get("FunctionError"):
            raise WorkerError(f"{response['FunctionError']}: {payload[:500]!r}")
        answer = json.loads(payload)
        if not isinstance(answer, dict):
            raise WorkerError(f"worker answered {payload[:200]!r}")
        return answer

    return invoke
