"""Third-party packages installed for the Lambda platform, never for the build host.

pip downloads hash-checked wheels for the target platform (``--platform manylinux2014_<arch>
--python-version <x.y> --implementation cp --only-binary=:all: --require-hashes``) into a wheel
cache, then installs them from that cache alone into a tree keyed by the requirements' content and
the target: repeat builds do not touch the network, and two artifacts with the same requirements
share one tree.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from tools.build.artifacts import Target
from tools.build.errors import BuildError
from tools.build.locks import exclusive

# Installer bookkeeping that differs between pip runs or machines and is not needed at runtime.
DIST_INFO_NOISE = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})

Runner = Callable[[Sequence[str]], None]


def run(command: Sequence[str]) -> None:
    """Run a command; a failure becomes a :class:`BuildError` carrying its output."""
    result = subprocess.run(command, check=False, capture_output=True, text=True)  # noqa: S603
    if result.returncode != 0:
        raise BuildError(
            f"command failed ({result.returncode}): {' '.join(command)}\n{result.stdout}"
            f"{result.stderr}"
        )


def vendor_tree(requirements: Path, target: Target, cache: Path, runner: Runner = run) -> Path:
    """The packages of ``requirements`` installed for ``target``, cached by content."""
    key_source = requirements.read_bytes() + f"\0{target.platform}\0{target.python}".encode()
    key = hashlib.sha256(key_source).hexdigest()[:16]
    tree = cache / "vendor" / f"{target.platform}-py{target.python}-{key}"
    if (tree / ".complete").is_file():
        return tree
    # One build at a time downloads into the shared wheel cache and fills a tree.
    with exclusive(cache / "vendor.lock"):
        if not (tree / ".complete").is_file():
            _install_tree(requirements, target, cache, tree, runner)
    return tree


def _install_tree(
    requirements: Path, target: Target, cache: Path, tree: Path, runner: Runner
) -> None:
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    platform_args = [
        "--only-binary=:all:",
        "--platform",
        target.platform,
        "--python-version",
        target.python,
        "--implementation",
        "cp",
        "--require-hashes",
        "-r",
        str(requirements),
    ]
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    # Download first (skipped for wheels already in the cache), then install from the cache only.
    runner([*pip, "download", "--dest", str(wheels), *platform_args])
    staging = Path(tempfile.mkdtemp(prefix="vendor-", dir=cache))
    try:
        runner(
            [
                *pip,
                "install",
                "--no-index",
                "--find-links",
                str(wheels),
                "--no-compile",
                "--no-deps",
                "--target",
                str(staging),
                *platform_args,
            ]
        )
        (staging / ".complete").write_text("ok\n")
        if tree.exists():
            shutil.rmtree(tree)
        tree.parent.mkdir(parents=True, exist_ok=True)
        staging.rename(tree)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def vendored_files(tree: Path) -> list[tuple[str, Path]]:
    """(archive name, path) for every runtime file of a vendored tree, sorted by name."""
    files = []
    for path in tree.rglob("*"):
        if not path.is_file():
            continue
        relative = path.relative_to(tree)
        parts = relative.parts
        if parts[0] in {"bin", ".complete"} or "__pycache__" in parts:
            continue
        if path.suffix in {".pyc", ".pyo"}:
            continue
        if parts[0].endswith(".dist-info") and relative.name in DIST_INFO_NOISE:
            continue
        files.append((relative.as_posix(), path))
    return sorted(files)
