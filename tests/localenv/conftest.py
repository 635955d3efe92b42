"""Fixtures of the local-stack tooling tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tools.localenv.state import StackState

StateFactory = Callable[..., StackState]


@pytest.fixture
def stack_state() -> StateFactory:
    """A StackState as `make up` records it for an emulator on 4566 (pid 7) with its WebSocket
    URL and board; keyword arguments replace or add fields."""

    def make(**fields: Any) -> StackState:
        recorded: dict[str, Any] = {
            "port": 4566,
            "endpoint": "http://127.0.0.1:4566",
            "emulator_pid": 7,
            "started_emulator": True,
            "ws_url": "ws://127.0.0.1:4566/_aws/execute-api/abc/prod",
            "board_base_url": "http://127.0.0.1:4580",
        }
        return StackState(**{**recorded, **fields})

    return make
