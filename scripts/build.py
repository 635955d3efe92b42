"""Kept for callers that still run ``python scripts/build.py``: the build is ``python -m
tools.build`` (``tools/build/``). Remove once nothing runs this file."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

if __name__ == "__main__":
    os.chdir(ROOT)  # python -m finds the tools package from the repository root
    # Fixed argv: this interpreter, the build package, the caller's own arguments.
    os.execv(sys.executable, [sys.executable, "-m", "tools.build", *sys.argv[1:]])  # noqa: S606
