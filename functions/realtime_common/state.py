"""The state table: each incident's latest image, written before its change is fanned out.

The schema is a contract between the Broadcaster (writes), the sync function (reads) and
``make backfill`` (writes where nothing newer exists); docs/handlers.md ("State table") has it in
prose. One item per incident:

* ``pk`` = ``"INC#" + incident_id(keys)``, ``sk`` = ``"STATE#"``;
* ``keys`` (M) the stream record's Keys, ``image`` (M) its NewImage (absent on tombstones), both
  typed as DynamoDB stores them;
* ``sequence`` (S) the stream SequenceNumber, ``seqSort`` (S) the same left-padded with zeros to
  48 characters, so that string order is numeric order;
* ``eventId``, ``eventName`` (INSERT|MODIFY|REMOVE|BACKFILL), ``removed`` (BOOL),
  ``changedAt`` (N, epoch milliseconds), ``feed`` (S, ``"F#0"``: the hash key of the ``byChange``
  index, ranged by ``changedAt``);
* ``expiresAt`` (N, epoch seconds, the table's TTL attribute) on tombstones and on incidents whose
  status is one of the closed statuses: ``changedAt`` + the retention. DynamoDB deletes expired
  items lazily (typically within days), so every reader filters with :func:`is_live`.

Every write is conditional (:data:`NEWER_CONDITION`): an older or replayed record (a retry, a
bisected batch, a redrive) never overwrites a newer one, and a backfill item (sequence ``"0"``)
never overwrites a stream record.
"""

from __future__ import annotations

import base64
import decimal
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from realtime_common import config
from realtime_common.stream import MalformedRecordError, StreamRecord, wire_value

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

# --------------------------------------------------------------------------------------------
# Schema (pinned between the Broadcaster, the sync function and the backfill)
# --------------------------------------------------------------------------------------------
PK_PREFIX = "INC#"
SORT_KEY = "STATE#"
FEED = "F#0"
CHANGE_INDEX = "byChange"
TTL_ATTRIBUTE = "expiresAt"
SEQ_SORT_WIDTH = 48
KEY_SEPARATOR = "|"
BACKFILL_SEQUENCE = "0"
BACKFILL_EVENT = "BACKFILL"
STATUS_ATTRIBUTE = "status"
MESSAGE_VERSION = 1

# An item is written only where none exists or where the stored one is older; equal is a
# duplicate (a replayed record) and is refused too.
NEWER_CONDITION = "attribute_not_exists(pk) OR seqSort < :new"

Item = dict[str, "AttributeValueTypeDef"]


class StateWriteError(RuntimeError):
    """A state item could not be stored (throttled after retries, access denied, ...);
    ``code`` is DynamoDB's error code when it answered one."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IncidentState:
    """``STATE_TABLE``, ``STATE_RETENTION_SECONDS`` and ``CLOSED_STATUSES`` (lower-cased).

    Terraform's ``incident_state`` variable owns the defaults and the ranges; this reader
    requires what Terraform sets and checks only that it parses.
    """

    table: str
    retention_seconds: int
    closed_statuses: frozenset[str]


def incident_state(env: Mapping[str, str]) -> IncidentState:
    """Read the state table's settings from ``env``; :class:`config.ConfigError` names the
    variable that is missing or does not parse."""
    table = config.required_str(env, "STATE_TABLE")
    raw_retention = config.required_str(env, "STATE_RETENTION_SECONDS")
    try:
        retention = int(raw_retention)
    except ValueError:
        raise config.ConfigError(
            f"environment variable STATE_RETENTION_SECONDS={raw_retention!r} is not a whole "
            "number of seconds (Terraform sets it from incident_state.retention_seconds)"
        ) from None
    raw_statuses = config.required_str(env, "CLOSED_STATUSES")
    try:
        statuses = json.loads(raw_statuses)
    except json.JSONDecodeError:
        statuses = None
    if not isinstance(statuses, list) or not all(isinstance(s, str) for s in statuses):
        raise config.ConfigError(
            f"environment variable CLOSED_STATUSES={raw_statuses!r} is not a JSON list of "
            'strings such as ["closed", "resolved"] (Terraform sets it from '
            "incident_state.closed_statuses)"
        )
    return IncidentState(table, retention, frozenset(s.lower() for s in statuses))


# --------------------------------------------------------------------------------------------
# Identity and order
# --------------------------------------------------------------------------------------------
def incident_id(keys: Mapping[str, Any]) -> str:
    """The incident id of a record's ``Keys``: the value as text for a one-attribute key, the
    values in attribute-name order joined by ``"|"`` for a composite key.

    ``keys`` may be typed (``{"id": {"S": "INC-1"}}``, as a stream or the state item's ``keys``
    holds them) or plain (``{"id": "INC-1"}``, as messages carry them): key attributes are
    scalars (S, N or B), so a mapping value is always a typed one. Numbers are written in their
    shortest form (``"7"`` for N ``"7.0"``), binaries as base64.
    """
    if not keys:
        raise ValueError("a record's Keys must name at least one attribute")
    return KEY_SEPARATOR.join(_key_text(keys[name]) for name in sorted(keys))


def _key_text(value: object) -> str:
    if isinstance(value, Mapping) and len(value) == 1:
        ((tag, inner),) = value.items()
        if tag == "S" and isinstance(inner, str):
            return inner
        if tag == "N" and isinstance(inner, str):
            return _number_text(decimal.Decimal(inner))
        if tag == "B":
            return _key_text(inner)
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise ValueError(f"a key value cannot be a boolean: {value!r}")
    if isinstance(value, int | float | decimal.Decimal):
        return _number_text(decimal.Decimal(str(value)))
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    raise ValueError(f"not a key value (S, N or B): {value!r:.80}")


def _number_text(number: decimal.Decimal) -> str:
    if not number.is_finite():
        raise ValueError(f"a key number must be finite: {number}")
    if number == number.to_integral_value():
        return str(int(number))
    return format(number.normalize(), "f")


def state_pk(keys: Mapping[str, Any]) -> str:
    return PK_PREFIX + incident_id(keys)


def seq_sort(sequence: str) -> str:
    """``sequence`` left-padded with zeros to 48 characters (string order = numeric order)."""
    if not sequence.isdigit() or len(sequence) > SEQ_SORT_WIDTH:
        raise ValueError(f"a stream sequence number is 1-{SEQ_SORT_WIDTH} digits: {sequence!r}")
    return sequence.zfill(SEQ_SORT_WIDTH)


def is_live(item: Mapping[str, Any], now: float) -> bool:
    """Whether ``item`` has not expired at ``now`` (epoch seconds).

    TTL deletes lazily, so a reader still sees expired items: skip them with this. ``item`` may be
    typed (``{"expiresAt": {"N": "..."}}``) or deserialised (``Decimal``/``int``).
    """
    expires = item.get(TTL_ATTRIBUTE)
    if expires is None:
        return True
    if isinstance(expires, Mapping):
        expires = expires.get("N")
    return decimal.Decimal(str(expires)) > decimal.Decimal(str(now))


# --------------------------------------------------------------------------------------------
# Items
# --------------------------------------------------------------------------------------------
def build_item(
    raw: Mapping[str, Any],
    record: StreamRecord,
    settings: IncidentState,
    now_ms: int,
) -> Item:
    """The state item of one stream record (``raw`` as Lambda delivers it, ``record`` parsed).

    REMOVE makes a tombstone (``removed`` true, no ``image``, ``expiresAt``); an image whose
    ``status`` is one of the closed statuses gets ``expiresAt`` too.
    """
    body = raw["dynamodb"]
    removed = record.event_name == "REMOVE"
    image = None if removed else body.get("NewImage")
    status = None if removed or record.new_image is None else record.new_image.get(STATUS_ATTRIBUTE)
    closing = isinstance(status, str) and status.lower() in settings.closed_statuses
    try:
        return _item(
            keys=body["Keys"],
            image=image,
            sequence=record.sequence,
            event_id=record.event_id,
            event_name=record.event_name,
            now_ms=now_ms,
            expires_after=settings.retention_seconds if removed or closing else None,
        )
    except ValueError as error:
        raise MalformedRecordError(f"record cannot be stored as state: {error}") from error


def backfill_item(
    keys: Item, image: Item, settings: IncidentState, now_ms: int, event_id: str
) -> Item:
    """The state item for an incident read from the Incidents table (sequence ``"0"``: any
    stream record wins over it). ``keys`` and ``image`` are typed, as a Scan returns them."""
    status = image.get(STATUS_ATTRIBUTE, {}).get("S")
    closing = isinstance(status, str) and status.lower() in settings.closed_statuses
    return _item(
        keys=keys,
        image=image,
        sequence=BACKFILL_SEQUENCE,
        event_id=event_id,
        event_name=BACKFILL_EVENT,
        now_ms=now_ms,
        expires_after=settings.retention_seconds if closing else None,
    )


def _item(
    *,
    keys: Mapping[str, Any],
    image: Mapping[str, Any] | None,
    sequence: str,
    event_id: str,
    event_name: str,
    now_ms: int,
    expires_after: int | None,
) -> Item:
    item: Item = {
        "pk": {"S": state_pk(keys)},
        "sk": {"S": SORT_KEY},
        "keys": {"M": {name: wire_value(value) for name, value in keys.items()}},
        "sequence": {"S": sequence},
        "seqSort": {"S": seq_sort(sequence)},
        "eventId": {"S": event_id},
        "eventName": {"S": event_name},
        "removed": {"BOOL": image is None},
        "changedAt": {"N": str(now_ms)},
        "feed": {"S": FEED},
    }
    if image is not None:
        item["image"] = {"M": {name: wire_value(value) for name, value in image.items()}}
    if expires_after is not None:
        item[TTL_ATTRIBUTE] = {"N": str(now_ms // 1000 + expires_after)}
    return item


def removed_message(keys: Mapping[str, Any], event_id: str, sequence: str) -> dict[str, Any]:
    """What clients receive for a removed incident, live and in sync answers: the envelope of
    every incident message without ``incident``."""
    return {
        "version": MESSAGE_VERSION,
        "type": "incident.removed",
        "keys": dict(keys),
        "eventId": event_id,
        "sequence": sequence,
    }


# --------------------------------------------------------------------------------------------
# Writes
# --------------------------------------------------------------------------------------------
class Written(Enum):
    STORED = "stored"  # the item is now the incident's state
    NEWER_EXISTS = "newer_exists"  # an equal or newer state is there already: nothing to do


def put_if_newer(client: DynamoDBClient, table: str, item: Item) -> Written:
    """Store ``item`` unless the incident's state is as new or newer.

    A ConditionalCheckFailed is a success (the newer state stays); any other error raises
    :class:`StateWriteError` (botocore has already retried throttling by then).
    """
    try:
        client.put_item(
            TableName=table,
            Item=item,
            ConditionExpression=NEWER_CONDITION,
            ExpressionAttributeValues={":new": item["seqSort"]},
        )
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code == "ConditionalCheckFailedException":
            return Written.NEWER_EXISTS
        raise StateWriteError(f"{code or 'error'}: {error}", code) from error
    except BotoCoreError as error:  # connection errors, timeouts after retries
        raise StateWriteError(str(error)) from error
    return Written.STORED


@dataclass(frozen=True)
class StoreResult:
    """What :func:`store_latest` did: per incident id, how its write ended (or the error)."""

    stored: int
    newer_exists: int
    failed: dict[str, str]  # incident id -> error


def latest_per_incident(items: Iterable[Item]) -> dict[str, Item]:
    """The newest item of each incident (by ``seqSort``): several records for one incident in a
    batch need one write."""
    latest: dict[str, Item] = {}
    for item in items:
        pk = item["pk"]["S"]
        held = latest.get(pk)
        if held is None or held["seqSort"]["S"] < item["seqSort"]["S"]:
            latest[pk] = item
    return latest


def store_latest(
    client: DynamoDBClient,
    table: str,
    items: Sequence[Item],
    *,
    executor: ThreadPoolExecutor,
    put: Callable[[DynamoDBClient, str, Item], Written] = put_if_newer,
) -> StoreResult:
    """Write the newest item of each incident in ``items``, all at once on ``executor``.

    Returns per incident (``pk`` without the prefix) the error of every write that failed;
    the caller must not fan out a record whose state was not stored.
    """
    latest = latest_per_incident(items)
    futures = {pk: executor.submit(put, client, table, item) for pk, item in latest.items()}
    stored = newer = 0
    failed: dict[str, str] = {}
    for pk, future in futures.items():
        try:
            outcome = future.result()
        except StateWriteError as error:
            failed[pk.removeprefix(PK_PREFIX)] = str(error)
            continue
        if outcome is Written.STORED:
            stored += 1
        else:
            newer += 1
    return StoreResult(stored=stored, newer_exists=newer, failed=failed)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


# --------------------------------------------------------------------------------------------
# A stream batch (the Broadcaster's step between parsing and delivery)
# --------------------------------------------------------------------------------------------
# Writes in flight at once: a 100-record batch (Lambda's default batch size) takes a few round
# trips, not 100 one after another. The boto3 client's pool is sized to match.
WRITE_CONCURRENCY = 32


@dataclass(frozen=True)
class Writer:
    """What :func:`store_batch` writes with; the Broadcaster builds one per execution
    environment (module-level client and thread pool), tests hand in their own."""

    client: DynamoDBClient
    settings: IncidentState
    executor: ThreadPoolExecutor
    put: Callable[[DynamoDBClient, str, Item], Written] = put_if_newer
    clock: Callable[[], int] = now_ms


@dataclass(frozen=True)
class BatchStored:
    """The outcome of :func:`store_batch`.

    ``first_failed`` is the batch position of the first record whose state is not stored (None:
    all stored): that record and every one after it must be reported failed and not fanned out.
    ``malformed`` are positions whose record cannot be stored at all (reported failed alone).
    """

    first_failed: int | None
    stored: int
    newer_exists: int
    failed: dict[str, str]
    malformed: tuple[int, ...]
    duration_ms: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "stored": self.stored,
            "newerExists": self.newer_exists,
            "failed": len(self.failed),
            "durationMs": self.duration_ms,
        }


def store_batch(
    writer: Writer, records: Sequence[tuple[int, Mapping[str, Any], StreamRecord]]
) -> BatchStored:
    """Store the state of ``records`` (batch position, raw record, parsed record), the newest
    record of each incident once, all writes at the same time; what may be fanned out."""
    started = time.monotonic()
    now = writer.clock()
    items: list[Item] = []
    positions_of: dict[str, list[int]] = {}
    malformed: list[int] = []
    for position, raw, record in records:
        try:
            item = build_item(raw, record, writer.settings, now)
        except MalformedRecordError:
            malformed.append(position)
            continue
        items.append(item)
        positions_of.setdefault(item["pk"]["S"], []).append(position)
    result = store_latest(
        writer.client, writer.settings.table, items, executor=writer.executor, put=writer.put
    )
    failed_positions = [
        position for incident in result.failed for position in positions_of[PK_PREFIX + incident]
    ]
    return BatchStored(
        first_failed=min(failed_positions, default=None),
        stored=result.stored,
        newer_exists=result.newer_exists,
        failed=result.failed,
        malformed=tuple(malformed),
        duration_ms=round((time.monotonic() - started) * 1000, 1),
    )
