"""The folded per-resource details: scalar attributes as a table, JSON documents as diffs."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from tools.plan_preview.markdown import (
    cell,
    code,
    display_scalar,
    html,
    is_policy,
    json_diff,
    parse_json_document,
    to_jsonable,
)
from tools.plan_preview.masking import Unknown, any_leaf, is_empty
from tools.plan_preview.model import Action, AttributeChange, ResourceChange

# Resource types whose whole body is a firewall-like rule: rendered as one JSON diff.
RULE_TYPE_RE = re.compile(r"(security_group.*rule|network_acl.*rule|firewall.*rule)")
# Attributes of firewall-like containers (aws_security_group ingress/egress blocks...).
RULE_ATTRIBUTES = frozenset({"ingress", "egress", "rule", "rules"})


def attribute_table(attrs: Sequence[AttributeChange]) -> str:
    """Before/after rows of scalar attributes; a forcing attribute is marked 🔁."""
    rows = [
        f"| {cell(code(a.name))}{' 🔁' if a.forces_replacement else ''} | "
        f"{display_scalar(a.before)} | {display_scalar(a.after)} |"
        for a in attrs
    ]
    if not rows:
        return ""
    return "| Attribute | Before | After |\n|---|---|---|\n" + "\n".join(rows)


def _is_structured(value: Any) -> bool:  # noqa: ANN401 - JSON values
    return isinstance(value, (dict, list)) and not is_empty(value)


def resource_detail(rc: ResourceChange) -> str:
    """The folded per-resource section: attribute table and JSON diffs ("" when none)."""
    if rc.action in (Action.READ, Action.MOVE, Action.IMPORT, Action.FORGET, Action.DESTROY):
        return ""
    blocks: list[str] = []
    if RULE_TYPE_RE.search(rc.type) and rc.action is not Action.CREATE:
        # A firewall-like rule reads best as a whole: one JSON diff of the entire rule.
        diff = json_diff(
            to_jsonable(rc.before),
            to_jsonable(rc.after),
            f"{code(rc.type)} rule",
            full=True,
        )
        return _detail_block(rc, [diff] if diff else [])
    scalars: list[AttributeChange] = []
    unknown_only: list[str] = []
    for a in rc.attributes:
        doc_before, doc_after = parse_json_document(a.before), parse_json_document(a.after)
        if isinstance(a.after, Unknown) and not a.forces_replacement:
            unknown_only.append(a.name)
        elif doc_before is not None or doc_after is not None:
            label = "policy document" if is_policy(doc_before) or is_policy(doc_after) else "JSON"
            before = doc_before if doc_before is not None else to_jsonable(a.before)
            after = doc_after if doc_after is not None else to_jsonable(a.after)
            diff = json_diff(
                before,
                after,
                f"{code(a.name)} ({label}){_forcing_note(a)}",
                full=rc.action is Action.CREATE,
            )
            if diff:
                blocks.append(diff)
        elif _is_structured(a.before) or _is_structured(a.after):
            if rc.action is Action.CREATE and not any_leaf(
                a.after, lambda leaf: parse_json_document(leaf) is not None
            ):
                continue  # a new resource's nested blocks are in the plain-text plan
            kind = "rules" if a.name in RULE_ATTRIBUTES else "block"
            diff = json_diff(
                to_jsonable(a.before, expand_json=True),
                to_jsonable(a.after, expand_json=True),
                f"{code(a.name)} ({kind}){_forcing_note(a)}",
                full=rc.action is Action.CREATE,
            )
            if diff:
                blocks.append(diff)
        elif rc.action is not Action.CREATE:
            scalars.append(a)
    table = attribute_table(scalars)
    if table:
        blocks.insert(0, table)
    if unknown_only and rc.action is not Action.CREATE:
        blocks.append("Known after apply: " + ", ".join(code(n) for n in unknown_only))
    return _detail_block(rc, blocks)


def _forcing_note(a: AttributeChange) -> str:
    return " 🔁 forces replacement" if a.forces_replacement else ""


def _detail_block(rc: ResourceChange, blocks: list[str]) -> str:
    if not blocks:
        return ""
    summary = f"{rc.action.icon} <code>{html(rc.address)}</code> {rc.action.word}"
    return f"<details><summary>{summary}</summary>\n\n" + "\n\n".join(blocks) + "\n\n</details>"
