"""The live incident board (clients/board) in headless Chromium against a fake WebSocket API."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from testing.browser import rows, status
from testing.fake_websocket_api import FakeWebSocketApi

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.browser

_sequence = iter(range(100_000_000_000_000_000_000, 200_000_000_000_000_000_000))


def wait_until(predicate: Callable[[], Any], timeout: float = 10, what: str = "condition") -> Any:
    """Polls predicate until it returns something truthy; fails naming what it waited for."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            value = predicate()
            if value:
                return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def incident_message(
    incident_id: str,
    *,
    type_: str = "incident.updated",
    sequence: str | None = None,
    **attributes: Any,
) -> dict[str, Any]:
    seq = sequence or str(next(_sequence))
    incident = {"incidentId": incident_id, "title": f"Incident {incident_id}", **attributes}
    return {
        "version": 1,
        "type": type_,
        "incident": incident,
        "keys": {"incidentId": incident_id},
        "eventId": f"{incident_id}-{seq}",
        "sequence": seq,
    }


def created(incident_id: str, **attributes: Any) -> dict[str, Any]:
    return incident_message(incident_id, type_="incident.created", **attributes)


def wait_live(driver: WebDriver, api: FakeWebSocketApi, peers: int = 1) -> None:
    wait_until(lambda: len(api.live_peers()) == peers, what=f"{peers} open connection(s)")
    wait_until(
        lambda: driver.execute_script(
            "const c = window.realtimeBoard.client; return c.stats.syncs > 0 && !c.syncing"
        ),
        what="the board's sync to complete",
    )
    wait_until(lambda: status(driver) == "open", what="the status indicator to show the board live")


def open_on_existing(
    open_board: Callable[..., WebDriver],
    api: FakeWebSocketApi,
    incidents: dict[str, dict[str, Any]],
) -> WebDriver:
    """The board opened once ``incidents`` (id -> attributes) exist, without live messages:
    every one shown (from the sync), and the board live."""
    for incident_id, attributes in incidents.items():
        api.put(incident_id, live=False, **attributes)
    driver = open_board(api.url())
    wait_rows(driver, lambda r: len(r) == len(incidents), " and ".join(incidents))
    wait_live(driver, api)
    return driver


def two_open(first_urgency: str) -> dict[str, dict[str, Any]]:
    """INC-1 (``first_urgency``) and INC-2 (low), both open, for ``open_on_existing``."""
    return {
        "INC-1": {"urgency": first_urgency, "status": "open"},
        "INC-2": {"urgency": "low", "status": "open"},
    }


def notice(driver: WebDriver) -> str:
    element = driver.find_element(By.ID, "notice")
    return element.text if element.is_displayed() else ""


def wait_rows(driver: WebDriver, predicate: Any, what: str) -> list[dict[str, Any]]:
    return wait_until(lambda: predicate(rows(driver)) and rows(driver), what=what)


def test_incident_appears_updates_and_batches_apply(open_board, fake_api) -> None:
    driver = open_board(fake_api.url())
    wait_live(driver, fake_api)
    assert "Live" in driver.find_element(By.ID, "status").text
    assert parse_qs(fake_api.live_peers()[0].query) == {"userId": ["alice"], "role": ["dispatcher"]}

    fake_api.send(created("INC-1", urgency="medium", status="open", area="North depot"))
    [row] = wait_rows(driver, lambda r: len(r) == 1, "INC-1 on the board")
    assert (row["id"], row["urgency"], row["status"]) == ("INC-1", "medium", "open")
    assert "North depot" in row["text"]
    assert "Incident INC-1" in row["text"]

    fake_api.send(incident_message("INC-1", urgency="medium", status="acknowledged"))
    wait_rows(driver, lambda r: r[0]["status"] == "acknowledged", "INC-1 acknowledged")

    # One frame, several records in stream order: INC-2 created, INC-1 updated twice.
    fake_api.send(
        {
            "version": 1,
            "type": "batch",
            "messages": [
                created("INC-2", urgency="high", status="open", title="Gas leak"),
                incident_message("INC-1", urgency="medium", status="dispatched"),
                incident_message("INC-1", urgency="medium", status="on scene"),
            ],
        }
    )
    board = wait_rows(
        driver,
        lambda r: len(r) == 2 and r[1]["status"] == "on scene",
        "the batch applied",
    )
    assert [r["id"] for r in board] == ["INC-2", "INC-1"]  # high above medium
    assert "Gas leak" in board[0]["text"]
    assert "2 incidents" in driver.find_element(By.ID, "counts").text


def test_sorted_by_urgency_and_escalations_highlighted(open_board, fake_api) -> None:
    driver = open_board(fake_api.url())
    wait_live(driver, fake_api)
    for incident_id, urgency in (("A", "low"), ("B", "critical"), ("C", "medium"), ("D", "high")):
        fake_api.send(created(incident_id, urgency=urgency, status="open"))
    board = wait_rows(driver, lambda r: len(r) == 4, "four incidents")
    assert [r["id"] for r in board] == ["B", "D", "C", "A"]
    assert not any(r["escalated"] for r in board)

    # Urgency raised low -> critical: re-sorted to the top (most recent first among equals) and
    # highlighted with the reason.
    fake_api.send(incident_message("A", urgency="critical", status="open"))
    board = wait_rows(driver, lambda r: r[0]["id"] == "A", "A re-sorted to the top")
    assert [r["id"] for r in board] == ["A", "B", "D", "C"]
    assert board[0]["escalated"]
    assert "Urgency raised from low" in board[0]["text"]

    # Status escalated: highlighted without an urgency change.
    fake_api.send(incident_message("C", urgency="medium", status="escalated"))
    board = wait_rows(
        driver, lambda r: any(x["id"] == "C" and x["escalated"] for x in r), "C escalated"
    )
    assert "Escalated" in next(r for r in board if r["id"] == "C")["text"]
    assert "2 escalated" in driver.find_element(By.ID, "counts").text
    # The escalated row has a visibly different background from a plain one.
    colours = driver.execute_script(
        """
        const bg = (id) => getComputedStyle(
          document.querySelector(`tr[data-incident-id="${id}"] td`)).backgroundColor;
        return [bg('C'), bg('D')];
        """
    )
    assert colours[0] != colours[1]


def test_duplicates_stale_updates_and_truncated_messages(open_board, fake_api) -> None:
    driver = open_board(fake_api.url())
    wait_live(driver, fake_api)
    newer = incident_message("INC-9", sequence="300000000000000000002", urgency="high", status="b")
    older = incident_message("INC-9", sequence="300000000000000000001", urgency="low", status="a")
    fake_api.send(newer)
    fake_api.send(newer)  # the same record again (at-least-once delivery)
    fake_api.send(older)  # reached the client late: older than what the board shows
    fake_api.send(created("INC-10", urgency="low", status="open"))  # a marker: all sent before it
    board = wait_rows(driver, lambda r: len(r) == 2, "INC-9 and INC-10")
    assert next(r for r in board if r["id"] == "INC-9")["status"] == "b"
    stats = driver.execute_script("return window.realtimeBoard.client.stats")
    assert (stats["duplicates"], stats["stale"]) == (1, 1)

    # A change too large to send live: the board flags the row and fetches the incident by id.
    # The fake answers that fetch only once told to, so the flag can be seen first.
    gate = fake_api.hold_syncs()
    change = fake_api.put("INC-9", live=False, urgency="high", status="c", notes="x" * 140_000)
    slim = {k: change[k] for k in ("version", "type", "keys", "eventId", "sequence")}
    fake_api.send(slim | {"truncated": True})
    board = wait_rows(
        driver, lambda r: any(x["truncated"] for x in r), "INC-9 flagged as truncated"
    )
    row = next(r for r in board if r["id"] == "INC-9")
    assert "too large to send live" in row["text"]
    wait_until(
        lambda: {"action": "sync", "incidents": ["INC-9"]} in fake_api.live_peers()[0].received,
        what="the board to fetch INC-9 by id",
    )
    gate.set()
    board = wait_rows(
        driver,
        lambda r: any(x["id"] == "INC-9" and x["status"] == "c" and not x["truncated"] for x in r),
        "INC-9 fetched whole (in parts: over 128 KB)",
    )


def test_keepalive_pings_are_answered(open_board, fake_api) -> None:
    driver = open_board(fake_api.url(), pingMs="1000")
    wait_live(driver, fake_api)
    peer = fake_api.live_peers()[0]
    wait_until(lambda: {"action": "ping"} in peer.received, what="a ping from the board")
    wait_until(
        lambda: driver.find_element(By.ID, "status").get_attribute("data-last-pong"),
        what="the board to see the pong",
    )
    # The subscription (the board always asks, to show the areas the token allows) and the sync
    # on open, then only pings.
    assert peer.received[:2] == [{"action": "subscribe", "filter": {}}, {"action": "sync"}]
    assert all(frame == {"action": "ping"} for frame in peer.received[2:])
    assert status(driver) == "open"


def test_reconnects_after_the_server_drops_the_socket(open_board, fake_api) -> None:
    driver = open_board(fake_api.url())
    wait_live(driver, fake_api)
    fake_api.send(created("INC-1", urgency="high", status="open"))
    wait_rows(driver, lambda r: len(r) == 1, "INC-1 before the drop")

    fake_api.drop()
    wait_until(lambda: status(driver) == "reconnecting", what="the indicator to show the drop")
    wait_until(lambda: len(fake_api.peers) == 2, what="a second connection")
    wait_live(driver, fake_api)
    assert fake_api.peers[1].query == fake_api.peers[0].query  # same identity again
    assert fake_api.syncs(fake_api.peers[1])[0]["since"].startswith("v1:")  # a catch-up
    wait_until(lambda: "caught up on 0 changes" in notice(driver), what="the catch-up notice")

    # The board kept what it had and goes on with the new connection.
    fake_api.send(incident_message("INC-1", urgency="high", status="resolved"))
    fake_api.send(created("INC-2", urgency="low", status="open"))
    board = wait_rows(driver, lambda r: len(r) == 2, "INC-2 after the reconnect")
    assert [(r["id"], r["status"]) for r in board] == [("INC-1", "resolved"), ("INC-2", "open")]


def test_board_opened_after_incidents_exist_shows_them(open_board, fake_api) -> None:
    fake_api.put("INC-1", live=False, urgency="low", status="open", title="Fallen tree")
    fake_api.put("INC-2", live=False, urgency="critical", status="dispatched")
    fake_api.put("INC-3", live=False, urgency="medium", status="open")
    fake_api.remove("INC-3", live=False)  # gone before the board opened: never shown
    driver = open_board(fake_api.url())
    board = wait_rows(driver, lambda r: len(r) == 2, "the two existing incidents")
    assert [(r["id"], r["status"]) for r in board] == [("INC-2", "dispatched"), ("INC-1", "open")]
    assert "Fallen tree" in board[1]["text"]
    assert fake_api.syncs(fake_api.live_peers()[0]) == [{"action": "sync"}]
    wait_live(driver, fake_api)
    assert notice(driver) == ""
    # The first load is no change: nothing flashes.
    assert not driver.find_elements(By.CSS_SELECTOR, "tr.changed")
    # And it goes on live.
    fake_api.put("INC-1", urgency="low", status="acknowledged", title="Fallen tree")
    wait_rows(driver, lambda r: r[1]["status"] == "acknowledged", "INC-1 acknowledged live")


def test_changes_made_while_disconnected_appear_after_the_reconnect(open_board, fake_api) -> None:
    driver = open_on_existing(open_board, fake_api, two_open("medium"))
    cursor = driver.execute_script("return window.realtimeBoard.client.cursor")

    # Away: the server refuses the board's attempts while three changes are made (their live
    # messages reach no one).
    fake_api.refuse = True
    fake_api.drop()
    wait_until(lambda: status(driver) in {"reconnecting", "refused"}, what="the drop to show")
    fake_api.put("INC-1", urgency="critical", status="escalated")
    fake_api.put("INC-3", urgency="high", status="open", title="Gas leak")
    fake_api.remove("INC-2")
    wait_until(lambda: fake_api.refused >= 1, what="a refused reconnect")
    assert [r["id"] for r in rows(driver)] == ["INC-1", "INC-2"]  # nothing known yet

    fake_api.refuse = False
    board = wait_rows(
        driver,
        lambda r: [x["id"] for x in r] == ["INC-1", "INC-3"] and r[0]["status"] == "escalated",
        "the changes made meanwhile, without a reload",
    )
    assert board[0]["escalated"]
    assert "Gas leak" in board[1]["text"]
    wait_until(lambda: "caught up on 3 changes" in notice(driver), what="the catch-up notice")
    assert fake_api.syncs(fake_api.live_peers()[0]) == [{"action": "sync", "since": cursor}]
    assert driver.execute_script("return performance.getEntriesByType('navigation').length") == 1


def test_removed_incident_disappears(open_board, fake_api) -> None:
    driver = open_on_existing(open_board, fake_api, two_open("high"))
    fake_api.remove("INC-1")
    board = wait_rows(driver, lambda r: [x["id"] for x in r] == ["INC-2"], "INC-1 removed")
    assert "1 incident" in driver.find_element(By.ID, "counts").text
    # A late, older update of the removed incident does not bring it back.
    fake_api.send(incident_message("INC-1", sequence="1", urgency="high", status="zombie"))
    fake_api.put("INC-2", urgency="low", status="acknowledged")  # a marker sent after it
    board = wait_rows(driver, lambda r: r[0]["status"] == "acknowledged", "INC-2 acknowledged")
    assert [r["id"] for r in board] == ["INC-2"]


def test_expired_cursor_reloads_everything(open_board, fake_api) -> None:
    driver = open_on_existing(open_board, fake_api, two_open("high"))
    # Away longer than the retention: INC-2's tombstone is gone too, only a reset can tell.
    fake_api.refuse = True
    fake_api.drop()
    wait_until(lambda: fake_api.refused >= 1, what="a refused reconnect")
    with fake_api._lock:
        del fake_api.state["INC-2"]
    fake_api.expire_cursors()
    fake_api.refuse = False
    wait_rows(driver, lambda r: [x["id"] for x in r] == ["INC-1"], "INC-2 dropped by the reset")
    wait_until(lambda: "reloaded every incident" in notice(driver), what="the reset notice")


def test_throttled_sync_is_retried(open_board, fake_api) -> None:
    fake_api.put("INC-1", live=False, urgency="high", status="open")
    fake_api.throttle_syncs(1, retry_after_ms=700)
    driver = open_board(fake_api.url())
    wait_until(lambda: "trying again" in notice(driver), what="the board to say it retries")
    wait_rows(driver, lambda r: len(r) == 1, "INC-1 after the retry")
    wait_until(lambda: notice(driver) == "", what="the notice to clear")
    assert len(fake_api.syncs(fake_api.live_peers()[0])) == 2


def test_refused_connection_is_shown_as_refused(open_board, fake_api) -> None:
    fake_api.refuse = True
    driver = open_board(fake_api.url("userId=mallory&role=root"))
    wait_until(lambda: status(driver) == "refused", what="the indicator to show the refusal")
    assert "Refused" in driver.find_element(By.ID, "status").text
    assert "identity" in driver.find_element(By.ID, "notice").text
    assert fake_api.refused >= 1
    assert fake_api.peers == []

    # Once the server accepts again, the board connects by itself.
    fake_api.refuse = False
    wait_live(driver, fake_api)


@pytest.mark.parametrize("token_in", ["query", "protocol"])
def test_token_travels_as_query_parameter_or_subprotocol(open_board, fake_api, token_in) -> None:
    token = "eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl"  # JWT-shaped: dots, no padding
    driver = open_board(fake_api.url(query=""), token=token, tokenIn=token_in)
    wait_live(driver, fake_api)
    peer = fake_api.live_peers()[0]
    if token_in == "query":
        assert parse_qs(peer.query) == {"token": [token]}
        assert peer.subprotocol is None
    else:
        assert peer.query == ""
        assert peer.offered == ["bearer", token]  # what the stack's authorizer reads
        assert peer.subprotocol == "bearer"  # never the token


def test_board_screenshot(open_board, fake_api, tmp_path: Path) -> None:
    """A board with a few incidents; BOARD_SCREENSHOT=<path> keeps the picture (README)."""
    driver = open_board(fake_api.url())
    wait_live(driver, fake_api)
    day = "2026-12-01T"
    incidents = {
        "INC-2026-0041": ("low", "open", "Smoke reported at bus depot", "Depot Road", "14:02:11Z"),
        "INC-2026-0042": (
            "high",
            "dispatched",
            "Structure fire, 3rd floor",
            "Calle Mayor 12",
            "14:05:40Z",
        ),
        "INC-2026-0043": (
            "medium",
            "acknowledged",
            "Traffic collision, two cars",
            "Ring road km 4",
            "14:07:03Z",
        ),
        "INC-2026-0044": (
            "critical",
            "on scene",
            "Gas leak in residential block",
            "Elm Street 8",
            "14:09:27Z",
        ),
        "INC-2026-0045": ("low", "open", "Fallen tree blocking lane", "Park Avenue", "14:10:55Z"),
    }
    shown_as = {}
    for incident_id, (urgency, state, title, area, at) in incidents.items():
        shown_as[incident_id] = dict(
            urgency=urgency, status=state, title=title, area=area, createdAt=day + at
        )
        fake_api.send(created(incident_id, **shown_as[incident_id], updatedAt=day + at))
    # Two escalations: a low incident raised to high, and a medium one escalated.
    for incident_id, change, at in (
        ("INC-2026-0041", {"urgency": "high"}, "14:11:30Z"),
        ("INC-2026-0043", {"status": "escalated"}, "14:12:08Z"),
    ):
        fake_api.send(
            incident_message(incident_id, **{**shown_as[incident_id], **change}, updatedAt=day + at)
        )
    board = wait_rows(
        driver, lambda r: len(r) == 5 and sum(x["escalated"] for x in r) == 2, "the demo board"
    )
    assert [r["urgency"] for r in board] == ["critical", "high", "high", "medium", "low"]
    # Let the "just changed" flash fade so the picture shows the steady state.
    wait_until(
        lambda: not driver.find_elements(By.CSS_SELECTOR, "tr.changed"), what="the flash to fade"
    )
    shot = tmp_path / "board.png"
    size = driver.get_window_size()
    # A viewport just taller than the board, not an empty page below it.
    chrome = driver.execute_script("return window.outerHeight - window.innerHeight")
    height = driver.execute_script(
        "return document.querySelector('main').getBoundingClientRect().bottom"
    )
    driver.set_window_size(1200, int(height) + int(chrome))
    try:
        assert driver.save_screenshot(str(shot))
    finally:
        driver.set_window_size(size["width"], size["height"])
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    keep = os.environ.get("BOARD_SCREENSHOT")
    if keep:
        target = Path(keep) if Path(keep).is_absolute() else REPO / keep
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)


def test_without_a_url_the_board_says_how_to_give_one(browser, static_site) -> None:
    browser.get(f"{static_site}/board/index.html")
    wait_until(lambda: status(browser) == "closed", what="the board to give up without a URL")
    setup = browser.find_element(By.ID, "setup")
    assert setup.is_displayed()
    assert "url=" in setup.text
    browser.get("about:blank")


# -- the area and urgency filters ---------------------------------------------------------------
# The fake applies the stack's own filter model (realtime_common.filters): a connection's areas
# come from its connect query string (written as a token's areas claim), its filter from the
# connect URL and the subscribe message.
NORTH_AND_HARBOUR = "userId=alice&role=dispatcher&areas=north,harbour"


def shown(driver: WebDriver) -> set[str]:
    return {row["id"] for row in rows(driver)}


def wait_shown(driver: WebDriver, expected: set[str], what: str) -> None:
    wait_until(lambda: shown(driver) == expected, what=f"{what}: rows {sorted(expected)}")


def page_filter(driver: WebDriver) -> dict[str, list[str]]:
    """The filter parameters of the board's own URL."""
    query = parse_qs(urlsplit(driver.current_url).query)
    return {name: query[name] for name in ("area", "urgency") if name in query}


def allowed(driver: WebDriver) -> str:
    return driver.find_element(By.ID, "areas-allowed").text


def type_area(driver: WebDriver, text: str) -> None:
    field = driver.find_element(By.ID, "filter-area")
    field.clear()
    field.send_keys(text, Keys.ENTER)


def subscribes(api: FakeWebSocketApi, peer_index: int) -> list[object]:
    peer = api.peers[peer_index]
    return [f["filter"] for f in peer.received if f.get("action") == "subscribe"]


def test_the_area_filter_narrows_the_rows_and_survives_a_reconnect_and_a_reload(
    open_board, fake_api
) -> None:
    fake_api.put("N-1", live=False, area="north", urgency="high", status="open")
    fake_api.put("N-2", live=False, area="north", urgency="low", status="open")
    fake_api.put("H-1", live=False, area="harbour", urgency="critical", status="open")
    fake_api.put("S-1", live=False, area="south", urgency="high", status="open")

    driver = open_board(fake_api.url(NORTH_AND_HARBOUR), area="north")
    wait_shown(driver, {"N-1", "N-2"}, "the north incidents only")
    wait_live(driver, fake_api)
    assert driver.find_element(By.ID, "filter-area").get_attribute("value") == "north"
    wait_until(lambda: allowed(driver) == "Allowed: harbour, north", what="the token's areas")
    # Subscribed from the connect URL on, and by message before the sync.
    first = fake_api.peers[0]
    assert json.loads(parse_qs(first.query)["filter"][0]) == {"area": ["north"]}
    assert first.received[:2] == [
        {"action": "subscribe", "filter": {"area": ["north"]}},
        {"action": "sync"},
    ]

    # The header's filter: harbour instead, kept in the page's URL.
    type_area(driver, "harbour")
    wait_shown(driver, {"H-1"}, "the harbour incidents after changing the filter")
    assert page_filter(driver) == {"area": ["harbour"]}
    assert subscribes(fake_api, 0)[-1] == {"area": ["harbour"]}

    # The connection drops: the board reconnects with the same filter, before its catch-up.
    fake_api.drop()
    wait_until(lambda: len(fake_api.peers) == 2, what="a second connection")
    wait_live(driver, fake_api)
    second = fake_api.peers[1]
    assert json.loads(parse_qs(second.query)["filter"][0]) == {"area": ["harbour"]}
    assert second.received[0] == {"action": "subscribe", "filter": {"area": ["harbour"]}}
    assert second.received[1]["action"] == "sync"
    assert "since" in second.received[1]  # a catch-up, not a reload
    assert shown(driver) == {"H-1"}

    # Live: only harbour arrives; an incident moved out of harbour leaves the board.
    fake_api.put("N-3", area="north", urgency="critical", status="open")
    fake_api.put("H-2", area="harbour", urgency="medium", status="open")
    wait_shown(driver, {"H-1", "H-2"}, "the new harbour incident live")
    fake_api.put("H-1", area="north", urgency="critical", status="open")
    wait_shown(driver, {"H-2"}, "H-1 gone after moving to north (incident.left)")

    # A reload keeps the filter (it is in the URL).
    driver.refresh()
    wait_live(driver, fake_api, peers=1)
    wait_shown(driver, {"H-2"}, "the harbour incidents after a reload")
    assert driver.find_element(By.ID, "filter-area").get_attribute("value") == "harbour"


def test_the_urgency_filter_and_an_area_the_token_does_not_allow(open_board, fake_api) -> None:
    fake_api.put("N-1", live=False, area="north", urgency="high", status="open")
    fake_api.put("N-2", live=False, area="north", urgency="low", status="open")
    fake_api.put("H-1", live=False, area="harbour", urgency="critical", status="open")
    driver = open_board(fake_api.url("userId=bob&role=viewer&areas=north"))
    wait_shown(driver, {"N-1", "N-2"}, "everything the north token allows")
    wait_until(lambda: allowed(driver) == "Allowed: north", what="the token's areas")

    driver.find_element(By.CSS_SELECTOR, '#filter-urgency input[value="high"]').click()
    wait_shown(driver, {"N-1"}, "the high-urgency incidents")
    assert page_filter(driver) == {"urgency": ["high"]}

    # Asking for harbour with a north token: narrowed, not refused, and nothing from harbour.
    type_area(driver, "harbour")
    wait_until(lambda: "filter narrowed" in allowed(driver), what="the narrowing shown")
    wait_shown(driver, set(), "no rows")
    fake_api.put("H-2", area="harbour", urgency="high", status="open")
    fake_api.put("N-3", area="north", urgency="high", status="open")
    wait_until(lambda: len(fake_api.live_peers()[0].received) > 0, what="the connection")
    assert shown(driver) == set()
