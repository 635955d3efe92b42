"""Where to redrive from: the dead-letter queue URLs and function names in terraform outputs."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tools.redrive.run import Target

CONSUMERS = ("broadcaster", "notifier")

# Runs a command in a directory with extra environment; returns its stdout.
Runner = Callable[[Sequence[str], Path, Mapping[str, str]], str]


class OutputsError(RuntimeError):
    """The terraform outputs do not say where the dead-letter queues are."""


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


def targets(outputs: Mapping[str, Any], only: str | None = None) -> list[Target]:
    """The consumers to redrive, from ``terraform output -json`` (``{"name": {"value": ...}}``)."""

    def value(name: str) -> dict[str, str]:
        entry = outputs.get(name)
        found = entry.get("value") if isinstance(entry, Mapping) else None
        return {str(k): str(v) for k, v in found.items()} if isinstance(found, Mapping) else {}

    queues = value("dead_letter_queue_urls")
    functions = value("function_names")
    if not queues:
        raise OutputsError(
            "dead_letter_queue_urls is empty: this deployment has no stream mappings "
            "(incidents_stream_arn unset), so there is nothing to redrive"
        )
    chosen = [only] if only else list(CONSUMERS)
    found = []
    for name in chosen:
        if name not in queues or name not in functions:
            raise OutputsError(f"the outputs name no dead-letter queue or function for {name!r}")
        found.append(Target(name=name, queue_url=queues[name], function_name=functions[name]))
    return found
