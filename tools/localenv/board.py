"""The live incident board (clients/board) served on 127.0.0.1 for the local stack.

A stdlib ``http.server`` serving the repository's ``clients/`` directory, run as a detached
process like the emulator: its pid, port and log live in the state directory, `down` stops it.
The board's URL carries the WebSocket URL to connect to, identity included (``board_url``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from tools.localenv import emulator

DEFAULT_BOARD_PORT = 4580
START_TIMEOUT_S = 15.0
BOARD_PAGE = "board/index.html"


class BoardError(RuntimeError):
    """The board's web server cannot start; the message says what to do instead."""


@dataclass(frozen=True)
class BoardServer:
    port: int
    pid: int

    @property
    def base_url(self) -> str:
        return f"http://{emulator.HOST}:{self.port}"


@dataclass(frozen=True)
class BoardFiles:
    state_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "board.pid"

    @property
    def port_file(self) -> Path:
        return self.state_dir / "board.port"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "board.log"


def board_url(base_url: str, ws_url: str, token: str | None = None) -> str:
    """The board page, told which WebSocket URL to connect to and with which token (if any)."""
    url = f"{base_url}/{BOARD_PAGE}?url={quote(ws_url, safe='')}"
    return f"{url}&token={quote(token, safe='')}" if token else url


def serves_board(port: int) -> bool:
    url = f"http://{emulator.HOST}:{port}/{BOARD_PAGE}"
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def running(state_dir: Path) -> BoardServer | None:
    """The board server started from ``state_dir``, if it is alive and serving the board."""
    files = BoardFiles(state_dir)
    try:
        pid = int(files.pid_file.read_text().strip())
        port = int(files.port_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    if emulator.pid_alive(pid) and serves_board(port):
        return BoardServer(port=port, pid=pid)
    return None


def choose_port(asked: int | None) -> int:
    """``asked`` (BOARD_PORT) when given; else the default port, or a free one when it is taken."""
    if asked is not None:
        if emulator.port_open(asked):
            raise BoardError(
                f"port {asked} on {emulator.HOST} is already in use: stop what holds it or "
                f"choose another, e.g. BOARD_PORT={asked + 1} make up"
            )
        return asked
    if not emulator.port_open(DEFAULT_BOARD_PORT):
        return DEFAULT_BOARD_PORT
    return emulator.free_port()


def start(state_dir: Path, directory: Path, port: int | None = None) -> BoardServer:
    """Serve ``directory`` on 127.0.0.1 (the running server of ``state_dir`` is reused)."""
    current = running(state_dir)
    if current is not None and (port is None or current.port == port):
        return current
    if current is not None:
        stop(state_dir)
    chosen = choose_port(port)
    files = BoardFiles(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "http.server", "--bind", emulator.HOST]
    command += ["--directory", str(directory), str(chosen)]
    with files.log_file.open("wb") as log:
        proc = subprocess.Popen(  # noqa: S603 - this interpreter, our own arguments
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    files.pid_file.write_text(f"{proc.pid}\n")
    files.port_file.write_text(f"{chosen}\n")
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _forget(files)
            raise BoardError(
                f"the board's web server exited with status {proc.returncode}; see {files.log_file}"
            )
        if serves_board(chosen):
            return BoardServer(port=chosen, pid=proc.pid)
        time.sleep(0.1)
    stop(state_dir)
    raise BoardError(
        f"the board's web server did not answer on port {chosen}; see {files.log_file}"
    )


def stop(state_dir: Path) -> bool:
    """Stop the board server of ``state_dir``. Returns False when none was running."""
    files = BoardFiles(state_dir)
    try:
        pid = int(files.pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        _forget(files)
        return False
    stopped = False
    if emulator.pid_alive(pid):
        try:
            os.killpg(pid, signal.SIGTERM)
            stopped = True
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and emulator.pid_alive(pid):
            time.sleep(0.05)
    _forget(files)
    return stopped


def _forget(files: BoardFiles) -> None:
    files.pid_file.unlink(missing_ok=True)
    files.port_file.unlink(missing_ok=True)
