"""An environment's ``terraform output -json``, for the operations tools (redrive, backfill).

Each tool takes ``--env ENV`` (the outputs of ``.terraform/<env>``, as `make` keeps them) or
``--outputs FILE`` (a saved ``terraform output -json``); ``add_arguments`` declares both and
``read`` returns the outputs either way. ``Io`` is what a tool's ``main`` talks to besides AWS,
and ``refuse`` how it ends on a configuration error (exit status 2).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from tools.paths import ROOT

# Runs a command in a directory with extra environment; returns its stdout.
Runner = Callable[[Sequence[str], Path, Mapping[str, str]], str]


class OutputsError(RuntimeError):
    """The terraform outputs cannot be read, or do not name what the tool needs."""


# What reading the outputs raises, besides each tool's own configuration errors.
CONFIG_ERRORS: tuple[type[Exception], ...] = (OutputsError, OSError, ValueError)
CONFIG_ERROR_STATUS = 2  # the tools' exit status on a usage or configuration error


def run_command(command: Sequence[str], cwd: Path, env: Mapping[str, str]) -> str:
    import os  # noqa: PLC0415 - the process environment is read when a command runs, not at import

    result = subprocess.run(  # noqa: S603 - a fixed terraform command, no shell
        list(command),
        cwd=cwd,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


def terraform_outputs(root: Path, env_name: str, runner: Runner = run_command) -> dict[str, Any]:
    """``terraform output -json`` of ENV's working directory (``.terraform/<env>``, like make)."""
    data_dir = root / ".terraform" / env_name
    if not data_dir.is_dir():
        raise OutputsError(
            f"no terraform working directory {data_dir}: run 'make init ENV={env_name}' "
            "(or 'make plan ENV=...') first, or pass --outputs <file of terraform output -json>"
        )
    text = runner(["terraform", "output", "-json"], root, {"TF_DATA_DIR": str(data_dir)})
    return dict(json.loads(text))


def add_arguments(parser: argparse.ArgumentParser, names: str) -> None:
    """``--env`` or ``--outputs`` (one of them, required), and the hidden ``--root``; ``names``
    says what the outputs name for this tool ("the queues")."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--env", help=f"environment whose terraform outputs name {names}")
    source.add_argument(
        "--outputs", type=Path, help="a file holding `terraform output -json` instead of --env"
    )
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)


def read(args: argparse.Namespace, runner: Runner = run_command) -> dict[str, Any]:
    """The outputs ``add_arguments``' options point at; OutputsError, OSError or ValueError."""
    if args.outputs:
        return dict(json.loads(args.outputs.read_text()))
    return terraform_outputs(args.root, args.env, runner)


@dataclass(frozen=True)
class Io:
    """What an operations tool's ``main`` talks to besides AWS: terraform (``runner``), the
    report (``out``), progress and errors (``err``). Tests pass their own."""

    runner: Runner = run_command
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)


def refuse(prog: str, error: Exception, io: Io) -> int:
    """Say why ``prog`` cannot run (a configuration error, which names what to write) and
    return the exit status for it."""
    print(f"{prog}: {error}", file=io.err)
    return CONFIG_ERROR_STATUS
