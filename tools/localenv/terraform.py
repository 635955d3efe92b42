"""The one Terraform runner: a subprocess in a module directory, stdout kept for results."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path


class TerraformError(RuntimeError):
    """A terraform command that failed or could not run; the message says which and why."""


def terraform_env(
    base: Mapping[str, str], sdk_env: Mapping[str, str], data_dir: Path, cli_config: Path
) -> dict[str, str]:
    """``base`` with the emulator's SDK settings, TF_DATA_DIR and non-interactive Terraform.

    When TF_PLUGIN_DIR is set but TF_CLI_CONFIG_FILE is not (a bare ``pytest``, not ``make``),
    ``cli_config`` (the provider-mirror configuration the Makefile writes) is used if it exists.
    """
    env = {**base, **sdk_env}
    if env.get("TF_PLUGIN_DIR") and "TF_CLI_CONFIG_FILE" not in env and cli_config.exists():
        env["TF_CLI_CONFIG_FILE"] = str(cli_config)
    env.update(
        {
            "TF_DATA_DIR": str(data_dir),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    return env


def run(
    args: Sequence[str],
    *,
    chdir: Path,
    env: Mapping[str, str],
    capture: bool = False,
    check: bool = True,
    binary: str = "terraform",
) -> subprocess.CompletedProcess[str]:
    """``terraform -chdir=<chdir> <args>``.

    Without ``capture`` Terraform's output goes to stderr, so stdout stays for the caller's own
    result; with it, stdout and stderr are returned. ``check`` raises TerraformError on a
    non-zero exit (with the end of the captured output, if any).
    """
    executable = shutil.which(binary)
    if executable is None:
        raise TerraformError(f"{binary} is not on PATH (see the README's prerequisites)")
    proc = subprocess.run(  # noqa: S603 - terraform from PATH, our own arguments
        [executable, f"-chdir={chdir}", *args],
        check=False,
        env=dict(env),
        text=True,
        stdout=subprocess.PIPE if capture else sys.stderr,
        stderr=subprocess.PIPE if capture else None,
    )
    if check and proc.returncode != 0:
        detail = f":\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}" if capture else "; see above"
        raise TerraformError(f"'terraform {args[0]}' failed (exit {proc.returncode}){detail}")
    return proc
