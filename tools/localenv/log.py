"""Progress messages of the local-environment tooling: on stderr, so stdout stays for results."""

from __future__ import annotations

import sys


def log(message: str) -> None:
    print(f"[devstack] {message}", file=sys.stderr, flush=True)
