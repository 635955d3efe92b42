"""WebSocket ``$connect`` / ``$disconnect`` handlers: keep the Connections table current.

Handler strings: ``connection_manager.on_connect`` and ``connection_manager.on_disconnect``.
Environment: ``CONNECTIONS_TABLE``, ``ALLOWED_ROLES``, ``ALLOW_QUERY_IDENTITY``,
``CONNECTION_TTL_SECONDS``, ``FILTER_FIELDS``, ``FILTER_LIMITS``, ``DEFAULT_AREAS`` (all
required: Terraform sets them), ``LOG_LEVEL``,
``POWERTOOLS_SERVICE_NAME`` (see functions/README.md), ``POWERTOOLS_METRICS_NAMESPACE`` and
``ENVIRONMENT`` (``$connect`` only: it counts refused connections as ``ConnectionsRefused``, in
total and by ``reason``; see realtime_common.metrics).

The row carries the connection's permission (``areas``, from the authorizer's context) and its
effective filter (``filter``, from the ``filter`` query parameter of ``$connect``; later
``subscribe`` messages replace it, see subscribe.py); realtime_common.filters owns the model.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from realtime_common import aws, config, filters, metrics
from realtime_common.connections import (
    TOKEN_SUBPROTOCOL,
    connected_at,
    connection_key,
    is_valid_user_id,
    offered_subprotocols,
)
from realtime_common.logs import loggable, make_logger

if TYPE_CHECKING:  # the stub packages are development dependencies, never in a zip
    from mypy_boto3_dynamodb import DynamoDBClient

logger = make_logger()


@dataclass(frozen=True)
class ConnectConfig:
    """Terraform sets every variable and owns their defaults and ranges (``allowed_roles``,
    ``allow_query_identity``, ``connection_ttl_seconds``): required here, checked to parse."""

    table: str
    allowed_roles: frozenset[str]
    allow_query_identity: bool
    ttl_seconds: int
    filter_settings: filters.FilterSettings
    default_areas: filters.Permission

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ConnectConfig:
        return cls(
            table=config.required_str(env, "CONNECTIONS_TABLE"),
            allowed_roles=config.csv_set(env, "ALLOWED_ROLES"),
            allow_query_identity=config.boolean(env, "ALLOW_QUERY_IDENTITY"),
            ttl_seconds=config.required_int(env, "CONNECTION_TTL_SECONDS"),
            filter_settings=filters.FilterSettings.from_env(env),
            default_areas=filters.default_areas(env),
        )


@functools.cache
def get_config() -> ConnectConfig:
    """Configuration, read and validated once per execution environment."""
    return ConnectConfig.from_env(os.environ)


@dataclass(frozen=True)
class Identity:
    user_id: str
    role: str
    source: str  # "authorizer" or "query" (logged, so dev-only identities stand out)
    areas: filters.Permission


class IdentityError(Exception):
    """The connection is refused; ``status`` is the HTTP status returned to API Gateway.

    ``code`` is one of ``realtime_common.metrics.REFUSAL_REASONS`` (a metric dimension);
    ``reason`` is the sentence that is logged.
    """

    def __init__(self, status: int, code: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.code = code
        self.reason = reason


def resolve_identity(event: Mapping[str, Any], cfg: ConnectConfig) -> Identity:
    """Who is connecting: the authorizer's context, or (dev only) the query string.

    Missing identity -> 401; a role outside ``ALLOWED_ROLES`` -> 403. The areas come from the
    same place (the authorizer's canonical ``areas``; a dev query string's ``areas``, written as
    a token's claim would be); without them, ``DEFAULT_AREAS``. Unreadable areas -> 401.
    """
    context = event.get("requestContext") or {}
    authorizer = context.get("authorizer") or {}
    candidates: list[tuple[str, Mapping[str, Any]]] = [("authorizer", authorizer)]
    if cfg.allow_query_identity:
        candidates.append(("query", event.get("queryStringParameters") or {}))
    for source, values in candidates:
        user_id, role = values.get("userId"), values.get("role")
        if not user_id:
            continue
        if not is_valid_user_id(user_id):
            # Not echoed: the value is what was refused (bounded, escaped) only in loggable form.
            raise IdentityError(
                401,
                "invalid_user_id",
                f"{source} userId is not a valid identifier: {loggable(user_id, 32)}",
            )
        if not isinstance(role, str) or not role.strip():
            raise IdentityError(401, "no_role", f"{source} identity has no role")
        normalised = role.strip().lower()
        if normalised not in cfg.allowed_roles:
            raise IdentityError(
                403, "role_not_allowed", f"role {loggable(normalised, 32)!r} is not allowed"
            )
        try:
            areas = filters.parse_areas_claim(
                values.get("areas"),
                default=cfg.default_areas,
                max_bytes=cfg.filter_settings.limits.areas_max_bytes,
            )
        except filters.ClaimError as malformed:
            raise IdentityError(
                401, "no_identity", f"{source} areas are unusable: {malformed}"
            ) from None
        return Identity(user_id=user_id, role=normalised, source=source, areas=areas)
    raise IdentityError(401, "no_identity", "no identity in the request")


def connection_item(
    connection_id: str,
    identity: Identity,
    now: float,
    ttl_seconds: int,
    asked: filters.Filter | None = None,
) -> dict[str, dict[str, str]]:
    """The Connections row, in DynamoDB's attribute-value form: ``filter`` only when the
    client subscribed at connect time (absent means ``{}`` within ``areas``)."""
    item = {
        **connection_key(connection_id),
        "userId": {"S": identity.user_id},
        "role": {"S": identity.role},
        "connectedAt": {"S": connected_at(now)},
        "expiresAt": {"N": str(int(now) + ttl_seconds)},
        "areas": {"S": identity.areas.to_json()},
    }
    if asked is not None:
        item["filter"] = {"S": filters.effective(asked, identity.areas).filter.to_json()}
    return item


def connect_filter(
    event: Mapping[str, Any], settings: filters.FilterSettings
) -> filters.Filter | None:
    """The ``filter`` query parameter (URL-encoded JSON; API Gateway decodes it), or None."""
    query = event.get("queryStringParameters") or {}
    text = query.get("filter") if isinstance(query, Mapping) else None
    if text is None:
        return None
    return filters.parse_filter_text(str(text), settings)


def connect(
    dynamodb: DynamoDBClient,
    cfg: ConnectConfig,
    event: Mapping[str, Any],
    now: float,
    emitter: AmazonCloudWatchEMFProvider,
) -> dict[str, Any]:
    connection_id = _connection_id(event)
    if connection_id is None:
        logger.warning("connect event without requestContext.connectionId")
        metrics.record_refusal(emitter, "bad_request")
        return _response(400, "Bad request")
    logger.set_correlation_id(connection_id)
    try:
        identity = resolve_identity(event, cfg)
    except IdentityError as refused:
        logger.info(
            "connection refused",
            extra={
                "connection_id": connection_id,
                "status": refused.status,
                "code": refused.code,
                "why": refused.reason,
            },
        )
        metrics.record_refusal(emitter, refused.code)
        return _response(refused.status, "Unauthorized" if refused.status == 401 else "Forbidden")
    try:
        asked = connect_filter(event, cfg.filter_settings)
    except filters.FilterError as bad:
        # Refused rather than connected unfiltered: the client would get what it did not ask for.
        logger.info(
            "connection refused",
            extra={"connection_id": connection_id, "status": 400, "why": str(bad)},
        )
        metrics.record_refusal(emitter, "bad_request")
        return _response(400, f"Bad request: {bad}")
    dynamodb.put_item(
        TableName=cfg.table,
        Item=connection_item(connection_id, identity, now, cfg.ttl_seconds, asked),
    )
    logger.info(
        "connection stored",
        extra={
            "connection_id": connection_id,
            "user_id": loggable(identity.user_id),
            "role": identity.role,
            "identity_source": identity.source,
            "areas": identity.areas.to_json(),
            "filtered": asked is not None,
        },
    )
    return _response(200, "Connected", _subprotocol_headers(event))


def disconnect(
    dynamodb: DynamoDBClient, cfg: ConnectConfig, event: Mapping[str, Any]
) -> dict[str, Any]:
    connection_id = _connection_id(event)
    if connection_id is None:
        logger.warning("disconnect event without requestContext.connectionId")
        return _response(400, "Bad request")
    logger.set_correlation_id(connection_id)
    # A plain DeleteItem: deleting a row that is already gone (TTL, or a 410 seen by the
    # broadcaster) succeeds, which is exactly the semantics $disconnect needs.
    dynamodb.delete_item(TableName=cfg.table, Key=connection_key(connection_id))
    logger.info("connection removed", extra={"connection_id": connection_id})
    return _response(200, "Disconnected")


def _connection_id(event: Mapping[str, Any]) -> str | None:
    context = event.get("requestContext") if isinstance(event, Mapping) else None
    value = context.get("connectionId") if isinstance(context, Mapping) else None
    return value if isinstance(value, str) and value else None


def _subprotocol_headers(event: Mapping[str, Any]) -> dict[str, str]:
    """Select ``bearer`` when the client offered it (the token travelled after it).

    A browser that offered subprotocols drops a handshake whose answer selects none, so the
    accepted ``$connect`` echoes the one it used, never the token that followed it.
    """
    if TOKEN_SUBPROTOCOL in offered_subprotocols(event.get("headers")):
        return {"Sec-WebSocket-Protocol": TOKEN_SUBPROTOCOL}
    return {}


def _response(status: int, body: str, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"statusCode": status, "body": body}
    if headers:
        response["headers"] = dict(headers)
    return response


@logger.inject_lambda_context(clear_state=True)
def on_connect(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    cfg = get_config()
    emitter = metrics.emitter("connect")
    try:
        return connect(aws.dynamodb_client(), cfg, event, time.time(), emitter)
    finally:
        metrics.flush(emitter)


@logger.inject_lambda_context(clear_state=True)
def on_disconnect(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    cfg = get_config()
    return disconnect(aws.dynamodb_client(), cfg, event)
