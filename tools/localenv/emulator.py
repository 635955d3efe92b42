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
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tools.localenv import process
from tools.localenv.process import HOST, free_port

# The region of envs/local.tfvars. Fixed, not taken from AWS_REGION: a shell set up for a real
# account must not put the demo table, the queue or the layer in another region than the stack.
REGION = "us-east-1"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


class EmulatorError(process.ProcessError):
    """A start or stop that could not be carried out; the message says why and what to do."""


@dataclass(frozen=True)
class Emulator(process.Server):
    @property
    def endpoint(self) -> str:
        return endpoint(self.port)

    def sdk_env(self) -> dict[str, str]:
        return sdk_env(self.endpoint)


def files(state_dir: Path) -> process.ProcessFiles:
    """The pid, port and log files of the emulator that belongs to one state directory."""
    return process.ProcessFiles(state_dir, "ministack")


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


def running(state_dir: Path) -> Emulator | None:
    """The emulator started from ``state_dir``, if it is still alive and answering."""
    return process.running(files(state_dir), healthy, Emulator)


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
    if process.port_open(port):
        raise EmulatorError(
            f"port {port} on {HOST} is already in use by another process; "
            f"stop it or choose another port, e.g. EMULATOR_PORT={port + 1} make up"
        )
    if not os.access(interpreter, os.X_OK):
        raise EmulatorError(f"{interpreter} is not an executable interpreter")
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
    return process.start(
        files(state_dir),
        [*command, "--bind", f"{HOST}:{port}", "--keep-alive", "75"],
        port,
        healthy,
        Emulator,
        what="the emulator",
        error=EmulatorError,
        timeout_s=START_TIMEOUT_S,
        cwd=state_dir,
        env=env,
        poll_s=0.2,
    )


def stop(state_dir: Path) -> bool:
    """Stop the emulator started from ``state_dir``. Returns False when none was running."""
    return process.stop(files(state_dir), STOP_TIMEOUT_S)


@contextlib.contextmanager
def private(state_dir: Path, port: int | None = None) -> Iterator[Emulator]:
    """An emulator of its own (own state directory, a free port unless given), stopped after."""
    emu = start(state_dir, port if port is not None else free_port())
    try:
        yield emu
    finally:
        stop(state_dir)
