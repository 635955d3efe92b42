"""Fixtures shared by every suite."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws


def _reset_handler_caches() -> None:
    # Imported here: only the handler and fan-out suites use aws_env, and the other suites need
    # not import the Lambda modules (or Powertools) at all.
    import authorizer  # noqa: PLC0415
    import broadcaster  # noqa: PLC0415
    import connection_manager  # noqa: PLC0415
    import notifier  # noqa: PLC0415
    from realtime_common import aws  # noqa: PLC0415

    aws.reset_clients()
    authorizer.reset()
    connection_manager.get_config.cache_clear()
    connection_manager.get_metrics.cache_clear()
    broadcaster.get_config.cache_clear()
    broadcaster.get_metrics.cache_clear()
    broadcaster.retry_ledger.clear()
    notifier.reset()


# The suites `make test` runs, one pytest run per group of these markers (pyproject.toml).
SUITES = frozenset(
    {"unit", "handler", "fanout", "packaging", "preview", "browser", "terraform", "e2e"}
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test carries a suite marker: `make test`'s phases together then run every test,
    where a test with none would run in none of them."""
    unmarked = [item.nodeid for item in items if not SUITES & {m.name for m in item.iter_markers()}]
    if unmarked:
        raise pytest.UsageError(
            f"tests without a suite marker ({', '.join(sorted(SUITES))}): {', '.join(unmarked)}"
        )


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto ``mock_aws``, with the handlers' cached clients and configuration reset around it.

    Fake credentials and region are set before any client exists, so nothing can reach real AWS.
    (tests/terraform overrides this fixture with the emulator's environment.)
    """
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "realtime-test",
        # realtime_common.metrics: the namespace and environment dimension Terraform sets.
        "POWERTOOLS_METRICS_NAMESPACE": "realtime-test",
        "ENVIRONMENT": "test",
    }.items():
        monkeypatch.setenv(name, value)
    for name in (
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "POWERTOOLS_IDEMPOTENCY_DISABLED",
        "POWERTOOLS_METRICS_DISABLED",
    ):
        monkeypatch.delenv(name, raising=False)
    _reset_handler_caches()
    with mock_aws():
        yield
    _reset_handler_caches()


@pytest.fixture
def create_connections_table() -> Callable[[str], Any]:
    """Create a Connections table with the stack's key schema (pk/sk, on demand).

    It lands wherever the test's environment points boto3 (moto under ``mock_aws``); the
    callable returns the boto3 ``Table`` resource.
    """

    def create(name: str) -> Any:
        boto3.client("dynamodb").create_table(
            TableName=name,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        return boto3.resource("dynamodb").Table(name)

    return create
