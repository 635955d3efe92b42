"""Headless Chromium for the board's tests: the fake-API suite (tests/browser) and the e2e one.

Chromium from the OS packages (or CHROMIUM_BIN), driven by Selenium through its chromedriver
(or CHROMEDRIVER_BIN). A missing browser fails with what to install, never skips. The page
readers (``rows``, ``status``) read the board as a person sees it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

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


@contextlib.contextmanager
def headless_chromium(profile_dir: Path) -> Iterator[WebDriver]:
    """A headless Chromium with a profile of its own, quit at the end."""
    chromium, driver_path = find_browser()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    # Never let Selenium Manager look for (or download) a browser or driver: we name both.
    os.environ.setdefault("SE_OFFLINE", "true")
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    try:
        yield driver
    finally:
        driver.quit()


def rows(driver: WebDriver) -> list[dict[str, Any]]:
    """The board's rows, top to bottom, as the page shows them."""
    return driver.execute_script(  # type: ignore[no-any-return]
        """
        return [...document.querySelectorAll('#incidents tbody tr')].map((tr) => ({
          id: tr.dataset.incidentId,
          urgency: tr.dataset.urgency,
          status: tr.dataset.status,
          escalated: tr.classList.contains('escalated'),
          truncated: tr.classList.contains('truncated'),
          text: tr.innerText,
        }));
        """
    )


def status(driver: WebDriver) -> str:
    """The connection indicator's state: connecting, open, reconnecting, refused or closed."""
    return driver.find_element(By.ID, "status").get_attribute("data-state") or ""
