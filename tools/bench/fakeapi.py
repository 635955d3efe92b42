"""testing/fake_management_api.py in its own process, so the numbers measure the client alone."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testing import tls
from tools.paths import ROOT


@dataclass
class FakeApiProcess:
    latency: float = 0.02
    gone_share: float = 0.0
    throttle_share: float = 0.0
    # HTTPS with a throwaway CA (testing/tls.py); clients trust ``ca_file`` (SSL_CERT_FILE).
    tls: bool = False
    url: str = ""
    ca_file: str = ""
    _process: subprocess.Popen[str] | None = None
    _folder: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> FakeApiProcess:
        options = []
        if self.tls:
            self._folder = tempfile.TemporaryDirectory(prefix="fake-api-tls-")
            issued = tls.issue(Path(self._folder.name))
            options = ["--tls-cert", str(issued.server_pem)]
            self.ca_file = str(issued.ca_pem)
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
                *options,
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
        if not self.url.startswith(("http://127.0.0.1:", "https://127.0.0.1:")):
            raise RuntimeError(f"the fake management API did not start (said {self.url!r})")
        return self

    def __exit__(self, *_exception: object) -> None:
        if self._process is not None and self._process.stdin is not None:
            self._process.stdin.close()
            self._process.wait(timeout=30)
        if self._folder is not None:
            self._folder.cleanup()

    def _control(self, path: str, method: str) -> dict[str, Any]:
        origin = self.url.split("/", 3)[:3]
        request = urllib.request.Request("/".join(origin) + path, method=method)  # noqa: S310
        context = ssl.create_default_context(cafile=self.ca_file) if self.ca_file else None
        with urllib.request.urlopen(request, timeout=10, context=context) as response:  # noqa: S310
            return dict(json.loads(response.read()))

    def stats(self) -> dict[str, Any]:
        return self._control("/_fake/stats", "GET")

    def reset(self) -> None:
        self._control("/_fake/reset", "POST")
