"""Fan-out settings shared by the stream consumer and the fan-out worker, read from the
environment Terraform sets (functions/README.md lists every variable). Terraform's ``fanout``
variable owns the defaults and ranges; these readers require each variable and check that it
parses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from realtime_common import config


@dataclass(frozen=True)
class FanoutConfig:
    table: str
    callback_url: str
    concurrency: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> FanoutConfig:
        return cls(
            table=config.required_str(env, "CONNECTIONS_TABLE"),
            callback_url=callback_url(env),
            concurrency=config.required_int(env, "FANOUT_CONCURRENCY"),
        )


def callback_url(env: Mapping[str, str]) -> str:
    """``WS_CALLBACK_URL``, the management API endpoint, without a trailing slash."""
    url = config.required_str(env, "WS_CALLBACK_URL")
    if not url.startswith(("https://", "http://")):
        raise config.ConfigError(
            f"environment variable WS_CALLBACK_URL={url!r} must be the management "
            "API endpoint, https://{api_id}.execute-api.{region}.amazonaws.com/{stage}"
        )
    return url.rstrip("/")
