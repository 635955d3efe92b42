"""What goes into each zip, the zips themselves and ``build/manifest.json``.

A zip is byte-for-byte reproducible (``tools.reprozip``: entries sorted, timestamps fixed at
1980-01-01, modes fixed at 0644) and holds its function's sources, its own vendored packages
(without installer bookkeeping or console scripts) and, when asked for, their bytecode for the
target Python only (``__pycache__/<mod>.cpython-3XX.pyc``, unchecked-hash based). A zip whose
entries are unchanged since it was last built is copied from the build cache (``zipcache``).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tools.build import bytecode, zipcache
from tools.build.artifacts import ARTIFACTS, Artifact, Target
from tools.build.errors import BuildError
from tools.build.vendor import Runner, run, vendor_tree, vendored_files
from tools.reprozip import partial_path, write_zip


@dataclass(frozen=True)
class BuildResult:
    artifact: Artifact
    path: Path
    sha256: str
    size: int
    reused: bool = False  # copied from the build cache: its entries were unchanged

    @property
    def base64_sha256(self) -> str:
        """Terraform's ``filebase64sha256`` of the zip (``source_code_hash``)."""
        return base64.b64encode(bytes.fromhex(self.sha256)).decode()


def artifact_files(artifact: Artifact, source_dir: Path, vendor: Path) -> list[tuple[str, Path]]:
    """(archive name, path) of the artifact's own sources and its vendored packages."""
    files = [(relative, source_dir / relative) for relative in artifact.sources(source_dir)]
    return files + vendored_files(vendor)


def build_artifact(
    artifact: Artifact,
    files: Sequence[tuple[str, Path]],
    out_dir: Path,
    compiled: Sequence[tuple[str, bytes]] = (),
    zip_cache: Path | None = None,
) -> BuildResult:
    """Write the artifact's zip; from ``zip_cache`` when it holds one of the same entries."""
    destination = out_dir / artifact.file_name
    entries: list[tuple[str, Path | bytes]] = [*files, *compiled]
    if zip_cache is None:
        write_zip(destination, entries)
        reused = False
    else:
        key = zipcache.key(entries)
        reused = zipcache.fetch(zip_cache, artifact.name, key, destination)
        if not reused:
            write_zip(destination, entries)
            zipcache.store(zip_cache, artifact.name, key, destination)
    data = destination.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    return BuildResult(artifact, destination, digest, len(data), reused)


def build(
    out_dir: Path,
    *,
    source_dir: Path,
    target: Target,
    cache: Path,
    compiler: bytecode.Compiler | None = None,
    artifacts: Sequence[Artifact] = ARTIFACTS,
    runner: Runner = run,
    reuse: bool = True,
) -> list[BuildResult]:
    """Build every artifact into ``out_dir``; bytecode when a ``compiler`` is given. ``reuse``:
    copy a zip whose entries are unchanged from the build cache instead of compressing again."""
    if compiler is not None and compiler.python != target.python:
        raise BuildError(
            f"bytecode compiler is for Python {compiler.python}, the target is {target.python}"
        )
    results = []
    for artifact in artifacts:
        requirements = source_dir / artifact.requirements
        if not requirements.is_file():
            raise BuildError(f"{artifact.name}: requirements file {requirements} is missing")
        vendor = vendor_tree(requirements, target, cache, runner)
        files = artifact_files(artifact, source_dir, vendor)
        compiled = bytecode.compile_files(compiler, files, cache) if compiler else []
        zip_cache = cache if reuse else None
        results.append(build_artifact(artifact, files, out_dir, compiled, zip_cache))
    write_manifest(out_dir / "manifest.json", results, target, bytecode=compiler is not None)
    return results


def write_manifest(
    path: Path, results: Sequence[BuildResult], target: Target, *, bytecode: bool
) -> None:
    manifest = {
        "lambda_architecture": target.arch,
        "lambda_python": target.python,
        "bytecode": target.cache_tag if bytecode else None,
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
    # Renamed into place like the zips: builds running at once never leave a torn manifest.
    partial = partial_path(path)
    try:
        partial.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
