"""The live incident board (clients/board) served on 127.0.0.1 for the local stack.

A stdlib ``http.server`` serving the repository's ``clients/`` directory, run as a detached
process like the emulator: its pid, port and log live in the state directory, `down` stops it.
The board's URL carries the WebSocket URL to connect to, identity included (``board_url``).
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from tools.localenv import process
from tools.localenv.process import HOST

DEFAULT_BOARD_PORT = 4580
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 5.0
BOARD_PAGE = "board/index.html"


class BoardError(process.ProcessError):
    """The board's web server cannot start; the message says what to do instead."""


@dataclass(frozen=True)
class BoardServer(process.Server):
    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"


def files(state_dir: Path) -> process.ProcessFiles:
    return process.ProcessFiles(state_dir, "board")


def board_url(base_url: str, ws_url: str, token: str | None = None) -> str:
    """The board page, told which WebSocket URL to connect to and with which token (if any)."""
    url = f"{base_url}/{BOARD_PAGE}?url={quote(ws_url, safe='')}"
    return f"{url}&token={quote(token, safe='')}" if token else url


def serves_board(port: int) -> bool:
    url = f"http://{HOST}:{port}/{BOARD_PAGE}"
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def running(state_dir: Path) -> BoardServer | None:
    """The board server started from ``state_dir``, if it is alive and serving the board."""
    return process.running(files(state_dir), serves_board, BoardServer)


def choose_port(asked: int | None) -> int:
    """``asked`` (BOARD_PORT) when given; else the default port, or a free one when it is taken."""
    if asked is not None:
        if process.port_open(asked):
            raise BoardError(
                f"port {asked} on {HOST} is already in use: stop what holds it or "
                f"choose another, e.g. BOARD_PORT={asked + 1} make up"
            )
        return asked
    if not process.port_open(DEFAULT_BOARD_PORT):
        return DEFAULT_BOARD_PORT
    return process.free_port()


def start(state_dir: Path, directory: Path, port: int | None = None) -> BoardServer:
    """Serve ``directory`` on 127.0.0.1 (the running server of ``state_dir`` is reused)."""
    current = running(state_dir)
    if current is not None and (port is None or current.port == port):
        return current
    if current is not None:
        stop(state_dir)
    chosen = choose_port(port)
    command = [sys.executable, "-m", "http.server", "--bind", HOST]
    command += ["--directory", str(directory), str(chosen)]
    return process.start(
        files(state_dir),
        command,
        chosen,
        serves_board,
        BoardServer,
        what="the board's web server",
        error=BoardError,
        timeout_s=START_TIMEOUT_S,
    )


def stop(state_dir: Path) -> bool:
    """Stop the board server of ``state_dir``. Returns False when none was running."""
    return process.stop(files(state_dir), STOP_TIMEOUT_S)
