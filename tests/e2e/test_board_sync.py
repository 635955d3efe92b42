"""The board's sync against the real local stack, in headless Chromium (issue 16).

Real all the way: incidents written into the demo Incidents table before the board opens, the
Broadcaster writing the state table, the sync route's Lambda answering the board's sync on open
and its catch-up after a drop (DeleteConnection on the management API, as API Gateway drops a
socket), and a REMOVE record reaching the board as ``incident.removed``.

The catch-up must be proven to come from the sync, not from live messages: the test lengthens
the board's reconnect wait (the library's backoff, from the page) and checks that every change of
the gap is in the state table while the board is still without a connection.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from testing.browser import rows
from tools.localenv import board, commands
from tools.localenv.resources import INCIDENTS_KEY

pytestmark = pytest.mark.e2e

TIMEOUT_S = 45.0  # a first Lambda invocation on the emulator takes a few seconds
GAP_S = 20  # the board's reconnect wait during the gap: long enough to write and settle changes


def row_of(driver: Any, incident_id: str) -> dict[str, Any] | None:
    return next((r for r in rows(driver) if r["id"] == incident_id), None)


def connection_ids(stack: Any, user: str) -> set[str]:
    return {row["pk"]["S"].removeprefix("CONN#") for row in stack.connection_rows(user)}


def delete_incident(stack: Any, incident_id: str) -> None:
    stack.client("dynamodb").delete_item(
        TableName=stack.state.incidents_table, Key={INCIDENTS_KEY: {"S": incident_id}}
    )


def board_js(driver: Any, script: str) -> Any:
    return driver.execute_script(f"const c = window.realtimeBoard.client; {script}")


def test_board_syncs_on_open_catches_up_after_a_drop_and_drops_removed_incidents(stack, browser):
    user = stack.new_id("sync-board")
    first, second, third = (stack.new_id("SYNC") for _ in range(3))
    # Before the board opens: two incidents exist (and have reached the state table).
    stack.write_incident(first, urgency="low", status="open", title="Smoke at the depot")
    stack.write_incident(second, urgency="medium", status="open", title="Fallen tree")
    stack.wait_until(
        lambda: stack.state_item(first) and stack.state_item(second),
        TIMEOUT_S,
        "both incidents in the state table",
    )

    ws_url, token = commands.identity(stack.state, user, "dispatcher")
    browser.get(board.board_url(stack.state.board_base_url, ws_url, token))
    # Shown because the board synced on open: nothing about them is sent live any more.
    stack.wait_until(
        lambda: row_of(browser, first) and row_of(browser, second),
        TIMEOUT_S,
        "the existing incidents on the board as soon as it opens",
    )
    assert row_of(browser, first)["status"] == "open"
    stack.wait_until(
        lambda: board_js(browser, "return c.cursor !== null && !c.syncing"),
        TIMEOUT_S,
        "the first sync to complete",
    )
    [connection] = stack.wait_until(
        lambda: connection_ids(stack, user), TIMEOUT_S, f"the Connections row of {user}"
    )
    # No reload may happen: a marker on the page's window would not survive one.
    board_js(browser, "window.notReloaded = true; return null")

    # The gap: the board waits GAP_S before it reconnects, the changes are made meanwhile.
    board_js(
        browser,
        f"c.options.backoff = {{ initialMs: {GAP_S * 1000}, maxMs: {GAP_S * 1000}, factor: 1 }};"
        "c.random = () => 1; return null",
    )
    stack.drop_connection(connection)
    stack.wait_until(
        lambda: board_js(browser, "return c.state") == "reconnecting",
        TIMEOUT_S,
        "the board to see the drop",
    )
    stack.write_incident(first, urgency="critical", status="escalated")  # escalated meanwhile
    stack.write_incident(third, urgency="high", status="open", title="Gas leak")  # created
    delete_incident(stack, second)  # removed
    stack.wait_until(
        lambda: (
            (a := stack.state_item(first))
            and a["image"]["M"]["status"]["S"] == "escalated"
            and stack.state_item(third)
            and (b := stack.state_item(second))
            and b.get("removed", {}).get("BOOL") is True
        ),
        TIMEOUT_S,
        "the three changes in the state table",
    )
    assert board_js(browser, "return c.state") == "reconnecting", (
        f"the board reconnected before the changes settled: raise GAP_S ({GAP_S} s)"
    )
    assert row_of(browser, first)["status"] == "open"  # nothing of the gap reached it live
    assert row_of(browser, second) is not None

    # After the reconnect: caught up, no reload.
    stack.wait_until(
        lambda: (
            (a := row_of(browser, first))
            and a["status"] == "escalated"
            and row_of(browser, third)
            and row_of(browser, second) is None
        ),
        GAP_S + TIMEOUT_S,
        "the changes made during the gap on the board after the reconnect",
    )
    assert row_of(browser, first)["escalated"]
    assert "Gas leak" in row_of(browser, third)["text"]
    assert board_js(browser, "return window.notReloaded === true")
    notice = browser.find_element("id", "notice").text
    assert re.search(r"caught up on \d+ changes? made meanwhile", notice), notice
    sent = board_js(browser, "return c.stats.syncs")
    assert sent >= 2

    # Live: a removal while connected drops the row.
    delete_incident(stack, first)
    stack.wait_until(
        lambda: row_of(browser, first) is None, TIMEOUT_S, f"{first} removed from the board"
    )
    assert row_of(browser, third) is not None
