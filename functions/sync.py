"""WebSocket ``sync`` route: a client's snapshot on open and its exact catch-up after a gap.

Handler string: ``sync.handler`` (route key ``sync``, selected by ``$request.body.action``).
Environment (functions/README.md has the table): ``CONNECTIONS_TABLE``, ``STATE_TABLE``,
``STATE_RETENTION_SECONDS``, ``WS_CALLBACK_URL``, ``ROLE_VIEWS``, ``POST_MAX_ATTEMPTS``,
``SYNC_FULL_INTERVAL_MS``, ``SYNC_CURSOR_OVERLAP_MS``, ``SYNC_POST_RATE``, ``LOG_LEVEL``,
``POWERTOOLS_SERVICE_NAME``.

The logic is in ``realtime_common.sync`` (serve: parse, admit, refresh, answer, post); this
module holds the per-environment state (configuration, the state cache, clients) and shapes the
route's response. The answer travels over the management API (``@connections``), not in the
route response, so the route returns an empty 200.
"""

from __future__ import annotations

import functools
import os
import time
from typing import TYPE_CHECKING, Any

from realtime_common import aws
from realtime_common.logs import make_logger
from realtime_common.sync import post, reply
from realtime_common.sync.cache import StateCache
from realtime_common.sync.config import SyncConfig
from realtime_common.sync.serve import SyncResult, serve

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from realtime_common.fanout.sigv4 import CredentialsSource

logger = make_logger()


@functools.cache
def get_config() -> SyncConfig:
    """Configuration, read and validated once per execution environment."""
    return SyncConfig.from_env(os.environ)


def _warn(message: str, extra: dict[str, Any]) -> None:
    logger.warning(message, extra=extra)


@functools.cache
def get_cache() -> StateCache:
    """The state this execution environment serves (refreshed by every sync)."""
    cfg = get_config()
    return StateCache(
        cfg.views.audiences,
        overlap_ms=cfg.overlap_ms,
        retention_ms=cfg.retention_ms,
        warn=_warn,
    )


@functools.cache
def get_credentials() -> CredentialsSource:
    """The credentials source, once per execution environment: the signer (and its derived
    key) is cached per source, so a new one per invocation would derive the key every time."""
    return aws.credentials_source()


def reset() -> None:
    """Forget configuration, cache and posting state (tests)."""
    get_config.cache_clear()
    get_cache.cache_clear()
    get_credentials.cache_clear()
    post.reset()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    cfg = get_config()

    def answer(connection_id: str, send: reply.Send) -> SyncResult:
        return serve(
            event.get("body"),
            connection_id,
            cfg=cfg,
            cache=get_cache(),
            dynamodb=aws.dynamodb_client(),
            post=send,
            now_ms=int(time.time() * 1000),
        )

    return reply.handle(
        "sync", event, context, cfg=cfg, credentials=get_credentials(), logger=logger, answer=answer
    )
