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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from realtime_common.fanout.audience import Change, Encoded, Warn
from realtime_common.fanout.schedule import FrameTally, first_failure, merge
from realtime_common.filters import Permission

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


WORKER_EVENT_VERSION = 3


@dataclass(frozen=True)
class WorkerJob:
    """What one worker is asked to do: its segment, the batch's encoded messages, its share of
    the rate.

    ``views`` holds, per view, the UTF-8 JSON text of each record's message; ``left`` each
    record's ``incident.left`` text ("" when none); ``groups`` the frames (first record, count);
    ``changes`` what filters match on (the images cut to the filterable fields). ``roles`` maps
    each role that has a view to it (an index into ``views``); ``default_areas`` is the
    permission of a row without ``areas``. The worker routes its segment's rows with the same
    :class:`~realtime_common.fanout.audience.Router` as the broadcaster: it builds the frames of
    the audiences it finds, and matches each distinct filter once per record.
    """

    segment: int
    total_segments: int
    views: tuple[tuple[str, ...], ...]
    left: tuple[str, ...]
    groups: tuple[tuple[int, int], ...]
    changes: tuple[Change, ...]
    roles: dict[str, int]
    default_areas: Permission
    rate: float
    deadline_epoch: float  # wall clock (time.time()) by which the worker must have answered
    max_attempts: int

    def deadline(self, deadline: float) -> float:
        """The worker's ``time.monotonic()`` deadline: its own, or the job's if that is sooner."""
        return min(deadline, time.monotonic() + self.deadline_epoch - time.time())

    @property
    def frame_count(self) -> int:
        return len(self.groups)

    def encoded(self) -> Encoded:
        return Encoded(
            [[text.encode("utf-8") for text in view] for view in self.views],
            [text.encode("utf-8") for text in self.left],
            self.groups,
            self.changes,
        )

    def to_event(self) -> dict[str, Any]:
        return {
            WORKER_EVENT_KEY: {
                "version": WORKER_EVENT_VERSION,
                "segment": self.segment,
                "totalSegments": self.total_segments,
                "views": [list(view) for view in self.views],
                "left": list(self.left),
                "groups": [list(group) for group in self.groups],
                "changes": [change.as_dict() for change in self.changes],
                "roles": self.roles,
                "defaultAreas": list(self.default_areas.patterns),
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
        views = tuple(tuple(str(text) for text in view) for view in body["views"])
        left = tuple(str(text) for text in body["left"])
        changes = tuple(Change.from_dict(change) for change in body["changes"])
        groups = tuple((int(first), int(count)) for first, count in body["groups"])
        roles = {str(role): int(index) for role, index in dict(body["roles"]).items()}
        if any(not 0 <= index < len(views) for index in roles.values()):
            raise ValueError("a role's view is not one of the message sets")
        records = len(left)
        if len(changes) != records or any(len(view) != records for view in views):
            raise ValueError("every view, left and changes need one entry per record")
        if sum(count for _, count in groups) != records:
            raise ValueError("the frame groups do not cover the records")
        return cls(
            segment=segment,
            total_segments=total,
            views=views,
            left=left,
            groups=groups,
            changes=changes,
            roles=roles,
            default_areas=Permission.of(str(p) for p in body["defaultAreas"]),
            rate=float(body["rate"]),
            deadline_epoch=float(body["deadlineEpoch"]),
            max_attempts=int(body["maxAttempts"]),
        )


def answer_by(deadline: float) -> float:
    """The ``deadlineEpoch`` (wall clock) of workers invoked by a consumer whose own deadline is
    ``deadline`` (``time.monotonic()``)."""
    return time.time() + (deadline - time.monotonic()) - REPLY_SECONDS


def _record_cost(encoded: Encoded, index: int) -> int:
    change = encoded.changes[index]
    texts = [view[index] for view in encoded.views] + [encoded.left[index]]
    return sum(len(json.dumps(text.decode("utf-8"))) + 2 for text in texts) + len(
        json.dumps(change.as_dict(), default=str)
    )


def rounds(encoded: Encoded, limit: int = MAX_WORKER_EVENT_BYTES) -> list[range]:
    """Consecutive ranges of frame groups whose worker event (every view's messages of their
    records, the left messages and the changes) stays under ``limit`` bytes."""
    out: list[range] = []
    start, size = 0, 0
    for index, (first, count) in enumerate(encoded.groups):
        cost = sum(_record_cost(encoded, record) for record in range(first, first + count))
        if index > start and size + cost > limit:
            out.append(range(start, index))
            start, size = index, 0
        size += cost
    if start < len(encoded.groups):
        out.append(range(start, len(encoded.groups)))
    return out


@dataclass
class WorkerRun:
    tallies: list[FrameTally]
    stats: list[dict[str, Any]]
    connections: int
    failed_workers: int


def run_workers(
    invoke: Invoke,
    encoded: Encoded,
    total_segments: int,
    *,
    roles: dict[str, int],
    default_areas: Permission,
    rate: float,
    deadline_epoch: float,
    max_attempts: int,
    warn: Warn,
) -> WorkerRun:
    """Invoke one worker per segment for each round of frames; merge their tallies.

    ``encoded``: the batch's messages (changes cut to what matching reads); ``roles``: role ->
    view.
    """
    run = WorkerRun(tallies=[], stats=[], connections=0, failed_workers=0)
    views = [[data.decode("utf-8") for data in view] for view in encoded.views]
    left = [data.decode("utf-8") for data in encoded.left]
    frame_count = len(encoded.groups)
    with ThreadPoolExecutor(max_workers=total_segments, thread_name_prefix="fanout-worker") as pool:
        for span in rounds(encoded):
            groups = encoded.groups[span.start : span.stop]
            first = groups[0][0]
            stop = groups[-1][0] + groups[-1][1]
            jobs = [
                WorkerJob(
                    segment=segment,
                    total_segments=total_segments,
                    views=tuple(tuple(view[first:stop]) for view in views),
                    left=tuple(left[first:stop]),
                    groups=tuple((start - first, count) for start, count in groups),
                    changes=tuple(encoded.changes[first:stop]),
                    roles=roles,
                    default_areas=default_areas,
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
