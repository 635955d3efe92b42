"""The stream side: fetch exactly a parked batch's records back, while the stream retains them.

DynamoDB Streams keeps records for 24 hours. A record older than that is trimmed: an iterator at
its sequence number fails with ``TrimmedDataAccessException``, and whatever is left of the batch
is read from the shard's trim horizon instead. What cannot be found is reported, by sequence
number range, as lost.
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_GetShardIterator.html
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from tools.redrive.dead_letters import ParkedBatch

if TYPE_CHECKING:
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient

# GetRecords returns at most 1,000 records or 1 MB per call.
MAX_RECORDS_PER_CALL = 1000
# An open shard can answer empty pages before the records it holds; bound the walk.
MAX_EMPTY_PAGES = 5


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


def fetch(streams: DynamoDBStreamsClient, batch: ParkedBatch) -> Fetched:
    """Records ``batch.first`` .. ``batch.last`` of the batch's shard, in stream order."""
    fetched = Fetched()
    try:
        iterator = streams.get_shard_iterator(
            StreamArn=batch.stream_arn,
            ShardId=batch.shard_id,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=batch.start_sequence,
        )["ShardIterator"]
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code not in {"TrimmedDataAccessException", "ResourceNotFoundException"}:
            raise
        fetched.trimmed = True
        if code == "ResourceNotFoundException":  # the shard (or the stream) is gone entirely
            return fetched
        iterator = streams.get_shard_iterator(
            StreamArn=batch.stream_arn, ShardId=batch.shard_id, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]

    empty_pages = 0
    next_iterator: str | None = iterator
    while next_iterator and empty_pages < MAX_EMPTY_PAGES:
        page = streams.get_records(ShardIterator=next_iterator, Limit=MAX_RECORDS_PER_CALL)
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
