"""Where the checkout is: the one definition every tool (and test) takes its paths from."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
