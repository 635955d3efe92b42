"""The event fixtures (``events/*.json``): realistic payloads shaped like what AWS sends, shared by
the tests, the benchmark and `make invoke`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parents[1] / "events"


def load_event(name: str) -> dict[str, Any]:
    """``events/<name>`` parsed (a fresh copy on every call: tests may change it)."""
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event
