"""The dead-letter queue side: receive on-failure messages, parse them, delete them.

Lambda's on-failure record for a DynamoDB stream batch (the fields this tool reads):

    {"requestContext": {"functionArn": "...", "condition": "RetryAttemptsExhausted", ...},
     "responseContext": {"functionError": "Unhandled", ...},
     "DDBStreamBatchInfo": {"shardId": "...", "startSequenceNumber": "...",
                            "endSequenceNumber": "...", "batchSize": 3, "streamArn": "...", ...}}

https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

# SQS: at most 10 messages per ReceiveMessage.
MAX_RECEIVE = 10


class DeadLetterFormatError(ValueError):
    """A dead-letter message is not a Lambda on-failure record of a DynamoDB stream batch."""


@dataclass(frozen=True)
class ParkedBatch:
    """The metadata of one failed batch: where its records are in the stream."""

    stream_arn: str
    shard_id: str
    start_sequence: str
    end_sequence: str
    batch_size: int
    function_arn: str | None
    condition: str | None

    @property
    def first(self) -> int:
        return int(self.start_sequence)

    @property
    def last(self) -> int:
        return int(self.end_sequence)


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    receipt_handle: str
    batch: ParkedBatch


def parse(body: str) -> ParkedBatch:
    """The parked batch described by an on-failure message body."""
    try:
        document: Any = json.loads(body)
        info = document["DDBStreamBatchInfo"]
        context = document.get("requestContext") or {}
        batch = ParkedBatch(
            stream_arn=str(info["streamArn"]),
            shard_id=str(info["shardId"]),
            start_sequence=str(info["startSequenceNumber"]),
            end_sequence=str(info["endSequenceNumber"]),
            batch_size=int(info.get("batchSize") or 0),
            function_arn=context.get("functionArn"),
            condition=context.get("condition"),
        )
        if batch.first > batch.last:
            raise DeadLetterFormatError(
                f"startSequenceNumber {batch.start_sequence} is after "
                f"endSequenceNumber {batch.end_sequence}"
            )
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        if isinstance(error, DeadLetterFormatError):
            raise
        raise DeadLetterFormatError(
            f"not a DynamoDB stream on-failure record ({type(error).__name__}: {error}); "
            "expected a JSON object with DDBStreamBatchInfo.streamArn, shardId, "
            "startSequenceNumber and endSequenceNumber"
        ) from error
    return batch


def receive(
    sqs: SQSClient, queue_url: str, visibility_timeout: int, limit: int | None = None
) -> Iterator[DeadLetter | tuple[str, str, DeadLetterFormatError]]:
    """Every message of the queue, at most ``limit``; unparseable ones as (id, handle, error).

    Each received message stays invisible for ``visibility_timeout`` seconds, long enough to
    replay and delete it; one this run does not delete (lost records, a failed replay) comes back
    afterwards. Receiving stops when the queue returns nothing: every message is either handled
    or hidden by then.
    """
    seen = 0
    while limit is None or seen < limit:
        wanted = MAX_RECEIVE if limit is None else min(MAX_RECEIVE, limit - seen)
        response = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=wanted,
            VisibilityTimeout=visibility_timeout,
            WaitTimeSeconds=1,
        )
        messages = response.get("Messages", [])
        if not messages:
            return
        for message in messages:
            seen += 1
            message_id, handle = message["MessageId"], message["ReceiptHandle"]
            try:
                yield DeadLetter(message_id, handle, parse(message.get("Body", "")))
            except DeadLetterFormatError as error:
                yield message_id, handle, error


def delete(sqs: SQSClient, queue_url: str, receipt_handle: str) -> None:
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=receipt_handle)


def release(sqs: SQSClient, queue_url: str, receipt_handle: str) -> None:
    """Make a message visible again now (a dry run, or a message left for later)."""
    sqs.change_message_visibility(
        QueueUrl=queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=0
    )
