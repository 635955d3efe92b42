"""The resource tables: one per module, destroys and replacements first, a row per resource."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tools.plan_preview.markdown import cell, code, short
from tools.plan_preview.masking import Unknown
from tools.plan_preview.model import Action, AttributeChange, Plan, ResourceChange

MAX_NAMES_IN_CELL = 6


def _names(attrs: Iterable[AttributeChange]) -> str:
    names = [a.name for a in attrs]
    shown = ", ".join(code(n) for n in names[:MAX_NAMES_IN_CELL])
    if len(names) > MAX_NAMES_IN_CELL:
        shown += f" +{len(names) - MAX_NAMES_IN_CELL} more"
    return shown


def row_details(rc: ResourceChange) -> str:
    parts = []
    if rc.action is Action.REPLACE:
        if rc.replace_paths:
            paths = ", ".join(code(p) for p in rc.replace_paths)
            parts.append(f"**forces replacement:** {paths}")
        elif rc.reason:
            parts.append(f"**replaced:** {rc.reason}")
    elif rc.reason:
        parts.append(rc.reason)
    if rc.action in (Action.CREATE, Action.DESTROY):
        label = identity(rc.after if rc.action is Action.CREATE else rc.before)
        if label:
            parts.append(label)
    if rc.action is Action.UPDATE:
        known = [a for a in rc.attributes if not isinstance(a.after, Unknown)]
        unknown = [a for a in rc.attributes if isinstance(a.after, Unknown)]
        if known:
            parts.append("changes " + _names(known))
        if unknown:
            parts.append("known after apply: " + _names(unknown))
    if rc.importing and rc.action is not Action.IMPORT:
        parts.append("imported")
    if rc.previous_address:
        parts.append(f"moved from {code(rc.previous_address)}")
    if rc.deposed:
        parts.append(f"deposed object {code(rc.deposed)}")
    return cell("; ".join(parts))


IDENTITY_ATTRIBUTES = ("name", "function_name", "bucket", "route_key", "statement_id")


def identity(values: Any) -> str:  # noqa: ANN401 - masked JSON values
    """The attribute that names a resource (its name, function name, route key...), if known."""
    if not isinstance(values, dict):
        return ""
    for key in IDENTITY_ATTRIBUTES:
        value = values.get(key)
        if isinstance(value, str) and value:
            return f"{key} {code(short(value, 60))}"
    return ""


def module_label(module: str) -> str:
    return code(module) if module else "root module"


def resource_rows(plan: Plan) -> list[tuple[str, list[str]]]:
    """Per module (modules with destructive changes first), a heading and its table rows."""
    by_module: dict[str, list[ResourceChange]] = {}
    for rc in plan.resources:
        by_module.setdefault(rc.module, []).append(rc)

    def module_key(module: str) -> tuple[int, bool, str]:
        return (min(r.action.rank for r in by_module[module]), module != "", module)

    groups = []
    for module in sorted(by_module, key=module_key):
        rows = [
            f"| {rc.action.icon} {rc.action.word} | {cell(code(rc.local_address))} | "
            f"{row_details(rc)} |"
            for rc in by_module[module]
        ]
        n = len(rows)
        heading = f"**{module_label(module)}** ({n} change{'s' if n != 1 else ''})"
        groups.append((heading, rows))
    return groups


TABLE_HEAD = "| Action | Resource | Details |\n|---|---|---|"


def render_tables(groups: list[tuple[str, list[str]]], keep_rows: int | None, where: str) -> str:
    out: list[str] = []
    left = keep_rows
    dropped = 0
    for heading, rows in groups:
        if left is not None and left <= 0:
            dropped += len(rows)
            continue
        shown = rows if left is None else rows[:left]
        dropped += len(rows) - len(shown)
        if left is not None:
            left -= len(shown)
        out.append(f"{heading}\n\n{TABLE_HEAD}\n" + "\n".join(shown))
    if dropped:
        out.append(
            f"> ✂️ **Truncated:** {dropped} more resource rows do not fit in one comment. {where}"
        )
    return "\n\n".join(out)
