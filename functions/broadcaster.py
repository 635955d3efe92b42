"""Fan Incidents stream changes out to every open WebSocket connection.

Handler string: ``broadcaster.handler`` (a DynamoDB stream event source mapping with
``ReportBatchItemFailures``). Environment (functions/README.md has the table):
``CONNECTIONS_TABLE``, ``WS_CALLBACK_URL`` (required), ``FANOUT_CONCURRENCY``,
``POST_MAX_ATTEMPTS``, ``FANOUT_RATE``, ``FANOUT_WORKER_FUNCTION``, ``FANOUT_WORKER_THRESHOLD``,
``FANOUT_MAX_WORKERS``, ``ROLE_VIEWS``, ``STATE_TABLE``, ``STATE_RETENTION_SECONDS``,
``CLOSED_STATUSES``, ``LOG_LEVEL``, ``POWERTOOLS_SERVICE_NAME``.

Delivery model (functions/README.md has the full contract):

* First, every record's state goes to the state table (``realtime_common.state``): one
  conditional write per incident (the batch's newest record of it), all at once, so a client that
  syncs after a live message never sees older state. A record whose state could not be stored is
  not sent; it and every record after it are reported failed.

* INSERT/MODIFY records become one JSON message each per role-based view (``ROLE_VIEWS``: each
  role gets the whole incident or an allow-list of its attributes; roles sharing a view share the
  encoding, so a record is encoded once per distinct view, never per connection); a connection
  whose role has no view gets nothing. A REMOVE record becomes one ``incident.removed`` message
  (keys, eventId, sequence; no incident) for every view. Each view's messages are
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
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any

from realtime_common import aws, config, metrics, state
from realtime_common.fanout import engine
from realtime_common.fanout.config import DEFAULT_RATE, MAX_RATE, FanoutConfig
from realtime_common.fanout.frames import MAX_PAYLOAD_BYTES, batch_frame, spans
from realtime_common.fanout.schedule import Failure, FrameTally, first_failure
from realtime_common.fanout.table import row_deleter, scan_connections
from realtime_common.fanout.views import RoleViews, View, project
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

MESSAGE_VERSION = 1
__all__ = ["MAX_PAYLOAD_BYTES", "BroadcastConfig", "broadcast", "handler"]


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
def get_state_writer() -> state.Writer:
    """The state table's writer: settings read once, the client and the thread pool of the
    concurrent writes created once per execution environment."""
    return state.Writer(
        client=aws.dynamodb_client(state.WRITE_CONCURRENCY),
        settings=state.incident_state(os.environ),
        executor=ThreadPoolExecutor(state.WRITE_CONCURRENCY, thread_name_prefix="state"),
    )


@functools.cache
def get_metrics() -> AmazonCloudWatchEMFProvider:
    """The metrics emitter (realtime_common.metrics, ``function=broadcaster``), built once."""
    return metrics.make_metrics("broadcaster", os.environ)


# --------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------
def build_message(record: StreamRecord, view: View = None) -> dict[str, Any]:
    """The message clients receive for an INSERT or MODIFY record (README: message contract);
    ``view`` is the role's allow-list of incident attributes (None: the whole incident)."""
    return {
        "version": MESSAGE_VERSION,
        "type": "incident.created" if record.event_name == "INSERT" else "incident.updated",
        "incident": project(record.new_image, view),
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


def encode_message(record: StreamRecord, view: View = None) -> tuple[bytes, bool]:
    """The UTF-8 payload for ``record`` and whether it had to be truncated to the slim envelope."""
    message = build_message(record, view)
    data = encode(message)
    if len(data) <= MAX_PAYLOAD_BYTES:
        return data, False
    return encode(slim_envelope(message)), True


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


# What this execution environment remembers of its last batch that ran out of time: for each
# frame it did not complete (keyed by the endpoint and the event ids the frame carries), the
# connections that need it no more. Lambda re-sends a failed batch from the first failed record,
# so the same frames come back; when the retry lands here (the usual case: one invocation at a
# time per shard), it skips those connections and goes on from where the last one stopped.
_retry_ledger: dict[tuple[str, ...], frozenset[str]] = {}


def _warn(message: str, extra: dict[str, Any]) -> None:
    logger.warning(message, extra=extra)


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
    policy = policy or engine.RetryPolicy(max_attempts=cfg.fanout.max_attempts)
    raw_records = batch_records(event)
    sequences = [sequence_number(raw) or "" for raw in raw_records]
    failed_positions: set[int] = set()
    positions: list[int] = []  # batch position of each message
    audiences = cfg.views.audiences
    messages: list[list[bytes]] = [[] for _ in audiences]  # per audience, one per record
    event_ids: list[str] = []
    truncated = 0
    parsed: list[tuple[int, Mapping[str, Any], StreamRecord]] = []
    for position, raw in enumerate(raw_records):
        try:
            parsed.append((position, raw, parse_record(raw)))
        except MalformedRecordError as error:
            logger.error(
                "malformed stream record reported failed",
                extra={"sequence": sequences[position], "error": str(error)},
            )
            failed_positions.add(position)
    stored = None if writer is None else _store_state(writer, parsed, sequences, failed_positions)
    for position, _, record in parsed:
        if position in failed_positions:  # never fan out a record whose state is not stored
            continue
        encoded, any_truncated = _encode_for_views(record, audiences)
        for audience_messages, data in zip(messages, encoded, strict=True):
            audience_messages.append(data)
        truncated += any_truncated
        if any_truncated:
            logger.info(
                "message over the payload limit sent as a slim envelope",
                extra={"event_id": record.event_id, "sequence": record.sequence},
            )
        positions.append(position)
        event_ids.append(record.event_id)

    # Frame k carries the same records for every audience: group by each record's largest
    # encoding, so the per-frame tallies still map to records.
    groups = spans([max(len(m[i]) for m in messages) for i in range(len(event_ids))])
    frames = [
        [batch_frame(audience[first : first + count]) for first, count in groups]
        for audience in messages
    ]
    keys = [(cfg.fanout.callback_url, *event_ids[first : first + count]) for first, count in groups]
    summary: dict[str, Any] = {
        "records": len(raw_records),
        "messages": len(event_ids),
        "frames": len(groups),
        "views": len(audiences),
        "truncated": truncated,
    }
    if stored is not None:
        summary["state"] = stored.as_dict()
    tallies: list[FrameTally] = []
    started = time.monotonic()  # the Scan starts the fan-out
    if groups:
        tallies = _deliver(
            cfg,
            clients,
            frames,
            keys=keys,
            deadline=deadline,
            policy=policy,
            summary=summary,
        )
    summary["duration_ms"] = round((time.monotonic() - started) * 1000, 1) if groups else 0.0
    if emitter is not None:
        _record_fanout(emitter, summary)
    failure = first_failure(tallies)
    if failure is not None:
        frame_index, why = failure
        first = positions[groups[frame_index][0]]
        failed_positions.update(range(first, len(raw_records)))
        logger.error(
            f"fan-out incomplete: {why.value}; reporting the rest of the batch failed",
            extra={
                "reason": why.name.lower(),
                "first_failed_sequence": sequences[first],
                "frame": frame_index,
                "tally": tallies[frame_index].as_dict(),
            },
        )
    summary["failed_records"] = len(failed_positions)
    logger.info("fan-out finished", extra=summary)
    return {
        "batchItemFailures": [
            {"itemIdentifier": sequences[position]} for position in sorted(failed_positions)
        ]
    }


def _encode_for_views(record: StreamRecord, views: Sequence[View]) -> tuple[list[bytes], bool]:
    """One payload per view (once per view, not per connection) and whether any was truncated.
    A REMOVE record is the same ``incident.removed`` message for every view."""
    if record.event_name == "REMOVE":
        removed = encode(state.removed_message(record.keys, record.event_id, record.sequence))
        return [removed] * len(views), False
    encoded = [encode_message(record, view) for view in views]
    return [data for data, _ in encoded], any(was_truncated for _, was_truncated in encoded)


def _store_state(
    writer: state.Writer,
    parsed: list[tuple[int, Mapping[str, Any], StreamRecord]],
    sequences: list[str],
    failed_positions: set[int],
) -> state.BatchStored:
    """Store the batch's state before anything is sent; mark what may not be fanned out."""
    stored = state.store_batch(writer, parsed)
    for position in stored.malformed:
        logger.error(
            "stream record that cannot be stored as state reported failed",
            extra={"sequence": sequences[position]},
        )
    failed_positions.update(stored.malformed)
    if stored.first_failed is not None:
        failed_positions.update(range(stored.first_failed, len(sequences)))
        logger.error(
            "state not stored; reporting the rest of the batch failed, nothing of it is sent",
            extra={
                "first_failed_sequence": sequences[stored.first_failed],
                "errors": dict(list(stored.failed.items())[:5]),
                "state": stored.as_dict(),
            },
        )
    return stored


def _record_fanout(emitter: AmazonCloudWatchEMFProvider, summary: Mapping[str, Any]) -> None:
    outcomes: Mapping[str, int] = summary.get("outcomes", {})
    metrics.record_fanout(
        emitter,
        delivered=int(outcomes.get("delivered", 0)),  # answered 2xx
        gone=int(outcomes.get("gone", 0)),  # answered 410 (never retried)
        removed=int(summary.get("rowsDeleted", 0)),
        throttled=int(summary.get("throttled", 0)),
        retried=int(summary.get("retries", 0)),
        connections=int(summary.get("connections", 0)),
        duration_ms=float(summary["duration_ms"]),
    )


def _deliver(
    cfg: BroadcastConfig,
    clients: Clients,
    frames: list[list[bytes]],
    *,
    keys: list[tuple[str, ...]],
    deadline: float,
    policy: engine.RetryPolicy,
    summary: dict[str, Any],
) -> list[FrameTally]:
    scan = scan_connections(clients.dynamodb, cfg.table, time.time())
    limit = cfg.worker_threshold if cfg.worker_function or clients.invoke_worker else None
    rows = list(scan if limit is None else islice(scan, limit + 1))
    roles = cfg.views.audience_of()
    if limit is not None and len(rows) > limit:
        return _deliver_with_workers(
            cfg, clients, frames, roles=roles, deadline=deadline, seen=len(rows), summary=summary
        )
    ids: list[str] = []
    audiences: list[int] = []
    without_view: Counter[str] = Counter()
    for connection_id, role in rows:
        audience = roles.get(role)
        if audience is None:
            without_view[role] += 1
            continue
        ids.append(connection_id)
        audiences.append(audience)
    del rows
    if without_view:
        logger.warning(
            "connections whose role has no view get nothing",
            extra={"connections_by_role": dict(without_view.most_common(20))},
        )
    summary["connections"] = len(ids)
    summary["without_view"] = sum(without_view.values())
    already = [_retry_ledger.get(key, frozenset()) for key in keys]
    result = engine.fan_out(
        ids,
        frames,
        engine.Settings(cfg.fanout.concurrency, cfg.rate, policy, transport=cfg.fanout.transport),
        callback_url=cfg.fanout.callback_url,
        credentials=clients.credentials,
        region=clients.region,
        deadline=deadline,
        delete_row=row_deleter(clients.dynamodb, cfg.table, _warn),
        log_failure=_warn,
        already=already,
        audiences=audiences,
    )
    summary.update(result.stats.as_dict())
    _retry_ledger.clear()
    failure = first_failure(result.tallies)
    if failure is not None and failure[1] is Failure.TIME:
        for index in range(failure[0], len(keys)):
            _retry_ledger[keys[index]] = frozenset(result.done[index])
    return result.tallies


def _deliver_with_workers(
    cfg: BroadcastConfig,
    clients: Clients,
    frames: list[list[bytes]],
    *,
    roles: dict[str, int],
    deadline: float,
    seen: int,
    summary: dict[str, Any],
) -> list[FrameTally]:
    from realtime_common.fanout import workers  # noqa: PLC0415 (only large audiences need it)

    estimate = max(seen, clients.item_count() if clients.item_count else 0)
    segments = workers.segment_count(estimate, cfg.worker_threshold, cfg.max_workers)
    invoke = clients.invoke_worker or workers.lambda_invoker(
        aws.lambda_client(cfg.max_workers), cfg.worker_function or ""
    )
    # Workers must answer before this invocation's own deadline: half a second for the reply.
    deadline_epoch = time.time() + (deadline - time.monotonic()) - 0.5
    run = workers.run_workers(
        invoke,
        frames,
        segments,
        roles=roles,
        rate=cfg.rate,
        deadline_epoch=deadline_epoch,
        max_attempts=cfg.fanout.max_attempts,
        warn=_warn,
    )
    stats = engine.Stats()
    for part in run.stats:
        stats.add(part)
    summary.update(stats.as_dict())
    summary.update(
        {"connections": run.connections, "workers": segments, "failed_workers": run.failed_workers}
    )
    return run.tallies


def _table_item_count(dynamodb: DynamoDBClient, table: str) -> Callable[[], int]:
    # DescribeTable's ItemCount is refreshed about every six hours: good enough to size segments.
    return lambda: int(dynamodb.describe_table(TableName=table)["Table"].get("ItemCount", 0))


def deadline_for(remaining_seconds: float, now: float) -> float:
    """The ``time.monotonic()`` by which delivery stops.

    Every post's timeout is clipped to this deadline (realtime_common.fanout.engine), so the
    margin only has to cover summarising and returning: a tenth of the time, at most one second.
    That holds for every function timeout Terraform accepts (1-900 s).
    """
    return now + remaining_seconds - min(1.0, remaining_seconds / 10)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, list[dict[str, str]]]:
    cfg = get_config()
    deadline = deadline_for(context.get_remaining_time_in_millis() / 1000.0, time.monotonic())
    dynamodb = aws.dynamodb_client(8)
    clients = Clients(
        dynamodb=dynamodb,
        credentials=aws.credentials_source(),
        region=engine.region_of(cfg.fanout.callback_url, aws.region()),
        item_count=_table_item_count(dynamodb, cfg.table),
    )
    emitter = get_metrics()
    try:
        response = broadcast(
            event, cfg, clients, deadline=deadline, emitter=emitter, writer=get_state_writer()
        )
        metrics.record_failed_records(emitter, len(response["batchItemFailures"]))
        return response
    finally:
        metrics.flush(emitter)
