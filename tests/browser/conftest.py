"""The board in a real headless Chromium, against a fake of the WebSocket API on 127.0.0.1.

Three pieces, all on 127.0.0.1 and free ports: a stdlib HTTP server serving the repository's
``clients/`` directory (the board imports ``../js/realtime-client.js`` from there, as it would
from any static host), a ``websockets`` server that plays API Gateway's side of the contract
(``testing.fake_websocket_api``), and Chromium from the OS packages driven by Selenium through
chromedriver (``testing.browser``, shared with the e2e suite). A missing browser fails with what
to install, never skips.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.wait import WebDriverWait

from testing.browser import headless_chromium
from testing.fake_websocket_api import FakeWebSocketApi

REPO = Path(__file__).resolve().parents[2]
CLIENTS = REPO / "clients"


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    with headless_chromium(tmp_path_factory.mktemp("chromium-profile")) as driver:
        yield driver


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def end_headers(self) -> None:
        # Every test loads the page afresh: no cached module from an earlier run.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


@pytest.fixture(scope="session")
def static_site() -> Iterator[str]:
    """Base URL of clients/ served over HTTP on 127.0.0.1 (ES modules need http://, not file://)."""
    handler = functools.partial(_QuietHandler, directory=str(CLIENTS))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def fake_api() -> Iterator[FakeWebSocketApi]:
    api = FakeWebSocketApi().start()
    try:
        yield api
    finally:
        api.stop()


@pytest.fixture
def open_board(browser: WebDriver, static_site: str) -> Iterator[Callable[..., WebDriver]]:
    """Loads the board for a WebSocket URL (and extra query parameters); returns the driver."""

    def load(ws_url: str, **params: str) -> WebDriver:
        query = "url=" + quote(ws_url, safe="")
        for name, value in params.items():
            query += f"&{name}={quote(value, safe='')}"
        browser.get(f"{static_site}/board/index.html?{query}")
        WebDriverWait(browser, 10).until(
            lambda d: d.execute_script("return document.readyState") == "complete"
        )
        return browser

    yield load
    # Leave nothing running between tests: a board left open would keep reconnecting.
    browser.get("about:blank")
