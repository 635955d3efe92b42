"""The live incident board, as `make up` serves it, in headless Chromium against the local stack.

Real all the way: the board's page from the web server `up` started, its WebSocket to the
emulator's API, the $connect Lambda, the Incidents stream and the Broadcaster. The socket is
dropped the way API Gateway drops one (DeleteConnection on the management API), and the board
must come back by itself.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from testing.browser import rows, status
from tools.localenv import board, commands

pytestmark = pytest.mark.e2e

TIMEOUT_S = 30.0  # a first Lambda invocation on the emulator takes a few seconds


def connection_ids(stack, user: str) -> set[str]:
    return {row["pk"]["S"].removeprefix("CONN#") for row in stack.connection_rows(user)}


def row_of(driver, incident_id: str) -> dict | None:
    return next((r for r in rows(driver) if r["id"] == incident_id), None)


def test_the_board_shows_updates_and_comes_back_after_a_drop(stack, browser):
    user = stack.new_id("board")
    assert stack.state.board_base_url, "make up did not record the board's web server"
    # As `make up` links it: index.html?url=<stage URL>&token=<jwt>, the board sends ?token=.
    ws_url, token = commands.identity(stack.state, user, "viewer")
    assert token is not None, "the local stack should run the $connect authorizer"
    browser.get(board.board_url(stack.state.board_base_url, ws_url, token))
    stack.wait_until(lambda: status(browser) == "open", TIMEOUT_S, "the board to show it is live")
    [first] = stack.wait_until(
        lambda: connection_ids(stack, user), TIMEOUT_S, f"the Connections row of {user}"
    )

    # A PutItem into the demo Incidents table shows up as a row.
    incident = stack.new_id("BOARD")
    stack.write_incident(incident, urgency="high", status="open", title="Smoke at the depot")
    shown = stack.wait_until(
        lambda: row_of(browser, incident), TIMEOUT_S, f"{incident} on the board"
    )
    assert (shown["urgency"], shown["status"]) == ("high", "open")
    assert "Smoke at the depot" in shown["text"]

    # A change to it updates the row in place, an escalation highlighted.
    stack.write_incident(incident, status="escalated")
    escalated = stack.wait_until(
        lambda: (r := row_of(browser, incident)) and r["status"] == "escalated" and r,
        TIMEOUT_S,
        f"{incident} escalated on the board",
    )
    assert escalated["escalated"]
    assert [r["id"] for r in rows(browser)].count(incident) == 1

    # API Gateway drops the socket; the board reconnects on its own, as the same identity.
    stack.drop_connection(first)
    stack.wait_until(
        lambda: connection_ids(stack, user) - {first},
        TIMEOUT_S,
        f"the board to open a new connection for {user} after the drop",
    )
    stack.wait_until(lambda: status(browser) == "open", TIMEOUT_S, "the board live again")

    # What it showed is kept, and it goes on with the new connection.
    assert row_of(browser, incident)["status"] == "escalated"
    stack.write_incident(incident, status="resolved")
    later = stack.new_id("BOARD")
    stack.write_incident(later, urgency="low", status="open", title="Bin fire")
    stack.wait_until(
        lambda: (r := row_of(browser, incident)) and r["status"] == "resolved",
        TIMEOUT_S,
        f"{incident} resolved after the reconnect",
    )
    stack.wait_until(lambda: row_of(browser, later), TIMEOUT_S, f"{later} after the reconnect")
    assert "Live" in browser.find_element(By.ID, "status").text
