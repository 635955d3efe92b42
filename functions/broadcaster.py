"""Fan Incidents stream changes out to every open WebSocket connection.

Handler string: ``broadcaster.handler`` (a DynamoDB stream event source mapping with
``ReportBatchItemFailures``). Environment: ``CONNECTIONS_TABLE``, ``WS_CALLBACK_URL`` (required),
``FANOUT_CONCURRENCY``, ``POST_MAX_ATTEMPTS``, ``LOG_LEVEL``, ``POWERTOOLS_SERVICE_NAME``.

Delivery model (functions/README.md has the full contract):

* INSERT/MODIFY records become one JSON message each; REMOVE records are ignored.
* The Connections table is scanned once per invocation, every page.
* One task per connection posts the batch's messages to it in stream order; tasks run on a
  bounded thread pool sharing one connection-pooled management API client.
* 410 Gone deletes the connection's row. 429 and 5xx (and network errors) are retried with
  exponential backoff and full jitter, bounded by ``POST_MAX_ATTEMPTS``.
* A record is failed when no connection could be reached for it (every attempt ended in a
  network, auth, throttling or server error), or when the invocation ran out of time before it
  reached every connection. The first such record and every record after it are reported in
  ``batchItemFailures``: Lambda checkpoints at the lowest failed sequence number and re-sends all
  later records anyway, and not delivering them now keeps each client's view in stream order
  (a client never sees update N+1 before a retried update N). A malformed record is reported
  failed without stopping the others (it carries no incident whose order could matter); the
  records after it are delivered now and again on the retry, and clients drop the duplicates
  by ``eventId``.
"""

from __future__ import annotations

import functools
import json
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.client import BaseClient
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError, NoCredentialsError

from realtime_common import aws, config
from realtime_common.connections import connection_id_from_pk, connection_key
from realtime_common.logs import make_logger
from realtime_common.stream import (
    MalformedRecordError,
    StreamRecord,
    batch_records,
    parse_record,
    sequence_number,
)

logger = make_logger()

# API Gateway WebSocket APIs accept a message payload of at most 128 KB; a larger
# post_to_connection fails with PayloadTooLargeException
# (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html, "Amazon API Gateway
# quotas for configuring and running a WebSocket API": "Message payload size: 128 KB").
MAX_PAYLOAD_BYTES = 128 * 1024
MESSAGE_VERSION = 1

# Seconds kept back from the Lambda timeout: enough for one post that is already in flight
# (connect 3 s + read 5 s, see realtime_common.aws) to finish before Lambda kills the invocation.
DEADLINE_MARGIN_SECONDS = 8.0


@dataclass(frozen=True)
class BroadcastConfig:
    table: str
    callback_url: str
    concurrency: int
    max_attempts: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> BroadcastConfig:
        callback_url = config.required_str(env, "WS_CALLBACK_URL")
        if not callback_url.startswith(("https://", "http://")):
            raise config.ConfigError(
                f"environment variable WS_CALLBACK_URL={callback_url!r} must be the management "
                "API endpoint, https://{api_id}.execute-api.{region}.amazonaws.com/{stage}"
            )
        return cls(
            table=config.required_str(env, "CONNECTIONS_TABLE"),
            callback_url=callback_url.rstrip("/"),
            concurrency=config.bounded_int(env, "FANOUT_CONCURRENCY", 32, 1, 256),
            max_attempts=config.bounded_int(env, "POST_MAX_ATTEMPTS", 4, 1, 10),
        )


@functools.cache
def get_config() -> BroadcastConfig:
    """Configuration, read and validated once per execution environment."""
    return BroadcastConfig.from_env(os.environ)


# --------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------
def build_message(record: StreamRecord) -> dict[str, Any]:
    """The message clients receive for an INSERT or MODIFY record (README: message contract)."""
    return {
        "version": MESSAGE_VERSION,
        "type": "incident.created" if record.event_name == "INSERT" else "incident.updated",
        "incident": record.new_image,
        "keys": record.keys,
        "eventId": record.event_id,
        "sequence": record.sequence,
    }


def slim_envelope(message: Mapping[str, Any]) -> dict[str, Any]:
    """What replaces a message over the payload limit: enough for the client to fetch it."""
    return {
        "version": message["version"],
        "type": message["type"],
        "keys": message["keys"],
        "eventId": message["eventId"],
        "sequence": message["sequence"],
        "truncated": True,
    }


def encode(message: Mapping[str, Any]) -> bytes:
    return json.dumps(
        message, separators=(",", ":"), ensure_ascii=False, allow_nan=False, sort_keys=True
    ).encode("utf-8")


def encode_message(record: StreamRecord) -> tuple[bytes, bool]:
    """The UTF-8 payload for ``record`` and whether it had to be truncated to the slim envelope."""
    message = build_message(record)
    data = encode(message)
    if len(data) <= MAX_PAYLOAD_BYTES:
        return data, False
    return encode(slim_envelope(message)), True


# --------------------------------------------------------------------------------------------
# Delivery
# --------------------------------------------------------------------------------------------
class Outcome(Enum):
    """What happened to one message for one connection."""

    DELIVERED = "delivered"
    GONE = "gone"  # 410: the connection is closed; its row is deleted
    CLIENT_ERROR = "client_error"  # 4xx about this message/connection (413, 400): logged, skipped
    UNREACHABLE = "unreachable"  # network, auth, 429 or 5xx after every attempt
    AFTER_GONE = "after_gone"  # not attempted: the connection was gone
    AFTER_UNREACHABLE = "after_unreachable"  # not attempted: keeps this connection's order
    DEADLINE = "deadline"  # not attempted: the invocation was running out of time


# Outcomes that prove the management API answered for this connection (nothing to retry).
REACHED = frozenset({Outcome.DELIVERED, Outcome.GONE, Outcome.CLIENT_ERROR, Outcome.AFTER_GONE})

_AUTH_CODES = frozenset(
    {"ForbiddenException", "AccessDeniedException", "UnrecognizedClientException"}
)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with full jitter (sleep uniform in [0, min(cap, base*2^n)])."""

    max_attempts: int = 4
    base_delay: float = 0.1
    max_delay: float = 2.0
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = random.random

    def delay(self, retry: int) -> float:
        return self.jitter() * min(self.max_delay, self.base_delay * (2**retry))


@dataclass
class ConnectionReport:
    connection_id: str
    outcomes: list[Outcome] = field(default_factory=list)
    attempts: int = 0
    retries: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    row_deleted: bool = False


class Delivery:
    """Posts one batch's messages to connections; one instance per invocation."""

    def __init__(
        self,
        management: BaseClient,
        dynamodb: BaseClient,
        *,
        table: str,
        policy: RetryPolicy,
        deadline: float,
    ) -> None:
        self.management = management
        self.dynamodb = dynamodb
        self.table = table
        self.policy = policy
        self.deadline = deadline  # time.monotonic() value

    def to_connection(self, connection_id: str, messages: Sequence[bytes]) -> ConnectionReport:
        """Post ``messages`` to one connection, in order; stop at gone/unreachable."""
        report = ConnectionReport(connection_id)
        stopped: Outcome | None = None
        for data in messages:
            if stopped is None and time.monotonic() >= self.deadline:
                stopped = Outcome.DEADLINE
            if stopped is not None:
                report.outcomes.append(stopped)
                continue
            outcome = self._post(connection_id, data, report)
            report.outcomes.append(outcome)
            if outcome is Outcome.GONE:
                self._delete_row(connection_id, report)
                stopped = Outcome.AFTER_GONE
            elif outcome is Outcome.UNREACHABLE:
                stopped = Outcome.AFTER_UNREACHABLE
        return report

    def _post(self, connection_id: str, data: bytes, report: ConnectionReport) -> Outcome:
        for attempt in range(self.policy.max_attempts):
            report.attempts += 1
            try:
                self.management.post_to_connection(ConnectionId=connection_id, Data=data)
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
                report.errors[code or str(status)] += 1
                if code == "GoneException" or status == 410:
                    return Outcome.GONE
                if code in _AUTH_CODES or status in {401, 403}:
                    # IAM or signing trouble: the same for every connection, retrying won't help.
                    self._log_failure(connection_id, code, status, attempt)
                    return Outcome.UNREACHABLE
                if not (code == "LimitExceededException" or status == 429 or status >= 500):
                    # PayloadTooLargeException (413), BadRequestException (400): this message
                    # can never reach this client; skip it, keep the connection.
                    self._log_failure(connection_id, code, status, attempt)
                    return Outcome.CLIENT_ERROR
            except NoCredentialsError:
                report.errors["NoCredentials"] += 1
                self._log_failure(connection_id, "NoCredentials", 0, attempt)
                return Outcome.UNREACHABLE
            except (ConnectionError, HTTPClientError) as error:
                report.errors[type(error).__name__] += 1
            else:
                return Outcome.DELIVERED
            if attempt + 1 < self.policy.max_attempts:
                pause = self.policy.delay(attempt)
                if time.monotonic() + pause >= self.deadline:
                    break
                report.retries += 1
                self.policy.sleep(pause)
        self._log_failure(connection_id, "retries exhausted", 0, report.attempts)
        return Outcome.UNREACHABLE

    def _delete_row(self, connection_id: str, report: ConnectionReport) -> None:
        # A plain DeleteItem: a row already removed by $disconnect or TTL is not an error.
        try:
            self.dynamodb.delete_item(
                TableName=self.table,
                Key=connection_key(connection_id),
            )
        except ClientError as error:
            logger.warning(
                "could not delete a gone connection's row; TTL will",
                extra={"connection_id": connection_id, "error": str(error)},
            )
            return
        report.row_deleted = True

    @staticmethod
    def _log_failure(connection_id: str, code: str, status: int, attempts: int) -> None:
        logger.warning(
            "post_to_connection failed",
            extra={
                "connection_id": connection_id,
                "error_code": code,
                "http_status": status,
                "attempts": attempts,
            },
        )


def list_connections(dynamodb: BaseClient, table: str, now: float) -> list[str]:
    """Every live connection id, reading all Scan pages (one page stops at 1 MB).

    Rows whose ``expiresAt`` has passed are skipped: DynamoDB's TTL deletes lazily, and such a
    connection is closed already (API Gateway's 2 h limit).
    """
    ids: list[str] = []
    paginator = dynamodb.get_paginator("scan")
    for page in paginator.paginate(
        TableName=table,
        ProjectionExpression="pk, expiresAt",
        ConsistentRead=False,
    ):
        for item in page.get("Items", []):
            connection_id = connection_id_from_pk(item.get("pk", {}).get("S", ""))
            if connection_id is None:
                continue
            expires = item.get("expiresAt", {}).get("N")
            if expires is not None and float(expires) <= now:
                continue
            ids.append(connection_id)
    return ids


def fan_out(
    delivery: Delivery, connection_ids: Sequence[str], messages: Sequence[bytes], concurrency: int
) -> list[ConnectionReport]:
    """One task per connection on a bounded pool; each posts ``messages`` in order."""
    if not connection_ids or not messages:
        return []
    workers = max(1, min(concurrency, len(connection_ids)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fanout") as pool:
        return list(pool.map(lambda cid: delivery.to_connection(cid, messages), connection_ids))


def failed_message_indexes(reports: Sequence[ConnectionReport], message_count: int) -> list[int]:
    """Indexes of messages that must be retried.

    A message fails when every connection's outcome for it is unreachable (the management API
    could not be reached at all) or when any connection missed it because time ran out.
    """
    failed = []
    for index in range(message_count):
        outcomes = [report.outcomes[index] for report in reports]
        if not outcomes:
            continue
        if Outcome.DEADLINE in outcomes or not any(o in REACHED for o in outcomes):
            failed.append(index)
    return failed


# --------------------------------------------------------------------------------------------
# Batch
# --------------------------------------------------------------------------------------------
def broadcast(
    event: Mapping[str, Any],
    cfg: BroadcastConfig,
    *,
    management: BaseClient,
    dynamodb: BaseClient,
    deadline: float,
    policy: RetryPolicy | None = None,
) -> dict[str, list[dict[str, str]]]:
    """Deliver one stream batch; return the partial batch response."""
    policy = policy or RetryPolicy(max_attempts=cfg.max_attempts)
    raw_records = batch_records(event)
    sequences = [sequence_number(raw) or "" for raw in raw_records]
    failed_positions: set[int] = set()
    positions: list[int] = []  # batch position of each message
    messages: list[bytes] = []
    truncated = 0
    for position, raw in enumerate(raw_records):
        try:
            record = parse_record(raw)
        except MalformedRecordError as error:
            logger.error(
                "malformed stream record reported failed",
                extra={"sequence": sequences[position], "error": str(error)},
            )
            failed_positions.add(position)
            continue
        if record.event_name == "REMOVE":
            continue
        data, was_truncated = encode_message(record)
        truncated += was_truncated
        if was_truncated:
            logger.info(
                "message over the payload limit sent as a slim envelope",
                extra={"event_id": record.event_id, "sequence": record.sequence},
            )
        positions.append(position)
        messages.append(data)

    connection_ids = list_connections(dynamodb, cfg.table, time.time())
    delivery = Delivery(management, dynamodb, table=cfg.table, policy=policy, deadline=deadline)
    reports = fan_out(delivery, connection_ids, messages, cfg.concurrency)
    failed_messages = failed_message_indexes(reports, len(messages))
    if failed_messages:
        first = positions[failed_messages[0]]
        failed_positions.update(range(first, len(raw_records)))
        logger.error(
            "fan-out could not reach the management API; reporting the rest of the batch failed",
            extra={"first_failed_sequence": sequences[first]},
        )

    _log_summary(reports, len(raw_records), len(messages), truncated, failed_positions)
    return {
        "batchItemFailures": [
            {"itemIdentifier": sequences[position]} for position in sorted(failed_positions)
        ]
    }


def _log_summary(
    reports: Sequence[ConnectionReport],
    records: int,
    messages: int,
    truncated: int,
    failed: set[int],
) -> None:
    outcomes: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for report in reports:
        outcomes.update(outcome.value for outcome in report.outcomes)
        errors.update(report.errors)
    logger.info(
        "fan-out finished",
        extra={
            "records": records,
            "messages": messages,
            "truncated": truncated,
            "connections": len(reports),
            "outcomes": dict(outcomes),
            "errors": dict(errors),
            "retries": sum(report.retries for report in reports),
            "rows_deleted": sum(report.row_deleted for report in reports),
            "failed_records": len(failed),
        },
    )


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, list[dict[str, str]]]:
    cfg = get_config()
    remaining = context.get_remaining_time_in_millis() / 1000.0
    deadline = time.monotonic() + remaining - min(DEADLINE_MARGIN_SECONDS, remaining / 4)
    return broadcast(
        event,
        cfg,
        management=aws.management_api_client(cfg.callback_url, cfg.concurrency),
        dynamodb=aws.dynamodb_client(cfg.concurrency),
        deadline=deadline,
    )
