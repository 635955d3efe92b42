"""Start, stop and inspect the embedded AWS emulator (ministack) on 127.0.0.1.

The emulator runs as a detached process; its pid and log live in ``.local/``
(gitignored). ``start`` is idempotent: when our emulator is already up on the
requested port it is reused, and a port held by anything else is reported
instead of silently shared.

    python scripts/emulator.py start [--port 4566]
    python scripts/emulator.py stop
    python scripts/emulator.py status
    python scripts/emulator.py env      # shell exports for the AWS SDKs / Terraform
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = Path(os.environ.get("LOCAL_STATE_DIR", ROOT / ".local"))
PID_FILE = STATE_DIR / "ministack.pid"
PORT_FILE = STATE_DIR / "ministack.port"
LOG_FILE = STATE_DIR / "ministack.log"
DEFAULT_PORT = int(os.environ.get("EMULATOR_PORT", "4566"))
HOST = "127.0.0.1"
# The region of envs/local.tfvars. Fixed, not taken from AWS_REGION: a shell set up for a real
# account must not put the demo table, the queue or the layer in another region than the stack.
REGION = "us-east-1"
START_TIMEOUT_S = 60.0


class EmulatorError(RuntimeError):
    """A start or stop that could not be carried out; the message says why and what to do."""


@dataclass(frozen=True)
class Emulator:
    port: int
    pid: int

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def sdk_env(self) -> dict[str, str]:
        return sdk_env(self.endpoint)


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


def _healthy(port: int) -> bool:
    url = f"http://{HOST}:{port}/_ministack/health"
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            body = json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError):
        return False
    services = body.get("services", {})
    return all(services.get(name) in {"available", "running"} for name in ("dynamodb", "lambda"))


def _pid_alive(pid: int) -> bool:
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


def running() -> Emulator | None:
    """The emulator this project started, if it is still alive and answering."""
    try:
        pid = int(PID_FILE.read_text().strip())
        port = int(PORT_FILE.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    if _pid_alive(pid) and _healthy(port):
        return Emulator(port=port, pid=pid)
    return None


def start(port: int = DEFAULT_PORT, python: str | None = None) -> Emulator:
    """Start the emulator (or return ours when it is already up on ``port``).

    ``python`` (else this interpreter) runs the emulator. ministack runs Python Lambdas on its own
    interpreter, so every package importable there is importable by the functions too; the local
    stack passes a virtual environment holding only ministack (see scripts/devstack.py), so the
    functions see what the Lambda runtime gives them.
    """
    # abspath, not resolve: resolving a venv's python symlink would leave the venv.
    interpreter = os.path.abspath(python or sys.executable)
    current = running()
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
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "GATEWAY_PORT": str(port),
        "BIND_HOST": HOST,
        "MINISTACK_HOST": HOST,
        "MINISTACK_REGION": REGION,
        "IOT_MTLS_ENABLED": "0",  # no extra MQTT listener on a fixed port
        "SFTP_ENABLED": "0",
        "TMPDIR": str(STATE_DIR),
    }
    with LOG_FILE.open("wb") as log:
        proc = subprocess.Popen(
            [
                interpreter,
                "-m",
                "hypercorn",
                "ministack.app:app",
                "--bind",
                f"{HOST}:{port}",
                "--keep-alive",
                "75",
            ],
            cwd=STATE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    PID_FILE.write_text(f"{proc.pid}\n")
    PORT_FILE.write_text(f"{port}\n")
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _forget()
            raise EmulatorError(
                f"the emulator exited with status {proc.returncode} while starting; "
                f"see {LOG_FILE}:\n{_tail(LOG_FILE)}"
            )
        if _healthy(port):
            return Emulator(port=port, pid=proc.pid)
        time.sleep(0.2)
    _terminate(proc.pid)
    _forget()
    raise EmulatorError(
        f"the emulator did not answer on {HOST}:{port} within {START_TIMEOUT_S:.0f}s; "
        f"see {LOG_FILE}:\n{_tail(LOG_FILE)}"
    )


def stop() -> bool:
    """Stop the emulator this project started. Returns False when none was running."""
    try:
        pid = int(PID_FILE.read_text().strip())
    except (FileNotFoundError, ValueError):
        _forget()
        return False
    stopped = _terminate(pid)
    _forget()
    return stopped


def _terminate(pid: int) -> bool:
    if not _pid_alive(pid):
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _pid_alive(pid):
        time.sleep(0.1)
    if _pid_alive(pid):
        os.killpg(pid, signal.SIGKILL)
    return True


def _forget() -> None:
    PID_FILE.unlink(missing_ok=True)
    PORT_FILE.unlink(missing_ok=True)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    start_p = sub.add_parser("start", help="start the emulator (or reuse ours if running)")
    start_p.add_argument("--port", type=int, default=DEFAULT_PORT)
    sub.add_parser("stop", help="stop the emulator this project started")
    sub.add_parser("status", help="exit 0 and print the endpoint when running, else exit 1")
    sub.add_parser("env", help="print shell exports pointing the AWS SDKs at the emulator")
    args = parser.parse_args(argv)

    try:
        if args.command == "start":
            emu = start(args.port)
            print(f"emulator running at {emu.endpoint} (pid {emu.pid}, log {LOG_FILE})")
        elif args.command == "stop":
            print("emulator stopped" if stop() else "emulator was not running")
        elif args.command == "status":
            emu = running()
            if emu is None:
                print("emulator not running")
                return 1
            print(emu.endpoint)
        elif args.command == "env":
            emu = running()
            if emu is None:
                print("emulator not running: run 'make up' first", file=sys.stderr)
                return 1
            for key, value in emu.sdk_env().items():
                print(f"export {key}={value}")
    except EmulatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
