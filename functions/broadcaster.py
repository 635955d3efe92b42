"""Fan Incidents stream changes out to every open WebSocket connection.

Handler string: ``broadcaster.handler`` (a DynamoDB stream event source mapping with
``ReportBatchItemFailures``). Environment (functions/README.md has the table):
``CONNECTIONS_TABLE``, ``WS_CALLBACK_URL`` (required), ``FANOUT_CONCURRENCY``,
``POST_MAX_ATTEMPTS``, ``FANOUT_RATE``, ``FANOUT_WORKER_FUNCTION``, ``FANOUT_WORKER_THRESHOLD``,
``FANOUT_MAX_WORKERS``, ``ROLE_VIEWS``, ``FILTER_FIELDS``, ``FILTER_LIMITS``, ``DEFAULT_AREAS``,
``STATE_TABLE``, ``STATE_RETENTION_SECONDS``, ``CLOSED_STATUSES``, ``LOG_LEVEL``,
``POWERTOOLS_SERVICE_NAME``.

Delivery model (functions/README.md owns the full contract; the steps, in order):

1. Store each record's state (``realtime_common.state``): one conditional write per incident, all
   at once, before anything is sent; a record whose state was not stored is not sent.
2. Encode INSERT/MODIFY records once per role view and REMOVE records as ``incident.removed``
   (``realtime_common.fanout.messages``).
3. Group connections by (effective filter, view) and match each distinct filter once per record
   (``realtime_common.fanout.audience``; ``incident.left`` where a record leaves a filter).
4. Post frames of at most 128 KB frame-major over one keep-alive pool, paced by ``FANOUT_RATE``,
   or through parallel fan-out workers above ``FANOUT_WORKER_THRESHOLD`` connections
   (``realtime_common.fanout``).
5. Report the first frame that did not complete, and every record after it, in
   ``batchItemFailures``; a malformed record is reported on its own.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any

from realtime_common import aws, config, filters, metrics, state
from realtime_common.fanout import delivery, engine
from realtime_common.fanout.audience import Change, Encoded, Router, warner
from realtime_common.fanout.batch import Batch, BroadcastResult, Delivery
from realtime_common.fanout.config import FanoutConfig
from realtime_common.fanout.frames import MAX_PAYLOAD_BYTES, spans
from realtime_common.fanout.ledger import FrameKey, RetryLedger
from realtime_common.fanout.messages import (
    build_message,
    encode,
    encode_for_views,
    encode_message,
    left_message,
)
from realtime_common.fanout.schedule import first_failure
from realtime_common.fanout.table import row_deleter, scan_connections
from realtime_common.fanout.views import RoleViews
from realtime_common.logs import make_logger
from realtime_common.stream import (
    MalformedRecordError,
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
    """Terraform sets every variable (its ``fanout`` and ``role_views`` variables own the
    defaults, ranges and allowed values): required here, checked to parse."""

    fanout: FanoutConfig
    views: RoleViews
    rate: int
    max_attempts: int
    worker_function: str | None
    worker_threshold: int
    max_workers: int
    # Subscriptions (Terraform's ``subscriptions`` variable): the filterable fields (what a
    # worker job carries of each image) and the permission of a row written without ``areas``.
    filter_fields: frozenset[str]
    default_areas: filters.Permission

    @property
    def table(self) -> str:
        return self.fanout.table

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> BroadcastConfig:
        return cls(
            fanout=FanoutConfig.from_env(env),
            views=RoleViews.from_env(env),
            rate=config.required_int(env, "FANOUT_RATE"),
            max_attempts=config.required_int(env, "POST_MAX_ATTEMPTS"),
            worker_function=config.required_str(env, "FANOUT_WORKER_FUNCTION"),
            worker_threshold=config.required_int(env, "FANOUT_WORKER_THRESHOLD"),
            max_workers=config.required_int(env, "FANOUT_MAX_WORKERS"),
            filter_fields=filters.FilterSettings.from_env(env).fields,
            default_areas=filters.default_areas(env),
        )


@functools.cache
def get_config() -> BroadcastConfig:
    """Configuration, read and validated once per execution environment."""
    return BroadcastConfig.from_env(os.environ)


@functools.cache
def get_state_writer() -> state.Writer:
    """The state table's writer: settings read once, the client and the thread pool of the
    concurrent writes created once per execution environment."""
    return state.Writer(
        client=aws.state_client(state.WRITE_CONCURRENCY),
        settings=state.incident_state(os.environ),
        executor=ThreadPoolExecutor(state.WRITE_CONCURRENCY, thread_name_prefix="state"),
    )


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
    writer: state.Writer | None = None,
) -> dict[str, list[dict[str, str]]]:
    """Deliver one stream batch by ``deadline`` (``time.monotonic()``); the partial response.

    With ``writer``, every record's state is stored first (``state.store_batch``): a record
    whose state could not be stored is not fanned out, and it and every record after it are
    reported failed. Without it (the benchmark's baseline), no state is written.
    With ``emitter``, the fan-out's counts are added to it (``metrics.record_fanout``), zeros
    included, whether or not there was anything to send.
    """
    batch = parse_batch(event)
    # Steps that must see every record before any client does go here, between parsing and
    # encoding: they add the positions that may not be sent to ``batch.failed``.
    stored = None if writer is None else _store_state(writer, batch)
    encode_batch(batch, cfg.views)
    result = deliver_batch(
        batch,
        cfg,
        clients,
        deadline=deadline,
        policy=policy or engine.RetryPolicy(max_attempts=cfg.max_attempts),
        stored=stored,
    )
    if emitter is not None:
        _record_fanout(emitter, result)
    logger.info("fan-out finished", extra=result.log_fields())
    return result.response()


def parse_batch(event: Mapping[str, Any]) -> Batch:
    """The batch's records parsed; malformed ones logged and reported failed."""
    raw_records = batch_records(event)
    batch = Batch(sequences=[sequence_number(raw) or "" for raw in raw_records])
    for position, raw in enumerate(raw_records):
        try:
            batch.records.append((position, raw, parse_record(raw)))
        except MalformedRecordError as error:
            logger.error(
                "malformed stream record reported failed",
                extra={"sequence": batch.sequences[position], "error": str(error)},
            )
            batch.failed.add(position)
    return batch


def _store_state(writer: state.Writer, batch: Batch) -> state.BatchStored:
    """Store the batch's state before anything is sent; mark what may not be fanned out."""
    sequences = batch.sequences
    stored = state.store_batch(writer, batch.records)
    for position in stored.malformed:
        logger.error(
            "stream record that cannot be stored as state reported failed",
            extra={"sequence": sequences[position]},
        )
    batch.failed.update(stored.malformed)
    if stored.first_failed is not None:
        batch.failed.update(range(stored.first_failed, len(sequences)))
        logger.error(
            "state not stored; reporting the rest of the batch failed, nothing of it is sent",
            extra={
                "first_failed_sequence": sequences[stored.first_failed],
                "errors": dict(list(stored.failed.items())[:5]),
                "state": stored.as_dict(),
            },
        )
    return stored


def encode_batch(batch: Batch, views: RoleViews) -> None:
    """Each record's message for each view, its ``incident.left`` message and what filters
    match on, for the records not reported failed."""
    batch.messages = [[] for _ in views.audiences]
    for position, _, record in batch.records:
        if position in batch.failed:  # never fan out a record whose state is not stored
            continue
        encoded, any_truncated = encode_for_views(record, views.audiences)
        for audience_messages, data in zip(batch.messages, encoded, strict=True):
            audience_messages.append(data)
        if any_truncated:
            batch.truncated += 1
            logger.info(
                "message over the payload limit sent as a slim envelope",
                extra={"event_id": record.event_id, "sequence": record.sequence},
            )
        leaves = record.event_name == "MODIFY" and record.old_image is not None
        batch.left.append(encode(left_message(record)) if leaves else b"")
        batch.changes.append(
            Change(record.event_name == "REMOVE", record.new_image, record.old_image)
        )
        batch.positions.append(position)
        batch.event_ids.append(record.event_id)


def deliver_batch(
    batch: Batch,
    cfg: BroadcastConfig,
    clients: Clients,
    *,
    deadline: float,
    policy: engine.RetryPolicy,
    stored: state.BatchStored | None = None,
) -> BroadcastResult:
    """Pack the batch's messages into frames, deliver them, and say which records failed."""
    # Frame k covers the same records for every audience: group by each record's largest
    # encoding, so the per-frame tallies still map to records.
    messages = batch.messages
    groups = spans(
        [
            max(len(batch.left[i]), *(len(m[i]) for m in messages))
            for i in range(len(batch.event_ids))
        ]
    )
    sent: Delivery | None = None
    started = time.monotonic()  # the Scan starts the fan-out
    if groups:
        encoded = Encoded(messages, batch.left, groups, batch.changes)
        keys = [
            (cfg.fanout.callback_url, *batch.event_ids[first : first + count])
            for first, count in groups
        ]
        sent = _deliver(cfg, clients, encoded, keys=keys, deadline=deadline, policy=policy)
    duration_ms = round((time.monotonic() - started) * 1000, 1) if groups else 0.0
    failed = set(batch.failed)
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
        stored=stored,
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
    encoded: Encoded,
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
            cfg, clients, encoded, roles=roles, deadline=deadline, seen=len(rows)
        )
    audience = Router(encoded, roles, cfg.default_areas, warn).split(rows)
    del rows
    result = delivery.fan_out(
        audience.ids,
        audience.frames,
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
        not_matching=audience.not_matching + audience.invalid,
        audiences=len(audience.frames),
    )


def _deliver_with_workers(
    cfg: BroadcastConfig,
    clients: Clients,
    encoded: Encoded,
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
        Encoded(
            encoded.views,
            encoded.left,
            encoded.groups,
            [change.projected(cfg.filter_fields) for change in encoded.changes],
        ),
        segments,
        roles=roles,
        default_areas=cfg.default_areas,
        rate=cfg.rate,
        deadline_epoch=workers.answer_by(deadline),
        max_attempts=cfg.max_attempts,
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
    emitter = metrics.emitter("broadcaster")
    try:
        response = broadcast(
            event, cfg, clients, deadline=deadline, emitter=emitter, writer=get_state_writer()
        )
        metrics.record_failed_records(emitter, len(response["batchItemFailures"]))
        return response
    finally:
        metrics.flush(emitter)
