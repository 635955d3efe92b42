"""The stream side: fetch exactly a parked batch's records back, while the stream retains them.

DynamoDB Streams keeps records for 24 hours. A record older than that is trimmed: an iterator at
its sequence number fails with ``TrimmedDataAccessException``, and whatever is left of the batch
is read from the shard's trim horizon instead. What cannot be found is reported, by sequence
number range, as lost.
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_GetShardIterator.html
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import ClientError

from tools.redrive.dead_letters import ParkedBatch

if TYPE_CHECKING:
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient
    from mypy_boto3_dynamodbstreams.type_defs import GetRecordsOutputTypeDef

# GetRecords returns at most 1,000 records or 1 MB per call.
MAX_RECORDS_PER_CALL = 1000
# An open shard can answer empty pages before the records it holds; bound the walk.
MAX_EMPTY_PAGES = 5

# DynamoDB Streams throttles a shard read by more processes than it allows: two for a
# single-Region table, one recommended for a global table. The Broadcaster's and the Notifier's
# mappings already use both, so a redrive is a third reader and must expect
# LimitExceededException (throttling) while they run.
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
THROTTLED = "LimitExceededException"

T = TypeVar("T")


class StreamThrottledError(RuntimeError):
    """The stream kept throttling this reader after every backoff."""


@dataclass(frozen=True)
class Backoff:
    """How a throttled stream call is retried: full jitter, exponential up to ``cap`` seconds.

    ``sleep`` and ``jitter`` are parameters so a test can record the waits instead of waiting.
    """

    attempts: int = 8
    base: float = 0.5
    cap: float = 20.0
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[float, float], float] = random.uniform

    def delay(self, attempt: int) -> float:
        """Seconds to wait after the ``attempt``-th throttled call (1-based)."""
        return self.jitter(0, min(self.cap, self.base * 2 ** (attempt - 1)))


def throttled_call(
    call: Callable[[], T], what: str, backoff: Backoff, progress: Callable[[str], None]
) -> T:
    """``call()``, retried with backoff while the stream answers LimitExceededException."""
    for attempt in range(1, backoff.attempts + 1):
        try:
            return call()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != THROTTLED:
                raise
            if attempt == backoff.attempts:
                raise StreamThrottledError(
                    f"{what} was throttled {attempt} times in a row (LimitExceededException): the "
                    "shard has more readers than DynamoDB Streams allows (the Broadcaster and the "
                    "Notifier read it too); run the redrive again later, when the stream is quieter"
                ) from error
            wait = backoff.delay(attempt)
            progress(
                f"{what} throttled by DynamoDB Streams (LimitExceededException: this redrive is a "
                f"third reader of the shard, beside the Broadcaster and the Notifier); "
                f"retry {attempt} of {backoff.attempts - 1} in {wait:.1f} s"
            )
            backoff.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


@dataclass
class Fetched:
    """The batch's records found in the stream, and what was not."""

    records: list[dict[str, Any]] = field(default_factory=list)
    trimmed: bool = False  # the start of the batch is past retention
    complete: bool = False  # the last sequence number was reached

    def lost_ranges(self, batch: ParkedBatch) -> list[tuple[str, str]]:
        """Sequence number ranges of the batch that were not found (empty when nothing is lost)."""
        if not self.records:
            return [(batch.start_sequence, batch.end_sequence)]
        lost = []
        first_found = int(self.records[0]["dynamodb"]["SequenceNumber"])
        last_found = int(self.records[-1]["dynamodb"]["SequenceNumber"])
        if first_found > batch.first:
            lost.append((batch.start_sequence, f"<{first_found}"))
        if not self.complete and last_found < batch.last:
            lost.append((f">{last_found}", batch.end_sequence))
        return lost


def fetch(
    streams: DynamoDBStreamsClient,
    batch: ParkedBatch,
    *,
    backoff: Backoff | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> Fetched:
    """Records ``batch.first`` .. ``batch.last`` of the batch's shard, in stream order.

    Throttled calls (``LimitExceededException``) are retried with ``backoff`` and reported through
    ``progress``; :class:`StreamThrottledError` when the throttling does not let up.
    """
    backoff = backoff or Backoff()
    fetched = Fetched()

    def call(what: str, request: Callable[[], T]) -> T:
        return throttled_call(request, f"{what} on {batch.shard_id}", backoff, progress)

    try:
        iterator = call(
            "GetShardIterator",
            lambda: streams.get_shard_iterator(
                StreamArn=batch.stream_arn,
                ShardId=batch.shard_id,
                ShardIteratorType="AT_SEQUENCE_NUMBER",
                SequenceNumber=batch.start_sequence,
            ),
        )["ShardIterator"]
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code not in {"TrimmedDataAccessException", "ResourceNotFoundException"}:
            raise
        fetched.trimmed = True
        if code == "ResourceNotFoundException":  # the shard (or the stream) is gone entirely
            return fetched
        iterator = call(
            "GetShardIterator",
            lambda: streams.get_shard_iterator(
                StreamArn=batch.stream_arn, ShardId=batch.shard_id, ShardIteratorType="TRIM_HORIZON"
            ),
        )["ShardIterator"]

    empty_pages = 0
    next_iterator: str | None = iterator
    while next_iterator and empty_pages < MAX_EMPTY_PAGES:
        page = call("GetRecords", partial(_page, streams, next_iterator))
        records = page.get("Records", [])
        empty_pages = 0 if records else empty_pages + 1
        for record in records:
            sequence = int(record["dynamodb"]["SequenceNumber"])
            if sequence < batch.first:
                continue
            if sequence > batch.last:
                fetched.complete = True
                return fetched
            fetched.records.append(dict(record))
            if sequence == batch.last:
                fetched.complete = True
                return fetched
        next_iterator = page.get("NextShardIterator")
    return fetched


def _page(streams: DynamoDBStreamsClient, iterator: str) -> GetRecordsOutputTypeDef:
    return streams.get_records(ShardIterator=iterator, Limit=MAX_RECORDS_PER_CALL)


def as_lambda_record(record: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record in the shape Lambda hands a function: ``eventSourceARN`` added and
    ``ApproximateCreationDateTime`` in epoch seconds (boto3 parses it into a datetime)."""
    out = dict(record)
    dynamodb = dict(out["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
    out["dynamodb"] = dynamodb
    out["eventSourceARN"] = stream_arn
    return out


def stream_event(records: list[dict[str, Any]], stream_arn: str) -> dict[str, Any]:
    """The event a stream event source mapping would invoke the function with."""
    return {"Records": [as_lambda_record(record, stream_arn) for record in records]}
