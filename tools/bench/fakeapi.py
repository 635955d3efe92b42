"""testing/fake_management_api.py in its own process, so the numbers measure the client alone."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class FakeApiProcess:
    latency: float = 0.02
    gone_share: float = 0.0
    throttle_share: float = 0.0
    url: str = ""
    _process: subprocess.Popen[str] | None = None

    def __enter__(self) -> FakeApiProcess:
        self._process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            [
                sys.executable,
                "-m",
                "testing.fake_management_api",
                "--latency",
                str(self.latency),
                "--gone-share",
                str(self.gone_share),
                "--throttle-share",
                str(self.throttle_share),
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            # Clients cut at their deadline reset connections; the fake's tracebacks are noise.
            stderr=subprocess.DEVNULL,
            text=True,
        )
        if self._process.stdout is None:
            raise RuntimeError("no pipe to the fake management API")
        self.url = self._process.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the fake management API did not start (said {self.url!r})")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._process is not None and self._process.stdin is not None:
            self._process.stdin.close()
            self._process.wait(timeout=30)

    def _control(self, path: str, method: str) -> dict[str, Any]:
        origin = self.url.split("/", 3)[:3]
        request = urllib.request.Request("/".join(origin) + path, method=method)  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return dict(json.loads(response.read()))

    def stats(self) -> dict[str, Any]:
        return self._control("/_fake/stats", "GET")

    def reset(self) -> None:
        self._control("/_fake/reset", "POST")
