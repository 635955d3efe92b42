"""Progress messages of the local-environment tooling: on stderr, so stdout stays for results.

While `make up` runs a step, its messages go to that step's log file instead (``to_file``), so
the step's one line on the terminal stays one line.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

_sink: list[Path] = []


def log(message: str) -> None:
    if _sink:
        with _sink[-1].open("a") as out:
            out.write(f"[devstack] {message}\n")
        return
    print(f"[devstack] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def to_file(path: Path) -> Iterator[None]:
    """Send log() messages to ``path`` (appended) while the block runs."""
    _sink.append(path)
    try:
        yield
    finally:
        _sink.pop()
