"""The plan model: what a plan does to each resource and output, values already masked."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from typing import Any


class PlanInputError(ValueError):
    """The input is not a Terraform JSON plan this renderer understands."""


class Action(enum.Enum):
    """What a plan does to one resource instance, in the order a reviewer should read them."""

    DESTROY = ("destroy", "🔴")
    REPLACE = ("replace", "🟠")
    UPDATE = ("update", "🟡")
    CREATE = ("create", "🟢")
    READ = ("read", "🔵")
    FORGET = ("forget", "⚪")
    MOVE = ("move", "⚪")
    IMPORT = ("import", "⚪")
    NOOP = ("no-op", "")

    def __init__(self, word: str, icon: str) -> None:
        self.word = word
        self.icon = icon

    @property
    def rank(self) -> int:
        return list(Action).index(self)

    @property
    def destructive(self) -> bool:
        return self in (Action.DESTROY, Action.REPLACE)


def classify(actions: Sequence[str], *, moved: bool = False, importing: bool = False) -> Action:
    """Map Terraform's action list to one Action."""
    key = tuple(actions)
    if key in (("delete", "create"), ("create", "delete")):
        return Action.REPLACE
    simple = {
        ("delete",): Action.DESTROY,
        ("update",): Action.UPDATE,
        ("create",): Action.CREATE,
        ("read",): Action.READ,
        ("forget",): Action.FORGET,
    }
    if key in simple:
        return simple[key]
    if key == ("no-op",):
        if moved:
            return Action.MOVE
        if importing:
            return Action.IMPORT
        return Action.NOOP
    raise PlanInputError(f"unknown change actions {list(actions)!r}")


ACTION_REASONS = {
    "replace_because_tainted": "tainted",
    "replace_because_cannot_update": "cannot be updated in place",
    "replace_by_request": "replacement requested (-replace)",
    "replace_by_triggers": "replace_triggered_by",
    "delete_because_no_resource_config": "removed from the configuration",
    "delete_because_no_module": "module instance removed",
    "delete_because_wrong_repetition": "count/for_each changed",
    "delete_because_count_index": "count index out of range",
    "delete_because_each_key": "for_each key removed",
    "delete_because_no_move_target": "moved target missing",
    "read_because_config_unknown": "config known after apply",
    "read_because_dependency_pending": "depends on pending changes",
    "read_because_check_nested": "check block",
}

# The four counts every plan reports, by the names of the comment's columns and the CI outputs.
COUNTED_ACTIONS = (
    ("add", Action.CREATE),
    ("change", Action.UPDATE),
    ("replace", Action.REPLACE),
    ("destroy", Action.DESTROY),
)


@dataclasses.dataclass(frozen=True)
class AttributeChange:
    """One top-level attribute that differs between before and after (values already masked)."""

    name: str
    before: Any
    after: Any
    forces_replacement: bool


@dataclasses.dataclass(frozen=True)
class ResourceChange:
    address: str
    module: str
    type: str
    action: Action
    reason: str
    replace_paths: tuple[str, ...]
    previous_address: str
    attributes: tuple[AttributeChange, ...]
    deposed: str
    importing: bool = False
    before: Any = None  # masked: safe to print
    after: Any = None  # masked: safe to print

    @property
    def local_address(self) -> str:
        if self.module and self.address.startswith(self.module + "."):
            return self.address[len(self.module) + 1 :]
        return self.address


@dataclasses.dataclass(frozen=True)
class OutputChange:
    name: str
    action: Action
    before: Any
    after: Any


@dataclasses.dataclass(frozen=True)
class Plan:
    resources: tuple[ResourceChange, ...]
    outputs: tuple[OutputChange, ...]
    drift: tuple[ResourceChange, ...]
    terraform_version: str
    errored: bool
    complete: bool
    failed_checks: tuple[str, ...] = ()

    def count(self, action: Action) -> int:
        return sum(1 for r in self.resources if r.action is action)

    @property
    def destructive(self) -> bool:
        return any(r.action.destructive for r in self.resources)

    @property
    def has_changes(self) -> bool:
        managed = [r for r in self.resources if r.action is not Action.READ]
        return bool(managed) or bool(self.outputs)
