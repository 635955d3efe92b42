"""Fixtures shared by every suite."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from testing.suites import suite_markers

if TYPE_CHECKING:
    from testing.fake_management_api import FakeManagementApi


def _reset_handler_caches() -> None:
    # Imported here: only the handler and fan-out suites use aws_env, and the other suites need
    # not import the Lambda modules (or Powertools) at all.
    import authorizer  # noqa: PLC0415
    import broadcaster  # noqa: PLC0415
    import connection_manager  # noqa: PLC0415
    import notifier  # noqa: PLC0415
    import subscribe  # noqa: PLC0415
    import sync  # noqa: PLC0415
    from realtime_common import aws, metrics  # noqa: PLC0415

    aws.reset_clients()
    metrics.emitter.cache_clear()
    authorizer.reset()
    connection_manager.get_config.cache_clear()
    broadcaster.get_config.cache_clear()
    broadcaster.retry_ledger.clear()
    broadcaster.get_state_writer.cache_clear()
    notifier.reset()
    subscribe.get_config.cache_clear()
    sync.reset()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test carries a suite marker: `make test`'s phases together then run every test,
    where a test with none would run in none of them. The suites are the markers pyproject.toml
    registers (their one list; tests/unit/test_suites.py checks the Makefile runs each)."""
    suites = suite_markers(config.rootpath / "pyproject.toml")
    unmarked = [item.nodeid for item in items if not suites & {m.name for m in item.iter_markers()}]
    if unmarked:
        raise pytest.UsageError(
            f"tests without a suite marker ({', '.join(sorted(suites))}): {', '.join(unmarked)}"
        )


@pytest.fixture
def api() -> Iterator[FakeManagementApi]:
    """A fake API Gateway management API on 127.0.0.1 (testing/fake_management_api.py)."""
    from testing.fake_management_api import FakeManagementApi  # noqa: PLC0415 (aiohttp: its suites)

    with FakeManagementApi() as fake:
        yield fake


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


def _create_pk_sk_table(
    name: str, extra_attributes: dict[str, str] | None = None, **settings: Any
) -> Any:
    """An on-demand table keyed like the stack's tables (string ``pk``/``sk``), wherever the
    test's environment points boto3; ``extra_attributes`` (name -> type) for its indexes."""
    attributes = {"pk": "S", "sk": "S", **(extra_attributes or {})}
    client = boto3.client("dynamodb")
    client.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": n, "AttributeType": t} for n, t in attributes.items()
        ],
        BillingMode="PAY_PER_REQUEST",
        **settings,
    )
    return client


@pytest.fixture
def create_connections_table() -> Callable[[str], Any]:
    """Create a Connections table with the stack's key schema (pk/sk, on demand).

    It lands wherever the test's environment points boto3 (moto under ``mock_aws``); the
    callable returns the boto3 ``Table`` resource.
    """

    def create(name: str) -> Any:
        _create_pk_sk_table(name)
        return boto3.resource("dynamodb").Table(name)

    return create


@pytest.fixture
def create_state_table() -> Callable[[str], Any]:
    """Create a state table with the stack's schema (pk/sk, TTL ``expiresAt``, the ``byChange``
    index on ``feed``/``changedAt``) wherever the test's environment points boto3."""

    def create(name: str) -> Any:
        from realtime_common import state  # noqa: PLC0415 (only the state suites need it)

        client = _create_pk_sk_table(
            name,
            extra_attributes={"feed": "S", "changedAt": "N"},
            GlobalSecondaryIndexes=[
                {
                    "IndexName": state.CHANGE_INDEX,
                    "KeySchema": [
                        {"AttributeName": "feed", "KeyType": "HASH"},
                        {"AttributeName": "changedAt", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )
        client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": state.TTL_ATTRIBUTE},
        )
        return boto3.resource("dynamodb").Table(name)

    return create
