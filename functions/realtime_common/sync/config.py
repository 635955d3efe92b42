"""The sync function's settings, read from the environment Terraform sets (Terraform's
``sync``, ``fanout`` and ``incident_state`` variables own the defaults and ranges: the readers
require each variable and check that it parses)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from realtime_common import config
from realtime_common.fanout.config import callback_url
from realtime_common.fanout.views import RoleViews
from realtime_common.state import IncidentState, incident_state


@dataclass(frozen=True)
class SyncConfig:
    connections_table: str  # CONNECTIONS_TABLE
    callback_url: str  # WS_CALLBACK_URL
    max_attempts: int  # POST_MAX_ATTEMPTS
    state: IncidentState  # STATE_TABLE, STATE_RETENTION_SECONDS, CLOSED_STATUSES
    views: RoleViews
    full_interval_ms: int  # at most one full sync per connection per this
    overlap_ms: int  # how far before a cursor a since sync reads again
    post_rate: int  # posts per second of one execution environment

    @property
    def state_table(self) -> str:
        return self.state.table

    @property
    def retention_ms(self) -> int:
        """How long tombstones and closed incidents stay."""
        return self.state.retention_seconds * 1000

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SyncConfig:
        return cls(
            connections_table=config.required_str(env, "CONNECTIONS_TABLE"),
            callback_url=callback_url(env),
            state=incident_state(env),
            views=RoleViews.from_env(env),
            max_attempts=config.required_int(env, "POST_MAX_ATTEMPTS"),
            full_interval_ms=config.required_int(env, "SYNC_FULL_INTERVAL_MS"),
            overlap_ms=config.required_int(env, "SYNC_CURSOR_OVERLAP_MS"),
            post_rate=config.required_int(env, "SYNC_POST_RATE"),
        )
