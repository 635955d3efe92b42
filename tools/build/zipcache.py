"""Built zips kept under the build cache, keyed by what decides their bytes.

Compressing is nearly all of a build's time, and ``make build``, the packaging tests and
``make up`` build the same zips from the same inputs. A zip is reproducible, so one built from
entries of the same names and contents by the same writer is the same file: the cache keeps each
zip under ``<cache>/zips/<artifact>-<fingerprint>.zip`` (``tools.reprozip.fingerprint``: every
entry's name and content, the writer's code, zlib and Python), and a build whose entries match
copies it instead of compressing again. A changed source changes the fingerprint, so that zip is
built afresh; nothing else decides the bytes, so nothing else needs to invalidate it.

The newest ``KEEP`` zips of each artifact are kept (a hit counts as use); older ones, left by
earlier sources, are removed when a new one is stored. Builds may run at once: every file is
written beside its place and renamed into it, and a zip removed under a reader is a miss.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from tools.reprozip import fingerprint, partial_path

# Enough for every variant one test run builds of an artifact (platforms, Pythons, with and
# without bytecode, the packaging tests' edited sources), so none evicts what `make up` reuses.
KEEP = 12


def key(files: Sequence[tuple[str, Path | bytes]]) -> str:
    """The key of the zip ``tools.reprozip.write_zip`` writes for ``files``."""
    return fingerprint(files)


def cached_path(cache: Path, artifact: str, key: str) -> Path:
    return cache / "zips" / f"{artifact}-{key}.zip"


def _copy(source: Path, destination: Path) -> None:
    """Copy under a name of this process's own, then rename: a reader never sees half a zip."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(destination)
    try:
        shutil.copyfile(source, partial)
        partial.replace(destination)
    finally:
        partial.unlink(missing_ok=True)


def fetch(cache: Path, artifact: str, key: str, destination: Path) -> bool:
    """Copy the cached zip of ``key`` to ``destination``; False when there is none."""
    cached = cached_path(cache, artifact, key)
    try:
        _copy(cached, destination)
    except FileNotFoundError:
        return False
    with contextlib.suppress(FileNotFoundError):
        os.utime(cached)  # recently used: kept by the next prune
    return True


def store(cache: Path, artifact: str, key: str, built: Path) -> None:
    """Keep a copy of the freshly built ``built`` under ``key``, then prune ``artifact``'s
    oldest zips."""
    _copy(built, cached_path(cache, artifact, key))
    prune(cache, artifact)


def prune(cache: Path, artifact: str, keep: int = KEEP) -> None:
    """Remove all but the ``keep`` most recently used zips of ``artifact``."""

    def last_used(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except FileNotFoundError:
            return 0.0

    zips = sorted((cache / "zips").glob(f"{artifact}-*.zip"), key=last_used, reverse=True)
    for stale in zips[keep:]:
        stale.unlink(missing_ok=True)
