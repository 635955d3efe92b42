"""WebSocket ``subscribe`` route: store the connection's effective filter and say what it is.

Handler string: ``subscribe.handler`` (route key ``subscribe``, selected by
``$request.body.action``), shipped in the broadcaster's zip with the sync function: the answer
is posted over the same wire client. Environment (functions/README.md has the table):
``CONNECTIONS_TABLE``, ``FILTER_FIELDS``, ``FILTER_LIMITS``, ``DEFAULT_AREAS``,
``WS_CALLBACK_URL``, ``POST_MAX_ATTEMPTS``, ``POST_RATE``, ``LOG_LEVEL``,
``POWERTOOLS_SERVICE_NAME``.

``{"action":"subscribe","filter":{...}}`` -> the row's ``filter`` is set to the intersection
of the filter and the row's ``areas`` (realtime_common.filters), and the connection gets
``{"version":1,"type":"subscribed","filter":...,"narrowed":...,"areas":[...]}``. A malformed
request or filter gets ``{"version":1,"type":"error","code":"bad_request","message":...}`` and
changes nothing; a connection whose row is gone (or expired) gets nothing. The new filter takes
effect for the next record the Broadcaster reads the rows for and for the next sync.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from realtime_common import aws, config, filters
from realtime_common.connections import connection_key
from realtime_common.fanout import config as fanout_config
from realtime_common.logs import make_logger
from realtime_common.sync import messages, reply
from realtime_common.sync.cache import prepare

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_dynamodb import DynamoDBClient

logger = make_logger()

ACTION = "subscribe"


@dataclass(frozen=True)
class SubscribeConfig:
    """Terraform's ``subscriptions`` variable owns the filter settings, ``fanout`` the post
    attempts, ``sync`` the post rate; required here, checked to parse."""

    table: str
    callback_url: str
    filter_settings: filters.FilterSettings
    default_areas: filters.Permission
    max_attempts: int
    post_rate: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SubscribeConfig:
        return cls(
            table=config.required_str(env, "CONNECTIONS_TABLE"),
            callback_url=fanout_config.callback_url(env),
            filter_settings=filters.FilterSettings.from_env(env),
            default_areas=filters.default_areas(env),
            max_attempts=config.required_int(env, "POST_MAX_ATTEMPTS"),
            post_rate=config.required_int(env, "POST_RATE"),
        )


@dataclass(frozen=True)
class SubscribeResult:
    """What one subscribe did (logged; tests read it)."""

    status: str  # subscribed, bad_request, gone
    narrowed: bool = False
    delivery: str = ""


Post = Callable[[str, bytes], str]  # (connection id, frame) -> the delivery's outcome


def requested_filter(body: object, settings: filters.FilterSettings) -> filters.Filter:
    """The ``filter`` of a subscribe message; FilterError says what to send instead."""
    try:
        message = json.loads(body) if isinstance(body, str | bytes) else None
    except ValueError:
        message = None
    if not isinstance(message, dict) or message.get("action") != ACTION:
        raise filters.FilterError(
            'send {"action":"subscribe","filter":{...}}, e.g. {"action":"subscribe",'
            '"filter":{"area":["north"]}}; {} subscribes to everything the token allows'
        )
    if "filter" not in message:
        raise filters.FilterError(
            'subscribe needs a "filter": {} for everything the token allows, or e.g. '
            '{"area":["north"],"urgency":["high"]}'
        )
    return filters.parse_filter(message["filter"], settings)


def subscribe(
    dynamodb: DynamoDBClient,
    cfg: SubscribeConfig,
    connection_id: str,
    body: object,
    *,
    now: float,
    send: Post,
) -> SubscribeResult:
    try:
        asked = requested_filter(body, cfg.filter_settings)
    except filters.FilterError as bad:
        outcome = send(connection_id, messages.error("bad_request", str(bad)))
        return SubscribeResult("bad_request", delivery=outcome)
    permission = _permission(dynamodb, cfg, connection_id, now)
    if permission is None:
        return SubscribeResult("gone")
    result = filters.effective(asked, permission)
    try:
        dynamodb.update_item(
            TableName=cfg.table,
            Key=connection_key(connection_id),
            UpdateExpression="SET #filter = :filter",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#filter": "filter"},
            ExpressionAttributeValues={":filter": {"S": result.filter.to_json()}},
        )
    except dynamodb.exceptions.ConditionalCheckFailedException:
        return SubscribeResult("gone")  # disconnected between the read and the write
    outcome = send(connection_id, messages.encode(result.subscribed_message()))
    return SubscribeResult("subscribed", narrowed=result.narrowed, delivery=outcome)


def _permission(
    dynamodb: DynamoDBClient, cfg: SubscribeConfig, connection_id: str, now: float
) -> filters.Permission | None:
    """The row's areas (``DEFAULT_AREAS`` on a row written before subscriptions); None when the
    row is gone, expired, or holds areas this stack did not write (logged)."""
    item = dynamodb.get_item(
        TableName=cfg.table,
        Key=connection_key(connection_id),
        ConsistentRead=True,  # a subscribe may follow $connect by milliseconds
        ProjectionExpression="areas, expiresAt",
    ).get("Item")
    if item is None:
        return None
    expires = item.get("expiresAt", {}).get("N")
    if expires is not None and float(expires) <= now:
        return None
    areas = item.get("areas", {}).get("S")
    if areas is None:
        return cfg.default_areas
    try:
        return filters.Permission.from_json(areas)
    except filters.ClaimError as unreadable:
        logger.error("connection row holds unreadable areas", extra={"why": str(unreadable)})
        return None


# --------------------------------------------------------------------------------------------
# Execution-environment state and the handler
# --------------------------------------------------------------------------------------------
@functools.cache
def get_config() -> SubscribeConfig:
    """Configuration, read and validated once per execution environment."""
    return SubscribeConfig.from_env(os.environ)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    cfg = get_config()

    def answer(connection_id: str, send: reply.Send) -> SubscribeResult:
        def post_frame(target: str, frame: bytes) -> str:
            return send(target, prepare([frame], 0)).outcome

        return subscribe(
            aws.dynamodb_client(),
            cfg,
            connection_id,
            event.get("body"),
            now=time.time(),
            send=post_frame,
        )

    return reply.handle(
        "subscribe",
        event,
        context,
        cfg=cfg,
        credentials=aws.credentials_source(),
        logger=logger,
        answer=answer,
    )
