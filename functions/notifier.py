"""Publish an SNS alert when an incident is urgent on creation, becomes urgent, or escalates.

Handler string: ``notifier.handler`` (a DynamoDB stream event source mapping with
``ReportBatchItemFailures``). Environment: ``SNS_TOPIC_ARN``, ``IDEMPOTENCY_TABLE`` (required),
``ALERT_URGENCIES``, ``ESCALATION_STATUSES``, ``IDEMPOTENCY_TTL_SECONDS``, ``LOG_LEVEL``,
``POWERTOOLS_SERVICE_NAME``.

Alert rules (urgency order ``low < medium < high < critical``; values compared lower-cased):

* INSERT whose urgency is in ``ALERT_URGENCIES`` -> reason ``created_urgent``;
* MODIFY whose urgency rises into ``ALERT_URGENCIES`` (the old urgency was outside it and, when
  both are known, ranked lower) -> ``urgency_raised``. An old urgency that is missing or not in
  the order counts as below every level: becoming ``high`` from nothing alerts. A change within
  the alert set (``high`` -> ``critical``) does not alert again;
* MODIFY whose status changes to one of ``ESCALATION_STATUSES`` -> ``status_escalated``.

A new urgency outside the known order (``"urgent"``, a number...) never alerts on urgency and is
logged as a warning; an incident without urgency never alerts on urgency. A MODIFY record without
an old image is malformed here (the stream must be ``NEW_AND_OLD_IMAGES``): it is reported failed
rather than guessed at.

Publishing is idempotent per stream record (Powertools idempotency, DynamoDB table keyed by a
hash of the record's ``eventID``), so a retried batch never alerts twice for the same record.

Metrics (realtime_common.metrics, ``function=notifier``): ``AlertsPublished``,
``DuplicateAlertsSuppressed`` (a record whose alert was already published: a retry or a redrive)
and ``RecordsFailed`` per invocation. ``POWERTOOLS_METRICS_NAMESPACE`` and ``ENVIRONMENT`` are
required.
"""

from __future__ import annotations

import functools
import json
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from realtime_common import aws, config, metrics
from realtime_common.logs import loggable, make_logger
from realtime_common.stream import (
    JSONValue,
    MalformedRecordError,
    StreamRecord,
    batch_records,
    parse_record,
)

if TYPE_CHECKING:  # the stub packages are development dependencies, never in a zip
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import MessageAttributeValueTypeDef

logger = make_logger()

URGENCY_ORDER = ("low", "medium", "high", "critical")

CREATED_URGENT = "created_urgent"
URGENCY_RAISED = "urgency_raised"
STATUS_ESCALATED = "status_escalated"

# SNS Publish: "Subjects must be ASCII text that begins with a letter, number, or punctuation
# mark; must not include line breaks or control characters; and must be less than 100
# characters long." (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html)
MAX_SUBJECT_CHARS = 99
# SNS Publish: a message, attributes included, is at most 256 KB (262,144 bytes).
MAX_MESSAGE_BYTES = 256 * 1024
# Attributes copied into the alert's incident summary when present, each bounded in size.
SUMMARY_FIELDS = (
    "incidentId",
    "title",
    "urgency",
    "status",
    "type",
    "location",
    "createdAt",
    "updatedAt",
)
# SQS accepts only these characters in message bodies and attribute values; SNS delivering a value
# outside them to an SQS subscriber fails for that subscriber.
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html
_SQS_DISALLOWED = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
MAX_SUMMARY_STRING = 1024
MAX_SUMMARY_VALUE_BYTES = 4096
IDEMPOTENCY_KEY_PREFIX = "notifier.publish_alert"


@dataclass(frozen=True)
class NotifierConfig:
    topic_arn: str
    idempotency_table: str
    alert_urgencies: frozenset[str]
    escalation_statuses: frozenset[str]
    idempotency_ttl_seconds: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> NotifierConfig:
        topic_arn = config.required_str(env, "SNS_TOPIC_ARN")
        if not re.fullmatch(
            r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}", topic_arn
        ):
            raise config.ConfigError(
                f"environment variable SNS_TOPIC_ARN={topic_arn!r} is not a standard SNS topic ARN"
            )
        return cls(
            topic_arn=topic_arn,
            idempotency_table=config.required_str(env, "IDEMPOTENCY_TABLE"),
            # Terraform's alert_urgencies, escalation_statuses and idempotency_ttl_seconds own
            # the defaults, the allowed urgencies and the range (at least the stream's 24 h
            # retention, so any retry of a record finds its key).
            alert_urgencies=config.csv_set(env, "ALERT_URGENCIES"),
            escalation_statuses=config.csv_set(env, "ESCALATION_STATUSES"),
            idempotency_ttl_seconds=config.required_int(env, "IDEMPOTENCY_TTL_SECONDS"),
        )


@functools.cache
def get_config() -> NotifierConfig:
    """Configuration, read and validated once per execution environment."""
    return NotifierConfig.from_env(os.environ)


# --------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------
def _label(image: Mapping[str, JSONValue] | None, name: str) -> str | None:
    value = (image or {}).get(name)
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().lower()


def alert_reasons(record: StreamRecord, cfg: NotifierConfig) -> list[str]:
    """Why ``record`` needs an alert (most important first); empty when it does not."""
    if record.event_name == "REMOVE":
        return []
    new_urgency = _label(record.new_image, "urgency")
    if new_urgency is not None and new_urgency not in URGENCY_ORDER:
        logger.warning(
            "unknown urgency value; no urgency alert",
            extra={"event_id": record.event_id, "urgency": loggable(new_urgency)},
        )
    urgent = new_urgency in cfg.alert_urgencies
    if record.event_name == "INSERT":
        return [CREATED_URGENT] if urgent else []

    if record.old_image is None:
        raise MalformedRecordError(
            "MODIFY record has no OldImage: the Incidents stream must be NEW_AND_OLD_IMAGES"
        )
    reasons = []
    new_status = _label(record.new_image, "status")
    if new_status in cfg.escalation_statuses and new_status != _label(record.old_image, "status"):
        reasons.append(STATUS_ESCALATED)
    old_urgency = _label(record.old_image, "urgency")
    if urgent and old_urgency not in cfg.alert_urgencies and _rises(old_urgency, new_urgency):
        reasons.append(URGENCY_RAISED)
    return reasons


def _rises(old: str | None, new: str | None) -> bool:
    if new not in URGENCY_ORDER:
        return False
    if old not in URGENCY_ORDER:
        return True  # missing or unknown old urgency counts as below every level
    return URGENCY_ORDER.index(new) > URGENCY_ORDER.index(old)


# --------------------------------------------------------------------------------------------
# Alert message
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Alert:
    subject: str
    body: str
    attributes: dict[str, MessageAttributeValueTypeDef]  # SNS String attributes


def bounded_fields(
    image: Mapping[str, JSONValue] | None, names: Iterable[str]
) -> dict[str, JSONValue]:
    """The named fields of ``image``, each bounded: strings cut, oversized other values left out.

    Every image field copied into an alert goes through here, so the alert stays far below SNS's
    256 KB limit whatever the incident holds.
    """
    fields: dict[str, JSONValue] = {}
    for name in names:
        value = (image or {}).get(name)
        if value is None:
            continue
        if isinstance(value, str):
            value = value[:MAX_SUMMARY_STRING]
        elif len(json.dumps(value, ensure_ascii=False).encode()) > MAX_SUMMARY_VALUE_BYTES:
            continue
        fields[name] = value
    return fields


def incident_summary(image: Mapping[str, JSONValue] | None) -> dict[str, JSONValue]:
    return bounded_fields(image, SUMMARY_FIELDS)


def subject_line(reason: str, summary: Mapping[str, JSONValue]) -> str:
    """A short ASCII subject that satisfies SNS's rules (see MAX_SUBJECT_CHARS)."""
    urgency = str(summary.get("urgency") or "").upper()
    lead = {
        CREATED_URGENT: f"New {urgency} incident",
        URGENCY_RAISED: f"Incident now {urgency}",
        STATUS_ESCALATED: "Incident escalated",
    }[reason]
    name = summary.get("title") or summary.get("incidentId") or ""
    text = f"{lead}: {name}" if name else lead
    ascii_text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    clean = " ".join("".join(ch if ch.isprintable() else " " for ch in ascii_text).split())
    if len(clean) > MAX_SUBJECT_CHARS:
        clean = clean[: MAX_SUBJECT_CHARS - 3].rstrip() + "..."
    return clean


def build_alert(record: StreamRecord, reasons: list[str]) -> Alert:
    reason = reasons[0]
    summary = incident_summary(record.new_image)
    body: dict[str, Any] = {
        "version": 1,
        "type": "incident.alert",
        "reason": reason,
        "reasons": reasons,
        "incident": summary,
        "keys": record.keys,
        "eventId": record.event_id,
        "sequence": record.sequence,
    }
    if record.event_name == "MODIFY":
        previous = bounded_fields(record.old_image, ("urgency", "status"))
        body["previous"] = {name: previous.get(name) for name in ("urgency", "status")}
    attributes = {
        "urgency": _string_attribute(_label(record.new_image, "urgency")),
        "status": _string_attribute(_label(record.new_image, "status")),
        "reason": _string_attribute(reason),
    }
    text = sqs_safe_json(
        json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    )
    if _message_size(text, attributes) > MAX_MESSAGE_BYTES:
        # Unreachable with every copied field bounded, but a publish that SNS rejects for size
        # would be retried until it is parked: fall back to the identifiers.
        body["incident"] = {"incidentId": summary.get("incidentId")}
        body["truncated"] = True
        text = sqs_safe_json(
            json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        )
    return Alert(subject=subject_line(reason, summary), body=text, attributes=attributes)


def sqs_safe_json(text: str) -> str:
    """JSON text with every character SQS refuses written as its ``\\uXXXX`` escape.

    Outside JSON strings only ASCII occurs, so the escapes land inside strings and the document
    decodes to the same value; a lone surrogate (not UTF-8 encodable) is escaped the same way.
    """
    return _SQS_DISALLOWED.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def attribute_text(value: str) -> str:
    """An attribute value every SNS protocol accepts: characters outside SQS's set dropped, and
    controls and format characters too (a label has no use for them), at most 256 characters."""
    kept = _SQS_DISALLOWED.sub("", value)
    return "".join(ch for ch in kept if unicodedata.category(ch) not in {"Cc", "Cf"})[:256]


def _string_attribute(value: str | None) -> MessageAttributeValueTypeDef:
    # SNS rejects empty attribute values; "unknown" keeps filter policies simple.
    return {"DataType": "String", "StringValue": attribute_text(value or "") or "unknown"}


def _message_size(body: str, attributes: Mapping[str, MessageAttributeValueTypeDef]) -> int:
    size = len(body.encode("utf-8"))
    for name, value in attributes.items():
        size += len(name.encode()) + len(value["DataType"]) + len(value["StringValue"].encode())
    return size


def publish_alert(sns: SNSClient, topic_arn: str, alert: Alert) -> str:
    response = sns.publish(
        TopicArn=topic_arn,
        Subject=alert.subject,
        Message=alert.body,
        MessageAttributes=alert.attributes,
    )
    return str(response["MessageId"])


# --------------------------------------------------------------------------------------------
# Idempotent publishing and the batch
# --------------------------------------------------------------------------------------------
@dataclass
class PublishCount:
    """How many times the wrapped publish really ran (a duplicate returns without running it)."""

    value: int = 0


@dataclass(frozen=True)
class Publisher:
    idempotency: IdempotencyConfig
    publish: Callable[..., dict[str, str]]
    published: PublishCount


@functools.cache
def get_publisher() -> Publisher:
    """The idempotent publish function, built once per execution environment."""
    cfg = get_config()
    idempotency = IdempotencyConfig(
        event_key_jmespath="eventID",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=cfg.idempotency_ttl_seconds,
    )
    persistence = DynamoDBPersistenceLayer(
        table_name=cfg.idempotency_table, boto3_client=aws.dynamodb_client()
    )

    published = PublishCount()

    # ``record`` only keys the idempotency record (its eventID); the caller has already built
    # ``alert`` from it, so nothing is parsed or decided twice.
    def publish(record: dict[str, Any], alert: Alert) -> dict[str, str]:
        message_id = publish_alert(aws.sns_client(), cfg.topic_arn, alert)
        published.value += 1
        logger.info(
            "alert published",
            extra={"message_id": message_id, "reason": alert.attributes["reason"]["StringValue"]},
        )
        return {"messageId": message_id}

    return Publisher(
        idempotency=idempotency,
        publish=idempotent_function(
            publish,
            data_keyword_argument="record",
            persistence_store=persistence,
            config=idempotency,
            key_prefix=IDEMPOTENCY_KEY_PREFIX,
        ),
        published=published,
    )


def reset() -> None:
    """Forget cached configuration and the publisher (tests)."""
    get_config.cache_clear()
    get_publisher.cache_clear()
    metrics.emitter.cache_clear()


def process_record(record: DynamoDBRecord) -> str:
    """One record: decide, then publish at most once. Raises to report the record failed."""
    raw = record.raw_event
    logger.append_keys(event_id=raw.get("eventID"))
    try:
        parsed = parse_record(raw)
        reasons = alert_reasons(parsed, get_config())
        if not reasons:
            return "no alert"
        publisher = get_publisher()
        before = publisher.published.value
        result = publisher.publish(record=raw, alert=build_alert(parsed, reasons))
        fresh = publisher.published.value > before
        metrics.count(
            metrics.emitter("notifier"),
            metrics.Metric.ALERTS_PUBLISHED
            if fresh
            else metrics.Metric.DUPLICATE_ALERTS_SUPPRESSED,
        )
        if not fresh:
            logger.info("alert already published for this record; not published again")
        return str(result.get("messageId"))
    finally:
        logger.remove_keys(["event_id"])


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    get_config()  # fail the whole invocation (nothing lost) on a configuration error
    emitter = metrics.emitter("notifier")
    try:
        batch_records(event)  # a record without a sequence number fails the whole batch
        get_publisher().idempotency.register_lambda_context(context)
        processor = BatchProcessor(
            event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
        )
        response = process_partial_response(
            event=event, record_handler=process_record, processor=processor, context=context
        )
        metrics.record_failed_records(emitter, len(response.get("batchItemFailures", [])))
        return response
    finally:
        metrics.flush(emitter)
