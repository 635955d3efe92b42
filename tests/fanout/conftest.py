"""Fan-out tests: the broadcaster against a fake management API on 127.0.0.1, with the
Connections table in moto (moto passes requests for 127.0.0.1 through to the real network)."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

import pytest

from testing import tls

TABLE = "realtime-connections"


@pytest.fixture
def table(aws_env: None, create_connections_table: Callable[[str], Any]) -> Any:
    return create_connections_table(TABLE)


@pytest.fixture(scope="module")
def tls_contexts(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, str]:
    """A server context with a certificate for 127.0.0.1 from a throwaway CA, and that CA."""
    issued = tls.issue(tmp_path_factory.mktemp("tls"))
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(issued.server_pem)
    return server_context, issued.ca_pem.read_text()
