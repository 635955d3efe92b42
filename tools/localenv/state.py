"""StackState: what `up` brought up, recorded so that `down` removes exactly that."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tools.localenv.resources import INCIDENTS_TABLE


@dataclass
class StackState:
    """What `up` brought up, and which parts of it it created (and `down` may remove)."""

    port: int
    endpoint: str
    emulator_pid: int
    started_emulator: bool
    incidents_table: str = INCIDENTS_TABLE
    incidents_stream_arn: str = ""
    alerts_queue_url: str = ""
    alerts_queue_arn: str = ""
    layer_arn: str = ""
    state_bucket: str = ""
    created: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    ws_url: str = ""
    board_base_url: str = ""
    applied: bool = False
    # What the deployed $connect authorizer checks (tokens.Issuer), the secret's SSM parameter
    # NAME among it; empty when the stack runs without the authorizer (query identity).
    authorizer: dict[str, str] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> StackState | None:
        try:
            return cls(**json.loads(path.read_text()))
        except (FileNotFoundError, ValueError, TypeError):
            return None
