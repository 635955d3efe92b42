"""The skeleton of the routes that answer their one connection (sync, subscribe), said once:
read the connection id from the event (400 without one), post over the fan-out's wire with the
invocation's deadline, the callback URL's region and the function's post settings, log the
route's result. The handlers pass their logic in and stay a few lines."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from realtime_common import aws
from realtime_common.fanout import delivery
from realtime_common.sync import post

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from realtime_common.fanout.sigv4 import CredentialsSource
    from realtime_common.sync.cache import Prepared

Result = TypeVar("Result")

Send = Callable[[str, "Prepared"], post.Delivery]  # (connection id, frames) -> the delivery


class PostSettings(Protocol):
    """The post settings both functions' configurations carry (Terraform owns the values)."""

    @property
    def callback_url(self) -> str: ...

    @property
    def post_rate(self) -> int: ...

    @property
    def max_attempts(self) -> int: ...


def sender(
    cfg: PostSettings,
    remaining_seconds: float,
    credentials: CredentialsSource,
    log_failure: Callable[[str, dict[str, Any]], None],
) -> Send:
    """A ``Send`` for this invocation: the deadline from the time it has left, the region from
    the callback URL (else the function's own)."""
    deadline = delivery.deadline_for(remaining_seconds, time.monotonic())
    region = delivery.region_of(cfg.callback_url, aws.region())

    def send(target: str, prepared: Prepared) -> post.Delivery:
        return post.post(
            target,
            prepared,
            callback_url=cfg.callback_url,
            credentials=credentials,
            region=region,
            rate=cfg.post_rate,
            max_attempts=cfg.max_attempts,
            deadline=deadline,
            log_failure=log_failure,
        )

    return send


def handle(
    route: str,
    event: Mapping[str, Any],
    context: LambdaContext,
    *,
    cfg: PostSettings,
    credentials: CredentialsSource,
    logger: Logger,
    answer: Callable[[str, Send], Result],
) -> dict[str, Any]:
    """Run ``answer(connection_id, send)`` for the event's connection and log its result (a
    dataclass) as "<route> finished"; an event without ``requestContext.connectionId`` gets 400."""
    connection_id = str((event.get("requestContext") or {}).get("connectionId") or "")
    if not connection_id:
        logger.error(f"{route} event without requestContext.connectionId")
        return {"statusCode": 400}
    logger.append_keys(connection_id=connection_id)
    send = sender(
        cfg,
        context.get_remaining_time_in_millis() / 1000.0,
        credentials,
        lambda message, extra: logger.warning(message, extra=extra),
    )
    result = answer(connection_id, send)
    logger.info(f"{route} finished", extra=vars(result))
    return {"statusCode": 200}
