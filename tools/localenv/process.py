"""A detached background server of the local environment (the emulator, the board's web server).

Each one belongs to a state directory, where its pid, port and log live (``<name>.pid``,
``<name>.port``, ``<name>.log``): `up` starts it there (or finds it running), `down` stops it. It
runs in a session of its own, so stopping it stops its children too, and outlives the command
that started it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

HOST = "127.0.0.1"


class ProcessError(RuntimeError):
    """A background server that could not be started; each server has its own subclass."""


@dataclass(frozen=True)
class ProcessFiles:
    """The pid, port and log files of the server ``name`` of one state directory."""

    state_dir: Path
    name: str

    @property
    def pid_file(self) -> Path:
        return self.state_dir / f"{self.name}.pid"

    @property
    def port_file(self) -> Path:
        return self.state_dir / f"{self.name}.port"

    @property
    def log_file(self) -> Path:
        return self.state_dir / f"{self.name}.log"

    def recorded(self) -> tuple[int, int] | None:
        """(pid, port) as the last start wrote them; None when missing or unreadable."""
        try:
            return int(self.pid_file.read_text()), int(self.port_file.read_text())
        except (FileNotFoundError, ValueError):
            return None

    def forget(self) -> None:
        self.pid_file.unlink(missing_ok=True)
        self.port_file.unlink(missing_ok=True)


@dataclass(frozen=True)
class Server:
    port: int
    pid: int


S = TypeVar("S", bound=Server)


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((HOST, port)) == 0


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def pid_alive(pid: int) -> bool:
    # A server started by this very process stays a zombie until reaped, and a zombie still
    # answers kill(pid, 0): reap it first (ChildProcessError when it is not our child).
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running(files: ProcessFiles, ready: Callable[[int], bool], kind: type[S]) -> S | None:
    """The server ``files`` records (as a ``kind``), if it is alive and ``ready(port)``."""
    recorded = files.recorded()
    if recorded is None:
        return None
    pid, port = recorded
    if pid_alive(pid) and ready(port):
        return kind(port=port, pid=pid)
    return None


def start(
    files: ProcessFiles,
    command: Sequence[str],
    port: int,
    ready: Callable[[int], bool],
    kind: type[S],
    *,
    what: str,
    error: type[ProcessError],
    timeout_s: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    poll_s: float = 0.1,
) -> S:
    """Run ``command`` detached (output to the log), record its pid and port, and wait until
    ``ready(port)``. A server that exits or does not answer within ``timeout_s`` is stopped and
    forgotten, and ``error`` names ``what`` and the end of its log."""
    files.state_dir.mkdir(parents=True, exist_ok=True)
    with files.log_file.open("wb") as log:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            list(command),
            cwd=cwd,
            env=None if env is None else dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    files.pid_file.write_text(f"{proc.pid}\n")
    files.port_file.write_text(f"{port}\n")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            files.forget()
            raise error(
                f"{what} exited with status {proc.returncode} while starting; "
                f"see {files.log_file}:\n{tail(files.log_file)}"
            )
        if ready(port):
            return kind(port=port, pid=proc.pid)
        time.sleep(poll_s)
    stop(files)
    raise error(
        f"{what} did not answer on {HOST}:{port} within {timeout_s:.0f}s; "
        f"see {files.log_file}:\n{tail(files.log_file)}"
    )


def stop(files: ProcessFiles, timeout_s: float = 10.0) -> bool:
    """Stop the server ``files`` records (SIGTERM to its session, SIGKILL after ``timeout_s``)
    and forget it. Returns False when none was running."""
    try:
        pid = int(files.pid_file.read_text())
    except (FileNotFoundError, ValueError):
        files.forget()
        return False
    files.forget()
    if not pid_alive(pid):
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.05)
    if pid_alive(pid):
        os.killpg(pid, signal.SIGKILL)
    return True


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"
