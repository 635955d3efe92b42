"""Byte-for-byte reproducible zip files: the one writer every tool uses for Lambda code and layers.

``source_code_hash = filebase64sha256(zip)`` only helps when the same inputs give the same bytes:
entries sorted, fixed timestamps, fixed file modes, fixed compression. The same inputs giving the
same bytes also lets a build cache key a zip by its inputs (``fingerprint``).
"""

from __future__ import annotations

import hashlib
import os
import platform
import threading
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path

FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can hold
FILE_MODE = 0o100644  # regular file, rw-r--r--


class DuplicateEntryError(ValueError):
    """Two files were given the same name inside the archive."""


def write_zip(destination: Path, files: Iterable[tuple[str, Path | bytes]]) -> None:
    """Write ``(archive name, path or content)`` pairs to ``destination`` deterministically.

    The zip is written beside the destination and renamed into place, so a reader never sees a
    half-written file.
    """
    entries = sorted(files, key=lambda entry: entry[0])
    names = [name for name, _ in entries]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise DuplicateEntryError(f"{destination.name}: duplicate entries {duplicates}")
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(destination)
    try:
        with zipfile.ZipFile(partial, "w") as archive:
            for name, source in entries:
                info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
                info.external_attr = FILE_MODE << 16
                info.create_system = 3  # unix, so the mode above is honoured
                info.compress_type = zipfile.ZIP_DEFLATED
                data = source if isinstance(source, bytes) else source.read_bytes()
                archive.writestr(info, data, compresslevel=9)
        partial.replace(destination)
    finally:
        partial.unlink(missing_ok=True)


def partial_path(destination: Path) -> Path:
    """Where to write ``destination`` before renaming it into place: a name of this process and
    thread alone, so two builds writing the same zip at once never write into one file."""
    return destination.with_name(
        f".{destination.name}.{os.getpid()}.{threading.get_ident()}.partial"
    )


def fingerprint(files: Iterable[tuple[str, Path | bytes]]) -> str:
    """A digest of everything that decides the bytes ``write_zip`` writes for ``files``.

    Each entry's name and content, this module's own code (the fixed date, modes and compression
    level), and the zlib and Python whose deflate and ``zipfile`` lay the bytes out: equal
    fingerprints, equal zips.
    """
    digest = hashlib.sha256(Path(__file__).read_bytes())
    runtime = f"\0zlib {zlib.ZLIB_RUNTIME_VERSION}\0python {platform.python_version()}\0"
    digest.update(runtime.encode())
    for name, source in sorted(files, key=lambda entry: entry[0]):
        data = source if isinstance(source, bytes) else source.read_bytes()
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()
