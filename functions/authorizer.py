"""WebSocket ``$connect`` REQUEST authorizer: verify a JWT, allow exactly this API's ``$connect``.

Handler string: ``authorizer.handler``. Environment (see functions/README.md):
``JWT_ISSUER``, ``JWT_AUDIENCE``, ``JWT_ALGORITHMS``, ``CONNECT_ROUTE_ARN``, ``USER_ID_CLAIM``,
``ROLE_CLAIM``, ``ALLOWED_ROLES``, ``JWT_LEEWAY_SECONDS``, ``AUTH_CACHE_SECONDS`` (all set by
Terraform); exactly one key source, ``JWKS_URL`` (an OIDC issuer's key set) or
``JWT_SECRET_PARAMETER`` (the name of an SSM SecureString holding an HS256 secret: dev and the
local stack); ``LOG_LEVEL``, ``POWERTOOLS_SERVICE_NAME``.

Where the token travels (browsers cannot set headers on a WebSocket):

* ``wss://.../prod?token=<jwt>``: the ``token`` query-string parameter;
* ``new WebSocket(url, ["bearer", jwt])``: the ``Sec-WebSocket-Protocol`` header
  (``bearer, <jwt>``); ``$connect`` then answers with ``Sec-WebSocket-Protocol: bearer``.

Outcomes: a valid token whose role is allowed -> an Allow policy on ``CONNECT_ROUTE_ARN`` with
``userId`` and ``role`` in the context (``connection_manager.on_connect`` stores them); no token, a
token that fails any check -> ``Unauthorized`` (API Gateway answers 401); a valid token with a
role outside ``ALLOWED_ROLES`` -> a Deny policy (403); the key source unreachable (JWKS or SSM
down, nothing cached) -> an error (500): an outage never allows. The token is never logged.

The parts live in ``realtime_common.auth`` (key sources, verification, claims); this module
reads the event, decides and shapes the answer.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Mapping
from typing import Any, cast

from aws_lambda_powertools.utilities.typing import LambdaContext

from realtime_common import aws
from realtime_common.auth.decisions import DecisionCache
from realtime_common.auth.errors import ForbiddenRoleError, KeySourceError, UnauthorizedError
from realtime_common.auth.jwks import JwksKeys, fetch_url
from realtime_common.auth.keys import KeySource
from realtime_common.auth.request import extract_token
from realtime_common.auth.settings import AuthorizerConfig
from realtime_common.auth.ssm_secret import SsmSecretKey
from realtime_common.auth.verify import verify_token
from realtime_common.logs import loggable, make_logger

logger = make_logger()


def policy(
    principal_id: str, effect: str, route_arn: str, context: Mapping[str, str]
) -> dict[str, Any]:
    return {
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": route_arn}
            ],
        },
        "context": dict(context),
    }


def authorize(
    event: Mapping[str, Any],
    cfg: AuthorizerConfig,
    keys: KeySource,
    cache: DecisionCache,
    now: float,
) -> dict[str, Any]:
    """The authorizer's answer for ``event``; raises UnauthorizedError or KeySourceError."""
    request_context = event.get("requestContext")
    connection_id = (
        request_context.get("connectionId") if isinstance(request_context, Mapping) else None
    )
    if isinstance(connection_id, str):
        logger.set_correlation_id(connection_id)
    method_arn = event.get("methodArn")
    if method_arn != cfg.connect_route_arn:
        # Only the $connect route of the API in CONNECT_ROUTE_ARN is authorised here.
        logger.error(
            "authorizer invoked for another route or API",
            extra={"method_arn": loggable(method_arn, 200), "expected": cfg.connect_route_arn},
        )
        raise UnauthorizedError("methodArn is not this API's $connect")
    token = extract_token(event)
    principal = cache.get(token, now)
    cached = principal is not None
    if principal is None:
        try:
            principal = verify_token(token, cfg, keys, now)
        except ForbiddenRoleError as refused:
            logger.info(
                "connection denied",
                extra={"user_id": loggable(refused.user_id), "why": refused.reason},
            )
            return policy(refused.user_id, "Deny", cfg.connect_route_arn, {})
        cache.put(token, principal, now)
    logger.info(
        "connection allowed",
        extra={"user_id": loggable(principal.user_id), "role": principal.role, "cached": cached},
    )
    return policy(principal.user_id, "Allow", cfg.connect_route_arn, principal.context())


# --------------------------------------------------------------------------------------------
# Execution-environment state and the handler
# --------------------------------------------------------------------------------------------
@functools.cache
def get_config() -> AuthorizerConfig:
    """Configuration, read and validated once per execution environment."""
    return AuthorizerConfig.from_env(os.environ)


@functools.cache
def get_key_source() -> KeySource:
    """The configured key source, built once so its cache lives across invocations."""
    cfg = get_config()
    if cfg.jwks_url is not None:
        return JwksKeys(url=cfg.jwks_url, fetch=fetch_url)
    # AuthorizerConfig holds exactly one key source: no JWKS_URL means a secret parameter.
    return SsmSecretKey(ssm=aws.ssm_client(), name=cast("str", cfg.secret_parameter))


@functools.cache
def get_cache() -> DecisionCache:
    return DecisionCache(seconds=get_config().cache_seconds)


def reset() -> None:
    """Forget configuration, keys and cached decisions (tests; clients: aws.reset_clients)."""
    for cached in (get_config, get_key_source, get_cache):
        cached.cache_clear()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        return authorize(event, get_config(), get_key_source(), get_cache(), time.time())
    except UnauthorizedError as refused:
        logger.info("connection refused", extra={"why": refused.reason})
        raise
    except KeySourceError as outage:
        logger.error("key source unavailable: connection refused", extra={"why": str(outage)})
        raise
