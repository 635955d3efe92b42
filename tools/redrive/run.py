"""One redrive pass over the dead-letter queues of the chosen consumers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tools.redrive import dead_letters, replay, stream
from tools.redrive.dead_letters import DeadLetter

if TYPE_CHECKING:
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_sqs import SQSClient

# Long enough to fetch, replay (the function's own timeout is at most 900 s) and delete.
DEFAULT_VISIBILITY_TIMEOUT = 960


@dataclass(frozen=True)
class Target:
    """A consumer: its name (broadcaster, notifier), dead-letter queue and function."""

    name: str
    queue_url: str
    function_name: str


@dataclass(frozen=True)
class Clients:
    sqs: SQSClient
    streams: DynamoDBStreamsClient
    lambda_: LambdaClient


@dataclass
class Report:
    """What one pass did, per message; ``ok`` when nothing is left to do or was lost."""

    replayed: list[str] = field(default_factory=list)  # message ids deleted after replay
    would_replay: list[str] = field(default_factory=list)  # dry run
    records_replayed: int = 0
    lost: list[str] = field(default_factory=list)  # "<target> <shard> <first>..<last>"
    failed: list[str] = field(default_factory=list)  # "<target> <message id>: <why>"
    unreadable: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.failed or self.unreadable)


def redrive(
    clients: Clients,
    targets: Sequence[Target],
    *,
    dry_run: bool,
    progress: Callable[[str], None],
    discard_lost: bool = False,
    limit: int | None = None,
    visibility_timeout: int = DEFAULT_VISIBILITY_TIMEOUT,
    backoff: stream.Backoff | None = None,
) -> Report:
    """Replay every parked batch of ``targets``; see the package docstring for the contract.

    A message whose records are all replayed and processed is deleted. A message with records
    past the stream's retention stays in its queue (so nothing disappears silently) unless
    ``discard_lost``; what was lost is in the report. ``progress`` gets one line per message, and
    one per throttled stream call: the redrive reads the shards the Broadcaster and the Notifier
    read, a third reader, and backs off (``backoff``) when DynamoDB Streams throttles it.
    """
    report = Report()
    for target in targets:
        # Messages kept are made visible again only after the pass: released at once, the
        # next receive would hand them straight back.
        kept: list[str] = []
        handled = 0
        for item in dead_letters.receive(
            clients.sqs, target.queue_url, visibility_timeout, limit=limit
        ):
            handled += 1
            prefix = f"[{target.name} {handled}]"
            if not isinstance(item, DeadLetter):
                message_id, handle, error = item
                report.unreadable.append(f"{target.name} {message_id}: {error}")
                progress(f"{prefix} message {message_id} unreadable, left in the queue: {error}")
                kept.append(handle)
                continue
            deleted = _one(
                clients,
                target,
                item,
                report,
                dry_run=dry_run,
                discard_lost=discard_lost,
                progress=progress,
                prefix=prefix,
                backoff=backoff,
            )
            if not deleted:
                kept.append(item.receipt_handle)
        for handle in kept:
            dead_letters.release(clients.sqs, target.queue_url, handle)
        progress(
            f"[{target.name}] {handled} dead-letter message(s): "
            f"{handled - len(kept)} deleted, {len(kept)} left in the queue"
        )
    return report


def _one(
    clients: Clients,
    target: Target,
    letter: DeadLetter,
    report: Report,
    *,
    dry_run: bool,
    discard_lost: bool,
    progress: Callable[[str], None],
    prefix: str,
    backoff: stream.Backoff | None,
) -> bool:
    """Handle one parked batch; True when its message was deleted."""
    batch = letter.batch
    where = f"{batch.shard_id} {batch.start_sequence}..{batch.end_sequence}"
    try:
        fetched = stream.fetch(
            clients.streams,
            batch,
            backoff=backoff,
            progress=lambda line: progress(f"{prefix} {line}"),
        )
    except stream.StreamThrottledError as error:
        report.failed.append(f"{target.name} {letter.message_id}: {error}")
        progress(f"{prefix} {where} not read: {error}; the message stays in the queue")
        return False
    lost = fetched.lost_ranges(batch)
    for first, last in lost:
        report.lost.append(f"{target.name} {batch.shard_id} {first}..{last}")
        progress(
            f"{prefix} LOST {batch.shard_id} {first}..{last}: past the stream's retention, "
            "these incident changes cannot be replayed"
        )
    if dry_run:
        report.would_replay.append(letter.message_id)
        progress(
            f"{prefix} would replay {len(fetched.records)} of {batch.batch_size} record(s) "
            f"of {where} to {target.function_name}"
        )
        return False

    for part in replay.split(fetched.records):
        outcome = replay.invoke(
            clients.lambda_, target.function_name, stream.stream_event(part, batch.stream_arn)
        )
        if not outcome.processed:
            failed = ", ".join(outcome.failed_sequences) or "the whole batch"
            report.failed.append(f"{target.name} {letter.message_id}: {outcome.error} ({failed})")
            progress(
                f"{prefix} replay of {where} FAILED ({outcome.error}; {failed}); "
                "the message stays in the queue"
            )
            return False
        report.records_replayed += len(part)

    if lost and not discard_lost:
        progress(
            f"{prefix} replayed {len(fetched.records)} record(s) of {where}; the message stays "
            "in the queue because records were lost (--discard-lost deletes it)"
        )
        return False
    dead_letters.delete(clients.sqs, target.queue_url, letter.receipt_handle)
    report.replayed.append(letter.message_id)
    progress(f"{prefix} replayed {len(fetched.records)} record(s) of {where}; message deleted")
    return True
