"""The comment's summary sections: verdict, counts, what is destroyed, checks, drift, outputs."""

from __future__ import annotations

from collections.abc import Sequence

from tools.plan_preview.markdown import cell, code, display_scalar
from tools.plan_preview.model import COUNTED_ACTIONS, Action, Plan

MAX_NAMES_IN_NOTE = 10
MAX_DESTRUCTIVE_LISTED = 15
MAX_OUTPUT_ROWS = 100


def verdict(plan: Plan, env: str) -> str:
    n_destroy, n_replace = plan.count(Action.DESTROY), plan.count(Action.REPLACE)
    n_add, n_change = plan.count(Action.CREATE), plan.count(Action.UPDATE)
    where = code(env)
    if plan.errored:
        return f"❌ **Plan failed** for {where}: the changes below are incomplete."
    if not plan.has_changes:
        return f"✅ **No changes.** {where} matches the configuration."
    parts = [f"{n_add} to add", f"{n_change} to change"]
    if plan.destructive:
        lead = ", ".join(
            f"{n} to {what}" for n, what in ((n_destroy, "destroy"), (n_replace, "replace")) if n
        )
        return f"⚠️ **Destroys resources in {where}:** {lead} ({', '.join(parts)})."
    if not any(r.action is not Action.READ for r in plan.resources):
        return f"🟢 **Only outputs change** in {where}; no resource is destroyed."
    return f"🟢 **No resource destroyed** in {where}: {', '.join(parts)}."


def counts_table(plan: Plan) -> str:
    cols = [(name, plan.count(action)) for name, action in COUNTED_ACTIONS]
    extra = [
        ("read", plan.count(Action.READ)),
        ("move", plan.count(Action.MOVE)),
        ("import", plan.count(Action.IMPORT)),
        ("forget", plan.count(Action.FORGET)),
        ("outputs", len(plan.outputs)),
    ]
    cols += [(name, n) for name, n in extra if n]
    head = "| " + " | ".join(name for name, _ in cols) + " |"
    sep = "|" + "|".join("---:" for _ in cols) + "|"
    row = "| " + " | ".join(f"**{n}**" if n else "0" for _, n in cols) + " |"
    return "\n".join([head, sep, row])


def destructive_summary(plan: Plan) -> str:
    items = [rc for rc in plan.resources if rc.action.destructive]
    if not items:
        return ""
    lines = ["**Destroyed or replaced:**", ""]
    for rc in items[:MAX_DESTRUCTIVE_LISTED]:
        why = ""
        if rc.replace_paths:
            why = " — forced by " + ", ".join(code(p) for p in rc.replace_paths)
        elif rc.reason:
            why = f" — {rc.reason}"
        lines.append(f"- {rc.action.icon} {rc.action.word} {code(rc.address)}{why}")
    if len(items) > MAX_DESTRUCTIVE_LISTED:
        lines.append(f"- … and {len(items) - MAX_DESTRUCTIVE_LISTED} more (see the table)")
    return "\n".join(lines)


def output_table(plan: Plan) -> str:
    if not plan.outputs:
        return ""
    rows = [
        f"| {cell(code(o.name))} | {o.action.icon} {o.action.word} | "
        f"{display_scalar(o.before) if o.action is not Action.CREATE else ''} | "
        f"{display_scalar(o.after) if o.action is not Action.DESTROY else ''} |"
        for o in plan.outputs[:MAX_OUTPUT_ROWS]
    ]
    if len(plan.outputs) > MAX_OUTPUT_ROWS:
        rows.append(f"| … {len(plan.outputs) - MAX_OUTPUT_ROWS} more | | | |")
    return "**Output changes**\n\n| Output | Action | Before | After |\n|---|---|---|---|\n" + (
        "\n".join(rows)
    )


def _listing(names: Sequence[str], limit: int = MAX_NAMES_IN_NOTE) -> str:
    """The first ``limit`` names as code, then how many more."""
    shown = ", ".join(code(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def checks_note(plan: Plan) -> str:
    if not plan.failed_checks:
        return ""
    names = _listing(plan.failed_checks)
    return f"> ⚠️ **{len(plan.failed_checks)} check(s) failed:** {names}."


def drift_note(plan: Plan) -> str:
    if not plan.drift:
        return ""
    return (
        f"> 🔎 {len(plan.drift)} resource(s) changed outside Terraform since the last apply: "
        f"{_listing([r.address for r in plan.drift])}. The plan above already accounts for it."
    )
