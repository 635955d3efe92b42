"""Build one reproducible zip per Lambda function into build/.

    python scripts/build.py [--out build] [--arch x86_64|arm64] [--python 3.12]

``LAMBDA_ARCH`` (default x86_64) and ``LAMBDA_PYTHON`` (default 3.12) give the defaults for
``--arch``/``--python``; they must match the Terraform variables ``lambda_architecture`` and
``lambda_runtime``. Third-party packages from ``functions/requirements.txt`` (hash-pinned) are
vendored with pip for the Lambda platform, never for the build host; boto3 is not vendored (the
Lambda Python runtime ships it).

A zip is byte-for-byte reproducible: entries sorted, timestamps fixed at 1980-01-01, modes fixed
at 0644, no ``__pycache__``/``.pyc``, no installer bookkeeping (``RECORD``, ``INSTALLER``,
``REQUESTED``, ``direct_url.json``) and no console scripts. Each zip holds only its function's
module and the shared modules that function imports, so a change to one handler leaves the other
zips' hashes alone. Downloaded wheels and the vendored tree are cached under ``.cache/`` keyed by
the requirements, architecture and Python version, so repeat builds do not touch the network.

It prints each artifact with its size and sha256 and writes ``build/manifest.json``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tools/: until the build moves into a tools package

from tools.reprozip import write_zip  # noqa: E402

FUNCTIONS = ROOT / "functions"
REQUIREMENTS = "requirements.txt"  # inside the functions directory

PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}
# Installer bookkeeping that differs between pip runs or machines and is not needed at runtime.
DIST_INFO_NOISE = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})

_COMMON = (
    "realtime_common/__init__.py",
    "realtime_common/aws.py",
    "realtime_common/config.py",
    "realtime_common/logs.py",
    "realtime_common/metrics.py",
)
_CONNECTIONS = "realtime_common/connections.py"
_FANOUT = tuple(
    f"realtime_common/fanout/{module}.py"
    for module in (
        "__init__",
        "config",
        "engine",
        "frames",
        "rate",
        "schedule",
        "sigv4",
        "table",
        "workers",
    )
)


@dataclass(frozen=True)
class Artifact:
    name: str
    sources: tuple[str, ...]  # paths relative to the functions directory
    handlers: tuple[str, ...]

    @property
    def file_name(self) -> str:
        return f"{self.name}.zip"


ARTIFACTS = (
    Artifact(
        name="connection_manager",
        sources=("connection_manager.py", *_COMMON, _CONNECTIONS),
        handlers=("connection_manager.on_connect", "connection_manager.on_disconnect"),
    ),
    Artifact(
        name="broadcaster",
        sources=(
            "broadcaster.py",
            "fanout_worker.py",
            *_COMMON,
            _CONNECTIONS,
            "realtime_common/stream.py",
            *_FANOUT,
        ),
        handlers=("broadcaster.handler", "fanout_worker.handler"),
    ),
    Artifact(
        name="notifier",
        sources=("notifier.py", *_COMMON, "realtime_common/stream.py"),
        handlers=("notifier.handler",),
    ),
)


class BuildError(RuntimeError):
    """The build cannot go on; the message says why."""


@dataclass(frozen=True)
class BuildResult:
    artifact: Artifact
    path: Path
    sha256: str
    size: int

    @property
    def base64_sha256(self) -> str:
        """Terraform's ``filebase64sha256`` of the zip (``source_code_hash``)."""
        return base64.b64encode(bytes.fromhex(self.sha256)).decode()


# --------------------------------------------------------------------------------------------
# Vendoring
# --------------------------------------------------------------------------------------------
def vendor_tree(requirements: Path, arch: str, python_version: str, cache: Path) -> Path:
    """The third-party packages installed for the Lambda platform, cached by content."""
    platform = PLATFORMS[arch]
    key_source = requirements.read_bytes() + f"\0{platform}\0{python_version}".encode()
    key = hashlib.sha256(key_source).hexdigest()[:16]
    target = cache / "vendor" / f"{platform}-py{python_version}-{key}"
    if (target / ".complete").is_file():
        return target
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    platform_args = [
        "--only-binary=:all:",
        "--platform",
        platform,
        "--python-version",
        python_version,
        "--implementation",
        "cp",
        "--require-hashes",
        "-r",
        str(requirements),
    ]
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    # Download first (skipped for wheels already in the cache), then install from the cache only.
    _run([*pip, "download", "--dest", str(wheels), *platform_args])
    staging = Path(tempfile.mkdtemp(prefix="vendor-", dir=cache))
    try:
        _run(
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
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return target


def _run(command: Sequence[str]) -> None:
    result = subprocess.run(command, check=False, capture_output=True, text=True)
    if result.returncode != 0:
        raise BuildError(
            f"command failed ({result.returncode}): {' '.join(command)}\n{result.stdout}"
            f"{result.stderr}"
        )


def vendored_files(tree: Path) -> list[tuple[str, Path]]:
    """(archive name, path) for every runtime file of the vendored tree."""
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
    return files


# --------------------------------------------------------------------------------------------
# Zips
# --------------------------------------------------------------------------------------------
def build_artifact(
    artifact: Artifact, source_dir: Path, vendor: Path, out_dir: Path
) -> BuildResult:
    files = []
    for relative in artifact.sources:
        path = source_dir / relative
        if not path.is_file():
            raise BuildError(f"{artifact.name}: source file {path} is missing")
        files.append((relative, path))
    files.extend(vendored_files(vendor))  # every function logs with Powertools
    destination = out_dir / artifact.file_name
    write_zip(destination, files)
    data = destination.read_bytes()
    return BuildResult(artifact, destination, hashlib.sha256(data).hexdigest(), len(data))


def build(
    out_dir: Path,
    *,
    source_dir: Path = FUNCTIONS,
    arch: str = "x86_64",
    python_version: str = "3.12",
    cache: Path = ROOT / ".cache" / "build",
) -> list[BuildResult]:
    if arch not in PLATFORMS:
        raise BuildError(f"LAMBDA_ARCH={arch!r}: expected one of {', '.join(PLATFORMS)}")
    if not re.fullmatch(r"3\.(1[1-9])", python_version):
        raise BuildError(f"LAMBDA_PYTHON={python_version!r}: expected 3.11 or newer, like 3.12")
    vendor = vendor_tree(source_dir / REQUIREMENTS, arch, python_version, cache)
    results = [build_artifact(a, source_dir, vendor, out_dir) for a in ARTIFACTS]
    write_manifest(out_dir / "manifest.json", results, arch, python_version)
    return results


def write_manifest(
    path: Path, results: Sequence[BuildResult], arch: str, python_version: str
) -> None:
    manifest = {
        "lambda_architecture": arch,
        "lambda_python": python_version,
        "artifacts": {
            r.artifact.name: {
                "file": r.path.name,
                "sha256": r.sha256,
                "base64sha256": r.base64_sha256,
                "size": r.size,
                "handlers": list(r.artifact.handlers),
            }
            for r in results
        },
    }
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build")
    parser.add_argument("--arch", default=os.environ.get("LAMBDA_ARCH") or "x86_64")
    parser.add_argument("--python", default=os.environ.get("LAMBDA_PYTHON") or "3.12")
    args = parser.parse_args(argv)
    try:
        results = build(args.out, arch=args.arch, python_version=args.python)
    except BuildError as error:
        print(f"build failed: {error}", file=sys.stderr)
        return 1
    print(f"Lambda artifacts ({args.arch}, Python {args.python}):")
    for r in results:
        print(f"  {_display(r.path):<32} {r.size:>9} bytes  sha256 {r.sha256}")
    return 0


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
