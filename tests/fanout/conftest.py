"""Fan-out tests: the broadcaster against a fake management API on 127.0.0.1, with the
Connections table in moto (moto passes requests for 127.0.0.1 through to the real network)."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from testing import tls
from testing.scripted_http import ThreadedServer

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


@pytest.fixture(params=["http", "https"])
def threaded(
    request: pytest.FixtureRequest, tls_contexts: tuple[ssl.SSLContext, str]
) -> Iterator[tuple[ThreadedServer, ssl.SSLContext | None]]:
    """A threaded server, plain or over TLS, and the client context that trusts it."""
    server_context, ca = tls_contexts
    https = request.param == "https"
    server = ThreadedServer(server_context if https else None)
    yield server, ssl.create_default_context(cadata=ca) if https else None
    server.stop()
