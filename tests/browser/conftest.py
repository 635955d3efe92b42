"""The board in a real headless Chromium, against a fake of the WebSocket API on 127.0.0.1.

Three pieces, all on 127.0.0.1 and free ports: a stdlib HTTP server serving the repository's
``clients/`` directory (the board imports ``../js/realtime-client.js`` from there, as it would
from any static host), a ``websockets`` server that plays API Gateway's side of the contract
(``testing.fake_websocket_api``), and Chromium from the OS packages driven by Selenium through
chromedriver. A missing browser fails with what to install, never skips.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.wait import WebDriverWait

from testing.fake_websocket_api import FakeWebSocketApi

REPO = Path(__file__).resolve().parents[2]
CLIENTS = REPO / "clients"

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1200,640",
)

MISSING_BROWSER = (
    "the browser tests need Chromium and its WebDriver: run `make setup-browser` (as root; it "
    "installs Debian's chromium and chromium-driver), or install a Chromium and the chromedriver "
    "of the same version yourself and point CHROMIUM_BIN and CHROMEDRIVER_BIN at them"
)


def find_browser() -> tuple[str, str]:
    """Paths of the Chromium binary and its chromedriver; fails (never skips) when missing."""
    names = ("chromium", "chromium-browser", "google-chrome")
    chromium = os.environ.get("CHROMIUM_BIN") or next(
        filter(None, (shutil.which(name) for name in names)), None
    )
    driver = os.environ.get("CHROMEDRIVER_BIN") or shutil.which("chromedriver")
    missing = [
        name
        for name, path in (("chromium", chromium), ("chromedriver", driver))
        if not path or not Path(path).exists()
    ]
    if missing or chromium is None or driver is None:
        pytest.fail(f"{' and '.join(missing)} not found: {MISSING_BROWSER}", pytrace=False)
    return chromium, driver


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    chromium, driver_path = find_browser()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    # Never let Selenium Manager look for (or download) a browser or driver: we name both.
    os.environ.setdefault("SE_OFFLINE", "true")
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    try:
        yield driver
    finally:
        driver.quit()


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
