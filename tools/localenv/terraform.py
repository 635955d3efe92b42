"""The one Terraform runner: a subprocess in a module directory, stdout kept for results."""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from tools import terraform_rc

# Subcommands that take -no-color (not every one does: `fmt`, `providers lock`, `version`).
COLOR_COMMANDS = frozenset(
    {"init", "plan", "apply", "destroy", "output", "show", "refresh", "validate", "test"}
)
# What `terraform init` prints when it cannot reach the registry to download a provider.
REGISTRY_FAILURES = re.compile(
    r"Failed to query available provider packages|Failed to install provider"
    r"|could not connect to registry\.terraform\.io|Failed to retrieve available versions"
    r"|registry\.terraform\.io.*(no such host|dial tcp|i/o timeout|connection refused|"
    r"Client\.Timeout|TLS handshake)",
)


class TerraformError(RuntimeError):
    """A terraform command that failed or could not run; the message says which and why."""


class ProviderDownloadError(TerraformError):
    """`terraform init` could not download the AWS provider (offline, or the registry is down)."""


# Where provider mirrors usually are (Terraform's implied local mirror directories included).
MIRROR_CANDIDATES = (
    "/opt/tf-plugins",
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
)


def find_mirrors(candidates: Sequence[str] = MIRROR_CANDIDATES) -> list[Path]:
    """The candidate directories that hold a registry.terraform.io/hashicorp/aws mirror."""
    found = []
    for candidate in candidates:
        path = Path(candidate).expanduser()
        if (path / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
            found.append(path)
    return found


def offline_hint(mirrors: Sequence[Path]) -> str:
    """What to do when the provider cannot be downloaded, naming a mirror found here if any."""
    example = mirrors[0] if mirrors else "<mirror dir>"
    found = (
        f"A mirror is on this machine at {', '.join(map(str, mirrors))}."
        if mirrors
        else "To find one on this machine: find / -type d -path "
        "'*registry.terraform.io/hashicorp/aws' 2>/dev/null (TF_PLUGIN_DIR is the directory "
        "above registry.terraform.io); to make one where you are online: "
        "terraform providers mirror <dir>."
    )
    return (
        "terraform could not download the hashicorp/aws provider from registry.terraform.io "
        "(offline, or behind a firewall). Install it from a provider mirror instead: set "
        "TF_PLUGIN_DIR to a directory holding "
        f"registry.terraform.io/hashicorp/aws/<version>/<os_arch>/:\n"
        f"    TF_PLUGIN_DIR={example} make up\n{found}"
    )


def registry_failure(output: str) -> bool:
    """Whether terraform's output says it could not download a provider from the registry."""
    return REGISTRY_FAILURES.search(output) is not None


def color_args(args: Sequence[str], destination: IO[str] | None) -> list[str]:
    """``args`` with ``-no-color`` after the subcommand when the output is not a terminal."""
    args = list(args)
    is_terminal = destination is not None and destination.isatty()
    if args and args[0] in COLOR_COMMANDS and not is_terminal and "-no-color" not in args:
        return [args[0], "-no-color", *args[1:]]
    return args


def terraform_env(
    base: Mapping[str, str],
    sdk_env: Mapping[str, str],
    data_dir: Path,
    cli_config: Path = terraform_rc.DEFAULT_PATH,
) -> dict[str, str]:
    """``base`` with the emulator's SDK settings, TF_DATA_DIR and non-interactive Terraform.

    When TF_PLUGIN_DIR is set but TF_CLI_CONFIG_FILE is not, or names no file (a bare
    ``pytest``, not ``make``), the provider-mirror configuration is written to ``cli_config``
    (``tools.terraform_rc``, as the Makefile does) and used.
    """
    env = {**base, **sdk_env}
    given = env.get("TF_CLI_CONFIG_FILE")
    plugin_dir = env.get("TF_PLUGIN_DIR")
    if plugin_dir and not (given and Path(given).is_file()):
        terraform_rc.write(cli_config, plugin_dir)
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
    log_file: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """``terraform -chdir=<chdir> <args>``, with ``-no-color`` unless it writes to a terminal.

    Without ``capture`` Terraform's output goes to ``log_file`` (appended) when given, else to
    stderr, so stdout stays for the caller's own result; with ``capture``, stdout and stderr are
    returned. ``check`` raises TerraformError on a non-zero exit (with the end of the captured
    output, or the log's name); ProviderDownloadError, saying what to set, when `init` could not
    reach the registry.
    """
    executable = shutil.which(binary)
    if executable is None:
        raise TerraformError(f"{binary} is not on PATH (see the README's prerequisites)")
    with contextlib.ExitStack() as files:
        if capture:
            out: IO[str] | int = subprocess.PIPE
            err: IO[str] | int | None = subprocess.PIPE
            destination: IO[str] | None = None
        elif log_file is not None:
            out = destination = files.enter_context(log_file.open("a"))
            err = subprocess.STDOUT
        else:
            out = destination = sys.stderr
            err = None
        command = [executable, f"-chdir={chdir}", *color_args(args, destination)]
        proc = subprocess.run(  # noqa: S603 - terraform from PATH, our own arguments
            command, check=False, env=dict(env), text=True, stdout=out, stderr=err
        )
    if check and proc.returncode != 0:
        if capture:
            output = f"{proc.stdout}\n{proc.stderr}"
            detail = f":\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        elif log_file is not None:
            output = log_file.read_text(errors="replace")
            detail = f"; its output is in {log_file}"
        else:
            output, detail = "", "; see above"
        if args[0] == "init" and registry_failure(output):
            hint = offline_hint(find_mirrors())
            raise ProviderDownloadError(f"{hint}\n('terraform init' failed{detail})")
        raise TerraformError(f"'terraform {args[0]}' failed (exit {proc.returncode}){detail}")
    return proc


def registry_reachable(host: str = "registry.terraform.io", timeout: float = 4.0) -> bool:
    """Whether a TCP connection to the registry opens within ``timeout`` (DNS included)."""
    result: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)  # getaddrinfo has no timeout of its own
    thread.start()
    thread.join(timeout + 1)
    return bool(result and result[0])


def check_provider_source(
    env: Mapping[str, str],
    data_dir: Path,
    home: Path,
    reachable: Callable[[], bool] = registry_reachable,
) -> None:
    """Fail fast, before the emulator starts, when `terraform init` could not get the provider.

    TF_PLUGIN_DIR must hold hashicorp/aws; without it, and with no CLI configuration, proxy or
    provider already installed in ``data_dir``, the registry must be reachable.
    """
    plugin_dir = env.get("TF_PLUGIN_DIR")
    if plugin_dir:
        if not (Path(plugin_dir) / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
            raise ProviderDownloadError(
                f"TF_PLUGIN_DIR={plugin_dir} holds no registry.terraform.io/hashicorp/aws/: point "
                "it at the directory above registry.terraform.io in a provider mirror"
            )
        return
    installed = data_dir / "providers" / "registry.terraform.io" / "hashicorp" / "aws"
    given = env.get("TF_CLI_CONFIG_FILE")
    configured = (given and Path(given).is_file()) or (home / ".terraformrc").exists()
    proxied = any(env.get(name) for name in ("HTTPS_PROXY", "https_proxy"))
    if installed.is_dir() or configured or proxied:
        return
    if not reachable():
        raise ProviderDownloadError(offline_hint(find_mirrors()))
