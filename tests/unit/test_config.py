"""Configuration: what the readers make of what Terraform sets, and errors that name the
variable at fault."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest

from broadcaster import BroadcastConfig
from connection_manager import ConnectConfig
from notifier import NotifierConfig
from realtime_common import state
from realtime_common.config import ConfigError, log_level
from realtime_common.fanout.config import FanoutConfig
from realtime_common.fanout.views import RoleViews
from realtime_common.filters import FilterSettings, Permission, default_areas
from testing import terraform_defaults

pytestmark = pytest.mark.unit

TOPIC = "arn:aws:sns:us-east-1:123456789012:realtime-alerts"
CALLBACK = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod"


# What Terraform sets on connect and disconnect (main.tf: local.connection_environment).
CONNECT = {"CONNECTIONS_TABLE": "conns", **terraform_defaults.CONNECT}


def test_connect_reads_what_terraform_sets() -> None:
    cfg = ConnectConfig.from_env(CONNECT)
    assert cfg.table == "conns"
    assert cfg.allowed_roles == frozenset({"dispatcher", "responder", "supervisor", "viewer"})
    assert cfg.allow_query_identity is False
    assert cfg.ttl_seconds == 7200
    assert cfg.filter_settings == FilterSettings.from_env(terraform_defaults.FILTERS)
    assert cfg.default_areas == default_areas(terraform_defaults.FILTERS)


def test_connect_overrides() -> None:
    cfg = ConnectConfig.from_env(
        {
            "CONNECTIONS_TABLE": "conns",
            "ALLOWED_ROLES": " Dispatcher, viewer ,,",
            "ALLOW_QUERY_IDENTITY": "TRUE",
            "CONNECTION_TTL_SECONDS": "600",
            **terraform_defaults.FILTERS,
        }
    )
    assert cfg.allowed_roles == frozenset({"dispatcher", "viewer"})
    assert cfg.allow_query_identity is True
    assert cfg.ttl_seconds == 600


# What Terraform sets on the broadcaster and the notifier (main.tf, fanout_workers.tf), with
# variables.tf's defaults (testing/terraform_defaults.py, checked against terraform console).
BROADCAST = {
    "CONNECTIONS_TABLE": "conns",
    "WS_CALLBACK_URL": CALLBACK,
    "FANOUT_WORKER_FUNCTION": "realtime-dev-fanout-worker",
    **terraform_defaults.BROADCASTER,
}
NOTIFY = {"SNS_TOPIC_ARN": TOPIC, "IDEMPOTENCY_TABLE": "idem", **terraform_defaults.NOTIFIER}
# What Terraform sets on the broadcaster and sync for the state table (main.tf: state_environment).
STATE = {"STATE_TABLE": "realtime-test-state", **terraform_defaults.INCIDENT_STATE}


def test_broadcast_reads_what_terraform_sets_and_drops_a_trailing_slash() -> None:
    cfg = BroadcastConfig.from_env(BROADCAST | {"WS_CALLBACK_URL": CALLBACK + "/"})
    assert cfg == BroadcastConfig(
        FanoutConfig("conns", CALLBACK, concurrency=256),
        views=RoleViews.parse(terraform_defaults.ROLE_VIEWS),
        rate=int(terraform_defaults.BROADCASTER["FANOUT_RATE"]),  # variables.tf's default
        max_attempts=4,
        worker_function="realtime-dev-fanout-worker",
        worker_threshold=10_000,
        max_workers=10,
        filter_fields=frozenset({"area", "urgency", "type", "status"}),
        default_areas=Permission.of(["*"]),
    )


def test_broadcast_worker_settings() -> None:
    cfg = BroadcastConfig.from_env(
        BROADCAST
        | {
            "FANOUT_RATE": "2500",
            "FANOUT_WORKER_THRESHOLD": "20000",
            "FANOUT_MAX_WORKERS": "50",
        }
    )
    assert (cfg.rate, cfg.worker_function, cfg.worker_threshold, cfg.max_workers) == (
        2500,
        "realtime-dev-fanout-worker",
        20_000,
        50,
    )


def test_notifier_reads_what_terraform_sets() -> None:
    cfg = NotifierConfig.from_env(NOTIFY)
    assert cfg.alert_urgencies == frozenset({"high", "critical"})
    assert cfg.escalation_statuses == frozenset({"escalated"})
    assert cfg.idempotency_ttl_seconds == 172800


# Each function's reader with what Terraform sets on the function.
READERS: dict[str, tuple[Callable[[Mapping[str, str]], object], dict[str, str]]] = {
    "connect": (ConnectConfig.from_env, CONNECT),
    "broadcaster": (BroadcastConfig.from_env, BROADCAST),
    "notifier": (NotifierConfig.from_env, NOTIFY),
    "state": (state.incident_state, STATE),
}


@pytest.mark.parametrize(
    ("reader", "name"), [(reader, name) for reader, (_, env) in READERS.items() for name in env]
)
def test_each_reader_requires_every_variable_terraform_sets(reader: str, name: str) -> None:
    factory, env = READERS[reader]
    with pytest.raises(ConfigError, match=name):
        factory({k: v for k, v in env.items() if k != name})


@pytest.mark.parametrize(
    ("reader", "variable", "value"),
    [
        ("connect", "CONNECTIONS_TABLE", "  "),
        # Terraform owns the ranges (root_validation.tftest.hcl); here each must parse.
        ("connect", "CONNECTION_TTL_SECONDS", "2h"),
        ("connect", "ALLOW_QUERY_IDENTITY", "yes"),
        ("connect", "ALLOWED_ROLES", ","),
        ("broadcaster", "WS_CALLBACK_URL", "a1b2.execute-api/prod"),
        ("broadcaster", "FANOUT_CONCURRENCY", "lots"),
        ("broadcaster", "POST_MAX_ATTEMPTS", "4.5"),
        ("broadcaster", "FANOUT_RATE", "8k"),
        ("broadcaster", "FANOUT_MAX_WORKERS", "ten"),
        ("broadcaster", "FANOUT_WORKER_THRESHOLD", "1e4"),
        ("broadcaster", "ROLE_VIEWS", "{}"),
        ("notifier", "SNS_TOPIC_ARN", "realtime-alerts"),
        ("notifier", "SNS_TOPIC_ARN", TOPIC + ".fifo"),
        ("notifier", "ALERT_URGENCIES", " , "),
        ("notifier", "IDEMPOTENCY_TTL_SECONDS", "2 days"),
        ("state", "STATE_TABLE", ""),
        ("state", "STATE_RETENTION_SECONDS", "a day"),
        ("state", "CLOSED_STATUSES", "closed,resolved"),
        ("state", "CLOSED_STATUSES", '{"closed": true}'),
        ("state", "CLOSED_STATUSES", "[1]"),
    ],
)
def test_invalid_configuration_names_the_variable(reader: str, variable: str, value: str) -> None:
    factory, env = READERS[reader]
    with pytest.raises(ConfigError, match=variable):
        factory(env | {variable: value})


def test_log_level() -> None:
    assert log_level({}) == "INFO"
    assert log_level({"LOG_LEVEL": "debug"}) == "DEBUG"
    with pytest.raises(ConfigError, match="LOG_LEVEL"):
        log_level({"LOG_LEVEL": "VERBOSE"})
