"""`make up`'s progress: one line per step with its timing, the step's full output in a log file.

A step's line is started when the step starts and finished (with what it did and how long it took)
when it ends, so a long step shows what is being waited for. Everything the step's tools print
(pip, ``python -m tools.build``, terraform) goes to ``<log dir>/up-<step>.log``; on failure the
line says where, and the caller shows the end of that log.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

NAME_WIDTH = 19
TAIL_LINES = 15


@dataclass
class Step:
    """One step under way: its log file, and the note its line ends with."""

    name: str
    log_file: Path
    note: str = ""

    def done(self, note: str) -> None:
        self.note = note


@dataclass
class Progress:
    """Prints each step's line on ``stream``; ``log_dir`` holds the steps' logs."""

    log_dir: Path
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    clock: Callable[[], float] = time.monotonic
    timings: dict[str, float] = field(default_factory=dict)
    failed: Step | None = None

    def log_file(self, name: str) -> Path:
        return self.log_dir / f"up-{name.replace(' ', '-')}.log"

    @contextlib.contextmanager
    def step(self, name: str, doing: str) -> Iterator[Step]:
        """A step: ``doing`` is shown while it runs, the step's note and timing once it is done."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        current = Step(name=name, log_file=self.log_file(name))
        current.log_file.write_text("")  # one run's output per log, never an older run's
        interactive = self.stream.isatty()
        if interactive:
            self.stream.write(f"  {name:<{NAME_WIDTH}}{doing} ...")
            self.stream.flush()
        started = self.clock()
        try:
            yield current
        except BaseException:
            elapsed = self.clock() - started
            self.timings[name] = elapsed
            self.failed = current
            self._finish(name, f"FAILED after {elapsed:.1f} s (log: {shown(current.log_file)})")
            raise
        elapsed = self.clock() - started
        self.timings[name] = elapsed
        self._finish(name, f"{current.note or 'done'} ({elapsed:.1f} s)")

    def _finish(self, name: str, text: str) -> None:
        if self.stream.isatty():
            self.stream.write(f"\r\033[K  {name:<{NAME_WIDTH}}{text}\n")
        else:
            self.stream.write(f"  {name:<{NAME_WIDTH}}{text}\n")
        self.stream.flush()

    def total(self) -> float:
        return sum(self.timings.values())


def shown(path: Path) -> str:
    """``path`` relative to the working directory when it is inside it (shorter lines)."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def tail(path: Path, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` lines of a log, indented, for an error message."""
    try:
        text = path.read_text(errors="replace").rstrip().splitlines()
    except FileNotFoundError:
        return "    (no log)"
    return "\n".join(f"    {line}" for line in text[-lines:]) or "    (the log is empty)"
