"""A progress bar on stderr: redrawn in place on a terminal, a line every few seconds otherwise."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

WIDTH = 30


@dataclass
class Bar:
    stream: TextIO
    total: int  # an estimate (DescribeTable's ItemCount): the bar stops at full, counts go on
    every: float = 5.0  # seconds between lines when the stream is not a terminal
    clock: Callable[[], float] = time.monotonic
    _last: float = field(default=float("-inf"))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def show(self, counts: dict[str, int], *, final: bool = False) -> None:
        with self._lock:
            now = self.clock()
            terminal = self.stream.isatty()
            if not final and not terminal and now - self._last < self.every:
                return
            self._last = now
            scanned = counts.get("scanned", 0)
            share = min(1.0, scanned / self.total) if self.total else (1.0 if final else 0.0)
            filled = round(share * WIDTH)
            text = f"[{'#' * filled}{'.' * (WIDTH - filled)}] {share:4.0%} " + " ".join(
                f"{name} {value:,}" for name, value in counts.items()
            )
            if terminal:
                self.stream.write(f"\r\033[K{text}" + ("\n" if final else ""))
            else:
                self.stream.write(text + "\n")
            self.stream.flush()
