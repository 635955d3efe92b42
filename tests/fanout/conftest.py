"""Fan-out tests: the broadcaster against a fake management API on 127.0.0.1, with the
Connections table in moto (moto passes requests for 127.0.0.1 through to the real network)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

TABLE = "realtime-connections"


@pytest.fixture
def table(aws_env: None, create_connections_table: Callable[[str], Any]) -> Any:
    return create_connections_table(TABLE)
