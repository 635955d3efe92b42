"""Fan-out settings shared by the stream consumer and the fan-out worker, read from the
environment Terraform sets (functions/README.md lists every variable)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from realtime_common import config

# API Gateway's account-level throttle is 10,000 requests/s per Region by default, shared with
# every API and callback in the account
# (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html): leave headroom.
DEFAULT_RATE = 8000
MAX_RATE = 100_000


@dataclass(frozen=True)
class FanoutConfig:
    table: str
    callback_url: str
    concurrency: int
    max_attempts: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> FanoutConfig:
        callback_url = config.required_str(env, "WS_CALLBACK_URL")
        if not callback_url.startswith(("https://", "http://")):
            raise config.ConfigError(
                f"environment variable WS_CALLBACK_URL={callback_url!r} must be the management "
                "API endpoint, https://{api_id}.execute-api.{region}.amazonaws.com/{stage}"
            )
        return cls(
            table=config.required_str(env, "CONNECTIONS_TABLE"),
            callback_url=callback_url.rstrip("/"),
            concurrency=config.bounded_int(env, "FANOUT_CONCURRENCY", 256, 1, 1024),
            max_attempts=config.bounded_int(env, "POST_MAX_ATTEMPTS", 4, 1, 10),
        )
