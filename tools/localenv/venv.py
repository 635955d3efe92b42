"""``.venv-emulator``: the interpreter the local Lambdas run on, with ministack and nothing else."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

from tools.localenv.log import log


class VenvError(RuntimeError):
    """The emulator's virtual environment cannot be made; the message says what to fix."""


def ministack_requirement(requirements: Path) -> str:
    """The ``ministack==<version>`` line of the dev requirements."""
    for line in requirements.read_text().splitlines():
        if line.strip().lower().startswith("ministack=="):
            return line.strip()
    raise VenvError(f"{requirements.name} pins no ministack version (no 'ministack==' line)")


def ensure_emulator_venv(venv: Path, requirements: Path, log_file: Path | None = None) -> Path:
    """A virtual environment holding only ministack; returns its python.

    ministack runs Python functions on the interpreter that runs it, so from the dev venv every
    function could import boto3, Powertools and pytest: a zip that forgot to vendor a dependency
    would still work locally and break on AWS. Here they see their zip, their layers and what
    ministack itself needs (botocore), as close to the Lambda runtime as the emulator allows.
    pip's output goes to ``log_file`` when given.
    """
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    requirement = ministack_requirement(requirements)
    if python.exists() and stamp.exists() and stamp.read_text().strip() == requirement:
        return python
    log(f"creating {venv.name} with {requirement} (the local Lambdas' interpreter)")
    base = getattr(sys, "_base_executable", sys.executable)
    with contextlib.ExitStack() as files:
        out = files.enter_context(log_file.open("a")) if log_file else None
        pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
        for command in ([base, "-m", "venv", "--clear", str(venv)], [*pip, requirement]):
            err = subprocess.STDOUT if out else None
            proc = subprocess.run(command, check=False, stdout=out, stderr=err)  # noqa: S603
            if proc.returncode != 0:
                where = f"; its output is in {log_file}" if log_file else ""
                what = " ".join(command[1:4])
                raise VenvError(f"'{what}' failed (exit {proc.returncode}){where}")
    stamp.write_text(requirement + "\n")
    return python
