"""Fan Incidents stream changes out to every open WebSocket connection.

Handler string: ``broadcaster.handler`` (a DynamoDB stream event source mapping with
``ReportBatchItemFailures``). Environment (functions/README.md has the table):
``CONNECTIONS_TABLE``, ``WS_CALLBACK_URL`` (required), ``FANOUT_CONCURRENCY``,
``POST_MAX_ATTEMPTS``, ``FANOUT_RATE``, ``FANOUT_WORKER_FUNCTION``, ``FANOUT_WORKER_THRESHOLD``,
``FANOUT_MAX_WORKERS``, ``ROLE_VIEWS``, ``LOG_LEVEL``, ``POWERTOOLS_SERVICE_NAME``.

Delivery model (functions/README.md has the full contract):

* INSERT/MODIFY records become one JSON message each per role-based view (``ROLE_VIEWS``: each
  role gets the whole incident or an allow-list of its attributes; roles sharing a view share the
  encoding, so a record is encoded once per distinct view, never per connection); a connection
  whose role has no view gets nothing. REMOVE records are ignored. Each view's messages are
  packed, in stream order, into as few frames of at most 128 KB as fit (one message alone is sent
  as itself; several as a ``batch`` frame); frame k carries the same records for every view.
* Frames go to connections frame-major with per-connection order (``realtime_common.fanout``):
  a frame completes for every reachable connection before later frames compete with it, so a
  batch that runs out of time still moves Lambda's checkpoint past the frames that completed.
* Posts are asynchronous over one keep-alive HTTP pool (``realtime_common.fanout.wire``),
  signed with SigV4 from the function's credentials, paced by ``FANOUT_RATE``; 410 deletes the
  row; 429, 5xx and network errors are retried with full-jitter backoff, bounded by
  ``POST_MAX_ATTEMPTS``.
* More than ``FANOUT_WORKER_THRESHOLD`` connections (and ``FANOUT_WORKER_FUNCTION`` set): the
  audience is split into parallel Scan segments, one synchronous worker invocation each, and their
  tallies are merged.
* The first frame that did not complete (time ran out, the management API unreachable for every
  connection, a worker failed) and every record from its first one on are reported in
  ``batchItemFailures``. A malformed record is reported failed on its own.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any

from realtime_common import aws, config, metrics
from realtime_common.fanout import delivery, engine
from realtime_common.fanout.audience import split, warner
from realtime_common.fanout.config import DEFAULT_RATE, MAX_RATE, FanoutConfig
from realtime_common.fanout.frames import MAX_PAYLOAD_BYTES, batch_frame, spans
from realtime_common.fanout.ledger import FrameKey, RetryLedger
from realtime_common.fanout.messages import build_message, encode_message
from realtime_common.fanout.schedule import FrameTally, first_failure
from realtime_common.fanout.table import row_deleter, scan_connections
from realtime_common.fanout.views import RoleViews
from realtime_common.logs import make_logger
from realtime_common.stream import (
    MalformedRecordError,
    StreamRecord,
    batch_records,
    parse_record,
    sequence_number,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
        AmazonCloudWatchEMFProvider,
    )
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_dynamodb import DynamoDBClient

    from realtime_common.fanout.sigv4 import CredentialsSource
    from realtime_common.fanout.workers import Invoke

logger = make_logger()

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "BroadcastConfig",
    "broadcast",
    "build_message",
    "encode_message",
    "handler",
]


@dataclass(frozen=True)
class BroadcastConfig:
    fanout: FanoutConfig
    rate: int
    worker_function: str | None
    worker_threshold: int
    max_workers: int
    views: RoleViews = field(default_factory=lambda: RoleViews.from_env({}))

    @property
    def table(self) -> str:
        return self.fanout.table

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> BroadcastConfig:
        worker = config.optional_str(env, "FANOUT_WORKER_FUNCTION", "")
        return cls(
            fanout=FanoutConfig.from_env(env),
            rate=config.bounded_int(env, "FANOUT_RATE", DEFAULT_RATE, 1, MAX_RATE),
            worker_function=worker or None,
            worker_threshold=config.bounded_int(
                env, "FANOUT_WORKER_THRESHOLD", 10_000, 1, 10_000_000
            ),
            max_workers=config.bounded_int(env, "FANOUT_MAX_WORKERS", 10, 2, 1000),
            views=RoleViews.from_env(env),
        )


@functools.cache
def get_config() -> BroadcastConfig:
    """Configuration, read and validated once per execution environment."""
    return BroadcastConfig.from_env(os.environ)


@functools.cache
def get_metrics() -> AmazonCloudWatchEMFProvider:
    """The metrics emitter (realtime_common.metrics, ``function=broadcaster``), built once."""
    return metrics.make_metrics("broadcaster", os.environ)


# --------------------------------------------------------------------------------------------
# Batch
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Clients:
    """What ``broadcast`` talks to; tests and the benchmark pass their own."""

    dynamodb: DynamoDBClient
    credentials: CredentialsSource
    region: str
    invoke_worker: Invoke | None = None
    item_count: Callable[[], int] | None = None


@dataclass
class Batch:
    """A stream batch parsed into what is delivered: each record's message for each audience."""

    sequences: list[str]  # per record of the batch ("" when a record has none)
    records: list[tuple[int, StreamRecord]] = field(default_factory=list)  # well-formed, in order
    malformed: set[int] = field(default_factory=set)  # batch positions reported failed
    positions: list[int] = field(default_factory=list)  # batch position of each message
    event_ids: list[str] = field(default_factory=list)  # of each message
    messages: list[list[bytes]] = field(default_factory=list)  # per audience, one per message
    truncated: int = 0  # messages sent as a slim envelope


@dataclass
class Delivery:
    """What the fan-out of one batch did, in this invocation or through workers."""

    tallies: list[FrameTally]
    stats: engine.Stats
    connections: int
    without_view: int | None = None  # in this invocation: connections whose role has no view
    workers: int | None = None  # through workers: how many, and how many failed
    failed_workers: int | None = None


@dataclass(frozen=True)
class BroadcastResult:
    """One batch's outcome: the partial batch response, the log line and the metrics."""

    batch: Batch
    views: int
    frames: int
    delivery: Delivery | None  # None: nothing to send
    duration_ms: float
    failed: tuple[int, ...]  # batch positions reported failed, in order

    def response(self) -> dict[str, list[dict[str, str]]]:
        return {
            "batchItemFailures": [
                {"itemIdentifier": self.batch.sequences[position]} for position in self.failed
            ]
        }

    def log_fields(self) -> dict[str, Any]:
        """The ``fan-out finished`` line's fields."""
        fields: dict[str, Any] = {
            "records": len(self.batch.sequences),
            "messages": len(self.batch.event_ids),
            "frames": self.frames,
            "views": self.views,
            "truncated": self.batch.truncated,
        }
        sent = self.delivery
        if sent is not None:
            fields["connections"] = sent.connections
            if sent.without_view is not None:
                fields["without_view"] = sent.without_view
            fields.update(sent.stats.as_dict())
            if sent.workers is not None:
                fields["workers"] = sent.workers
                fields["failed_workers"] = sent.failed_workers
        fields["duration_ms"] = self.duration_ms
        fields["failed_records"] = len(self.failed)
        return fields


# Frames of this environment's last batch that ran out of time, and who got them already.
retry_ledger = RetryLedger()
warn = warner(logger)


def broadcast(
    event: Mapping[str, Any],
    cfg: BroadcastConfig,
    clients: Clients,
    *,
    deadline: float,
    policy: engine.RetryPolicy | None = None,
    emitter: AmazonCloudWatchEMFProvider | None = None,
) -> dict[str, list[dict[str, str]]]:
    """Deliver one stream batch by ``deadline`` (``time.monotonic()``); the partial response.

    With ``emitter``, the fan-out's counts are added to it (``metrics.record_fanout``), zeros
    included, whether or not there was anything to send.
    """
    batch = parse_batch(event, cfg.views)
    # Steps that must see every record before any client does go here, between parsing and
    # delivering (they report their failures in ``batch.malformed``'s way: by batch position).
    result = deliver_batch(
        batch,
        cfg,
        clients,
        deadline=deadline,
        policy=policy or engine.RetryPolicy(max_attempts=cfg.fanout.max_attempts),
    )
    if emitter is not None:
        _record_fanout(emitter, result)
    logger.info("fan-out finished", extra=result.log_fields())
    return result.response()


def parse_batch(event: Mapping[str, Any], views: RoleViews) -> Batch:
    """Each record's message for each audience (encoded once per view, never per connection);
    malformed records are logged and kept aside, REMOVE records send nothing."""
    raw_records = batch_records(event)
    batch = Batch(sequences=[sequence_number(raw) or "" for raw in raw_records])
    batch.messages = [[] for _ in views.audiences]
    for position, raw in enumerate(raw_records):
        try:
            record = parse_record(raw)
        except MalformedRecordError as error:
            logger.error(
                "malformed stream record reported failed",
                extra={"sequence": batch.sequences[position], "error": str(error)},
            )
            batch.malformed.add(position)
            continue
        batch.records.append((position, record))
        if record.event_name == "REMOVE":
            continue
        any_truncated = False
        for audience, view in enumerate(views.audiences):
            data, was_truncated = encode_message(record, view)
            batch.messages[audience].append(data)
            any_truncated |= was_truncated
        if any_truncated:
            batch.truncated += 1
            logger.info(
                "message over the payload limit sent as a slim envelope",
                extra={"event_id": record.event_id, "sequence": record.sequence},
            )
        batch.positions.append(position)
        batch.event_ids.append(record.event_id)
    return batch


def deliver_batch(
    batch: Batch,
    cfg: BroadcastConfig,
    clients: Clients,
    *,
    deadline: float,
    policy: engine.RetryPolicy,
) -> BroadcastResult:
    """Pack the batch's messages into frames, deliver them, and say which records failed."""
    # Frame k carries the same records for every audience: group by each record's largest
    # encoding, so the per-frame tallies still map to records.
    messages = batch.messages
    groups = spans([max(len(m[i]) for m in messages) for i in range(len(batch.event_ids))])
    sent: Delivery | None = None
    started = time.monotonic()  # the Scan starts the fan-out
    if groups:
        frames = [
            [batch_frame(audience[first : first + count]) for first, count in groups]
            for audience in messages
        ]
        keys = [
            (cfg.fanout.callback_url, *batch.event_ids[first : first + count])
            for first, count in groups
        ]
        sent = _deliver(cfg, clients, frames, keys=keys, deadline=deadline, policy=policy)
    duration_ms = round((time.monotonic() - started) * 1000, 1) if groups else 0.0
    failed = set(batch.malformed)
    failure = first_failure(sent.tallies) if sent is not None else None
    if sent is not None and failure is not None:
        frame_index, why = failure
        first = batch.positions[groups[frame_index][0]]
        failed.update(range(first, len(batch.sequences)))
        logger.error(
            f"fan-out incomplete: {why.value}; reporting the rest of the batch failed",
            extra={
                "reason": why.name.lower(),
                "first_failed_sequence": batch.sequences[first],
                "frame": frame_index,
                "tally": sent.tallies[frame_index].as_dict(),
            },
        )
    return BroadcastResult(
        batch=batch,
        views=len(messages),
        frames=len(groups),
        delivery=sent,
        duration_ms=duration_ms,
        failed=tuple(sorted(failed)),
    )


def _record_fanout(emitter: AmazonCloudWatchEMFProvider, result: BroadcastResult) -> None:
    sent = result.delivery
    stats = sent.stats if sent is not None else engine.Stats()
    metrics.record_fanout(
        emitter,
        delivered=stats.outcomes["delivered"],  # answered 2xx
        gone=stats.outcomes["gone"],  # answered 410 (never retried)
        removed=stats.rows_deleted,
        throttled=stats.throttled,
        retried=stats.retries,
        connections=sent.connections if sent is not None else 0,
        duration_ms=result.duration_ms,
    )


def _deliver(
    cfg: BroadcastConfig,
    clients: Clients,
    frames: list[list[bytes]],
    *,
    keys: list[FrameKey],
    deadline: float,
    policy: engine.RetryPolicy,
) -> Delivery:
    scan = scan_connections(clients.dynamodb, cfg.table, time.time())
    limit = cfg.worker_threshold if cfg.worker_function or clients.invoke_worker else None
    rows = list(scan if limit is None else islice(scan, limit + 1))
    roles = cfg.views.audience_of()
    if limit is not None and len(rows) > limit:
        return _deliver_with_workers(
            cfg, clients, frames, roles=roles, deadline=deadline, seen=len(rows)
        )
    audience = split(rows, roles, warn)
    del rows
    result = delivery.fan_out(
        audience.ids,
        frames,
        engine.Settings(cfg.fanout.concurrency, cfg.rate, policy),
        callback_url=cfg.fanout.callback_url,
        credentials=clients.credentials,
        region=clients.region,
        deadline=deadline,
        delete_row=row_deleter(clients.dynamodb, cfg.table, warn),
        log_failure=warn,
        already=retry_ledger.already(keys),
        audiences=audience.audiences,
    )
    retry_ledger.remember(keys, result)
    return Delivery(
        result.tallies,
        result.stats,
        connections=len(audience.ids),
        without_view=audience.without_view,
    )


def _deliver_with_workers(
    cfg: BroadcastConfig,
    clients: Clients,
    frames: list[list[bytes]],
    *,
    roles: dict[str, int],
    deadline: float,
    seen: int,
) -> Delivery:
    from realtime_common.fanout import workers  # noqa: PLC0415 (only large audiences need it)

    estimate = max(seen, clients.item_count() if clients.item_count else 0)
    segments = workers.segment_count(estimate, cfg.worker_threshold, cfg.max_workers)
    invoke = clients.invoke_worker or workers.lambda_invoker(
        aws.lambda_client(cfg.max_workers), cfg.worker_function or ""
    )
    run = workers.run_workers(
        invoke,
        frames,
        segments,
        roles=roles,
        rate=cfg.rate,
        deadline_epoch=workers.answer_by(deadline),
        max_attempts=cfg.fanout.max_attempts,
        warn=warn,
    )
    stats = engine.Stats()
    for part in run.stats:
        stats.add(part)
    return Delivery(
        run.tallies,
        stats,
        connections=run.connections,
        workers=segments,
        failed_workers=run.failed_workers,
    )


def _table_item_count(dynamodb: DynamoDBClient, table: str) -> Callable[[], int]:
    # DescribeTable's ItemCount is refreshed about every six hours: good enough to size segments.
    return lambda: int(dynamodb.describe_table(TableName=table)["Table"].get("ItemCount", 0))


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, list[dict[str, str]]]:
    cfg = get_config()
    deadline = delivery.deadline_for(
        context.get_remaining_time_in_millis() / 1000.0, time.monotonic()
    )
    dynamodb = aws.dynamodb_client(8)
    clients = Clients(
        dynamodb=dynamodb,
        credentials=aws.credentials_source(),
        region=delivery.region_of(cfg.fanout.callback_url, aws.region()),
        item_count=_table_item_count(dynamodb, cfg.table),
    )
    emitter = get_metrics()
    try:
        response = broadcast(event, cfg, clients, deadline=deadline, emitter=emitter)
        metrics.record_failed_records(emitter, len(response["batchItemFailures"]))
        return response
    finally:
        metrics.flush(emitter)
