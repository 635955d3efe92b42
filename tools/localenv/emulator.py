"""Start, stop and find the embedded AWS emulator (ministack) on 127.0.0.1.

The emulator runs as a detached process; its pid, port and log live in a state directory of the
caller's choosing (the local stack's ``.local/``, or a temporary one for a private emulator).
``start`` is idempotent: the emulator of that state directory, already up on the requested port,
is reused, and a port held by anything else is reported instead of silently shared.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
# The region of envs/local.tfvars. Fixed, not taken from AWS_REGION: a shell set up for a real
# account must not put the demo table, the queue or the layer in another region than the stack.
REGION = "us-east-1"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


class EmulatorError(RuntimeError):
    """A start or stop that could not be carried out; the message says why and what to do."""


@dataclass(frozen=True)
class Emulator:
    port: int
    pid: int

    @property
    def endpoint(self) -> str:
        return endpoint(self.port)

    def sdk_env(self) -> dict[str, str]:
        return sdk_env(self.endpoint)


@dataclass(frozen=True)
class EmulatorFiles:
    """The pid, port and log files of the emulator that belongs to one state directory."""

    state_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "ministack.pid"

    @property
    def port_file(self) -> Path:
        return self.state_dir / "ministack.port"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "ministack.log"


def endpoint(port: int) -> str:
    return f"http://{HOST}:{port}"


def sdk_env(endpoint: str) -> dict[str, str]:
    """Environment that points boto3 and the Terraform AWS provider at the emulator."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",  # the emulator's fixed local credentials
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((HOST, port)) == 0


def free_port() -> int:
    """A port nothing listens on right now, for a private emulator."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def healthy(port: int) -> bool:
    """The emulator on ``port`` answers its health check with DynamoDB and Lambda available."""
    url = f"{endpoint(port)}/_ministack/health"
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - http://127.0.0.1 only
            body = json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError):
        return False
    services = body.get("services", {})
    return all(services.get(name) in {"available", "running"} for name in ("dynamodb", "lambda"))


def pid_alive(pid: int) -> bool:
    # An emulator started by this very process stays a zombie until reaped, and a zombie still
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


def running(state_dir: Path) -> Emulator | None:
    """The emulator started from ``state_dir``, if it is still alive and answering."""
    files = EmulatorFiles(state_dir)
    try:
        pid = int(files.pid_file.read_text().strip())
        port = int(files.port_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    if pid_alive(pid) and healthy(port):
        return Emulator(port=port, pid=pid)
    return None


def start(state_dir: Path, port: int, python: str | None = None) -> Emulator:
    """Start the emulator of ``state_dir`` on ``port`` (or return it when already up there).

    ``python`` (else this interpreter) runs the emulator. ministack runs Python Lambdas on its own
    interpreter, so every package importable there is importable by the functions too; the local
    stack passes a virtual environment holding only ministack (see tools.localenv.venv), so the
    functions see what the Lambda runtime gives them.
    """
    # abspath, not resolve: resolving a venv's python symlink would leave the venv.
    interpreter = os.path.abspath(python or sys.executable)
    current = running(state_dir)
    if current is not None:
        if current.port != port:
            raise EmulatorError(
                f"the emulator is already running on port {current.port} (pid {current.pid}); "
                f"run 'make down' first or use EMULATOR_PORT={current.port}"
            )
        return current
    if port_open(port):
        raise EmulatorError(
            f"port {port} on {HOST} is already in use by another process; "
            f"stop it or choose another port, e.g. EMULATOR_PORT={port + 1} make up"
        )
    if not os.access(interpreter, os.X_OK):
        raise EmulatorError(f"{interpreter} is not an executable interpreter")
    files = EmulatorFiles(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "GATEWAY_PORT": str(port),
        "BIND_HOST": HOST,
        "MINISTACK_HOST": HOST,
        "MINISTACK_REGION": REGION,
        "IOT_MTLS_ENABLED": "0",  # no extra MQTT listener on a fixed port
        "SFTP_ENABLED": "0",
        "TMPDIR": str(state_dir),
    }
    command = [interpreter, "-m", "hypercorn", "ministack.app:app"]
    with files.log_file.open("wb") as log:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [*command, "--bind", f"{HOST}:{port}", "--keep-alive", "75"],
            cwd=state_dir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    files.pid_file.write_text(f"{proc.pid}\n")
    files.port_file.write_text(f"{port}\n")
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _forget(files)
            raise EmulatorError(
                f"the emulator exited with status {proc.returncode} while starting; "
                f"see {files.log_file}:\n{_tail(files.log_file)}"
            )
        if healthy(port):
            return Emulator(port=port, pid=proc.pid)
        time.sleep(0.2)
    _terminate(proc.pid)
    _forget(files)
    raise EmulatorError(
        f"the emulator did not answer on {HOST}:{port} within {START_TIMEOUT_S:.0f}s; "
        f"see {files.log_file}:\n{_tail(files.log_file)}"
    )


def stop(state_dir: Path) -> bool:
    """Stop the emulator started from ``state_dir``. Returns False when none was running."""
    files = EmulatorFiles(state_dir)
    try:
        pid = int(files.pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        _forget(files)
        return False
    stopped = _terminate(pid)
    _forget(files)
    return stopped


@contextlib.contextmanager
def private(state_dir: Path, port: int | None = None) -> Iterator[Emulator]:
    """An emulator of its own (own state directory, a free port unless given), stopped after."""
    emu = start(state_dir, port if port is not None else free_port())
    try:
        yield emu
    finally:
        stop(state_dir)


def _terminate(pid: int) -> bool:
    if not pid_alive(pid):
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.1)
    if pid_alive(pid):
        os.killpg(pid, signal.SIGKILL)
    return True


def _forget(files: EmulatorFiles) -> None:
    files.pid_file.unlink(missing_ok=True)
    files.port_file.unlink(missing_ok=True)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"
