"""Fan-out tests: the broadcaster against a fake management API on 127.0.0.1, with the
Connections table in moto (moto passes requests for 127.0.0.1 through to the real network)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

import broadcaster
from realtime_common import aws

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_management_api import FakeManagementApi

TABLE = "realtime-connections"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    aws.reset_clients()
    broadcaster.get_config.cache_clear()
    with mock_aws():
        yield
    aws.reset_clients()
    broadcaster.get_config.cache_clear()


@pytest.fixture
def table(aws_env: None, create_connections_table: Callable[[str], Any]) -> Any:
    return create_connections_table(TABLE)


@pytest.fixture
def api() -> Iterator[FakeManagementApi]:
    with FakeManagementApi() as fake:
        yield fake
