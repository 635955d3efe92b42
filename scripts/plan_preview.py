"""Render a saved Terraform plan as a Markdown pull-request comment.

    terraform plan -out=tfplan
    terraform show -json tfplan > plan.json
    terraform show -no-color tfplan > plan.txt
    python scripts/plan_preview.py plan.json --text plan.txt --env dev > comment.md

The comment opens with a hidden marker line (``<!-- plan-preview:<env> -->``) that the workflow
uses to find and update its own sticky comment, then gives a one-line verdict, the counts, the
resource changes grouped by module (destroys and replacements first, with the attributes that
force a replacement), readable diffs of JSON documents (IAM and resource policies, security
group rules, any attribute holding JSON), the output changes and the plain-text plan folded in
``<details>``. Sensitive values are never printed, whatever the nesting level; values Terraform
cannot know yet read ``(known after apply)``. The whole comment stays under GitHub's 65,536
character limit: the plain-text plan is cut first, then the per-resource diffs, then table rows,
each time with a note saying what was left out.

Exit status:
    0  rendered; the plan destroys and replaces nothing (or --detailed-exitcode not given)
    1  the input is not a readable ``terraform show -json`` plan
    2  command-line usage error
    3  rendered, with --detailed-exitcode: the plan destroys or replaces at least one resource

``--outputs-file`` appends ``key=value`` lines for CI (the GitHub Actions ``$GITHUB_OUTPUT``
file): ``destructive`` (true/false), ``label`` (``plan:destroys:<env>``, the pull-request
label CI adds while the plan destroys something and removes otherwise), ``has_changes``,
``add``, ``change``, ``replace``, ``destroy`` and ``exit_code``.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import enum
import gzip
import json
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

GITHUB_COMMENT_LIMIT = 65_536
DEFAULT_MAX_CHARS = 65_000  # a margin under GitHub's limit for what CI wraps around it
EXIT_OK = 0
EXIT_BAD_INPUT = 1
EXIT_DESTRUCTIVE = 3
DESTROY_LABEL_TEMPLATE = "plan:destroys:{env}"
MARKER_TEMPLATE = "<!-- plan-preview:{env} -->"

SENSITIVE_TEXT = "(sensitive value)"
SENSITIVE_CHANGED_TEXT = "(sensitive value, changed)"
UNKNOWN_TEXT = "(known after apply)"
CELL_MAX = 120  # characters of a value shown in a table cell
DIFF_MAX_LINES = 400  # lines of one JSON diff before it is cut
DIFF_CONTEXT = 3
MIN_PLAIN_TEXT_LINES = 20  # below this, the plain-text plan is dropped rather than cut
MAX_NAMES_IN_CELL = 6
MAX_NAMES_IN_NOTE = 10
MAX_DESTRUCTIVE_LISTED = 15
MAX_OUTPUT_ROWS = 100

# Resource types whose whole body is a firewall-like rule: rendered as one JSON diff.
RULE_TYPE_RE = re.compile(r"(security_group.*rule|network_acl.*rule|firewall.*rule)")
# Attributes of firewall-like containers (aws_security_group ingress/egress blocks...).
RULE_ATTRIBUTES = frozenset({"ingress", "egress", "rule", "rules"})
ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class Secret:
    """Stands for a sensitive value: the value itself is never kept."""

    __slots__ = ()

    def __repr__(self) -> str:
        return SENSITIVE_TEXT


class ChangedSecret(Secret):
    """A sensitive value that the plan changes (shown as changed, never shown itself)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return SENSITIVE_CHANGED_TEXT


class Unknown:
    """Stands for a value Terraform will only know after apply."""

    __slots__ = ()

    def __repr__(self) -> str:
        return UNKNOWN_TEXT


SECRET = Secret()
CHANGED_SECRET = ChangedSecret()
UNKNOWN = Unknown()


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


# ---------------------------------------------------------------------------
# Masking: sensitive and unknown values
# ---------------------------------------------------------------------------
def mask(value: Any, sensitive: Any, unknown: Any = False) -> Any:  # noqa: ANN401, PLR0911
    """Return ``value`` with every sensitive leaf replaced by SECRET and unknown one by UNKNOWN.

    ``sensitive`` and ``unknown`` mirror the value's shape (Terraform's ``*_sensitive`` and
    ``after_unknown``): ``true`` marks the whole subtree, a dict or list marks its members.
    Sensitivity wins over unknown-ness, so a secret is never shown even as "unknown".
    """
    if sensitive is True:
        return SECRET
    if unknown is True:
        return UNKNOWN
    if isinstance(value, dict) or isinstance(sensitive, dict) or isinstance(unknown, dict):
        values = value if isinstance(value, dict) else {}
        sens = sensitive if isinstance(sensitive, dict) else {}
        unk = unknown if isinstance(unknown, dict) else {}
        if not isinstance(value, dict) and value is not None:
            # Shape mismatch: refuse to guess which part is secret.
            return SECRET if sens else value
        keys = list(values)
        keys += [k for k in unk if k not in values and _has_true(unk[k])]
        if not isinstance(value, dict) and not keys:
            return value
        return {k: mask(values.get(k), sens.get(k, False), unk.get(k, False)) for k in keys}
    if isinstance(value, list) or isinstance(sensitive, list) or isinstance(unknown, list):
        items = value if isinstance(value, list) else []
        sens_l = sensitive if isinstance(sensitive, list) else []
        unk_l = unknown if isinstance(unknown, list) else []
        if not isinstance(value, list) and value is not None:
            return SECRET if any(_has_true(s) for s in sens_l) else value
        length = max(len(items), len(unk_l))
        if not isinstance(value, list) and not any(_has_true(u) for u in unk_l):
            return value
        return [
            mask(
                items[i] if i < len(items) else None,
                sens_l[i] if i < len(sens_l) else False,
                unk_l[i] if i < len(unk_l) else False,
            )
            for i in range(length)
        ]
    return value


def _any_leaf(tree: Any, test: Callable[[Any], bool]) -> bool:  # noqa: ANN401 - JSON values
    """Whether ``test`` holds for some leaf (not a dict or list) of a JSON-like tree."""
    if isinstance(tree, dict):
        return any(_any_leaf(v, test) for v in tree.values())
    if isinstance(tree, list):
        return any(_any_leaf(v, test) for v in tree)
    return test(tree)


def _has_true(tree: Any) -> bool:  # noqa: ANN401 - JSON values
    return _any_leaf(tree, lambda leaf: leaf is True)


def _is_empty(value: Any) -> bool:  # noqa: ANN401 - JSON values
    return value is None or value in ([], {})


def _same(before: Any, after: Any) -> bool:  # noqa: ANN401 - JSON values
    """Equality that, like Terraform's renderer, treats null and an empty collection alike."""
    if _is_empty(before) and _is_empty(after):
        return True
    if type(before) is not type(after):
        return False
    return bool(before == after)


# ---------------------------------------------------------------------------
# The plan model
# ---------------------------------------------------------------------------
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


def format_path(path: Sequence[str | int]) -> str:
    """Terraform path ``["settings", 0, "rate"]`` as ``settings[0].rate``."""
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        elif out:
            out += f".{step}"
        else:
            out = str(step)
    return out


def _attribute_changes(
    before: Any,  # noqa: ANN401 - JSON values
    after: Any,  # noqa: ANN401 - JSON values
    raw_before: Any,  # noqa: ANN401 - JSON values
    raw_after: Any,  # noqa: ANN401 - JSON values
    forcing: set[str],
    *,
    replacing: bool = False,
) -> tuple[AttributeChange, ...]:
    if isinstance(before, Secret | Unknown) or isinstance(after, Secret | Unknown):
        return ()  # a whole object hidden or unknown: no attribute can be told apart
    b = before if isinstance(before, dict) else {}
    a = after if isinstance(after, dict) else {}
    rb = raw_before if isinstance(raw_before, dict) else {}
    ra = raw_after if isinstance(raw_after, dict) else {}
    changes = []
    for key in sorted(set(b) | set(a)):
        bv, av = b.get(key), a.get(key)
        changed = not _same(bv, av)
        if key in rb and _any_leaf(av, lambda leaf: isinstance(leaf, Secret)):
            # Masked values hide whether a secret changed: the raw values tell, and the
            # after side then says "changed" without ever showing either value.
            av = flag_changed_secrets(av, rb.get(key), ra.get(key))
            changed = changed or not _same(bv, av)
        if replacing and key not in forcing and _blank(bv) and _blank(av):
            # A new object: the provider's "" for an unset optional string is no change.
            changed = False
        if changed:
            changes.append(AttributeChange(key, bv, av, key in forcing))
    return tuple(changes)


def flag_changed_secrets(after: Any, raw_before: Any, raw_after: Any) -> Any:  # noqa: ANN401
    """Replace each SECRET in the masked ``after`` whose raw value differs from before."""
    if isinstance(after, Secret):
        return after if _same(raw_before, raw_after) else CHANGED_SECRET
    if isinstance(after, dict):
        rb = raw_before if isinstance(raw_before, dict) else {}
        ra = raw_after if isinstance(raw_after, dict) else {}
        return {k: flag_changed_secrets(v, rb.get(k), ra.get(k)) for k, v in after.items()}
    if isinstance(after, list):
        rb_l = raw_before if isinstance(raw_before, list) else []
        ra_l = raw_after if isinstance(raw_after, list) else []
        return [
            flag_changed_secrets(
                v, rb_l[i] if i < len(rb_l) else None, ra_l[i] if i < len(ra_l) else None
            )
            for i, v in enumerate(after)
        ]
    return after


def _blank(value: Any) -> bool:  # noqa: ANN401 - JSON values
    return value is None or (isinstance(value, str) and not value)


def _masked(change: dict[str, Any]) -> tuple[Any, Any]:
    """The before and after values of a resource or output change, masked."""
    before = mask(change.get("before"), change.get("before_sensitive", False))
    after = mask(
        change.get("after"), change.get("after_sensitive", False), change.get("after_unknown")
    )
    return before, after


def _resource_change(item: dict[str, Any]) -> ResourceChange:
    try:
        change = item["change"]
        address = item["address"]
        actions = change["actions"]
    except (KeyError, TypeError) as exc:
        raise PlanInputError(f"resource change without {exc}: {item!r:.200}") from exc
    action = classify(
        actions,
        moved=bool(item.get("previous_address")),
        importing=bool(change.get("importing")),
    )
    before, after = _masked(change)
    replace_paths = tuple(format_path(p) for p in change.get("replace_paths") or [])
    forcing = {str(p[0]) for p in change.get("replace_paths") or [] if p}
    attributes: tuple[AttributeChange, ...] = ()
    if action in (Action.UPDATE, Action.REPLACE):
        attributes = _attribute_changes(
            before,
            after,
            change.get("before"),
            change.get("after"),
            forcing,
            replacing=action is Action.REPLACE,
        )
    elif action is Action.CREATE:
        attributes = _attribute_changes(None, after, None, change.get("after"), forcing)
    # A destroyed resource lists no attributes: nothing shows them (resource_detail skips it).
    return ResourceChange(
        address=address,
        module=item.get("module_address", "") or "",
        type=item.get("type", ""),
        action=action,
        reason=ACTION_REASONS.get(item.get("action_reason", ""), ""),
        replace_paths=replace_paths,
        previous_address=item.get("previous_address", "") or "",
        attributes=attributes,
        deposed=item.get("deposed", "") or "",
        importing=bool(change.get("importing")),
        before=before,
        after=after,
    )


def _output_change(name: str, change: dict[str, Any]) -> OutputChange:
    action = classify(change.get("actions", ["no-op"]))
    before, after = _masked(change)
    if action is Action.UPDATE:
        after = flag_changed_secrets(after, change.get("before"), change.get("after"))
    return OutputChange(name=name, action=action, before=before, after=after)


def parse_plan(document: Any) -> Plan:  # noqa: ANN401 - parsed JSON
    """Build the Plan model from the parsed output of ``terraform show -json <planfile>``."""
    if not isinstance(document, dict) or "format_version" not in document:
        raise PlanInputError("not a Terraform JSON plan (no format_version)")
    if "resource_changes" not in document and "planned_values" not in document:
        if "values" in document:
            raise PlanInputError("this is a state, not a plan: run terraform show -json <planfile>")
        raise PlanInputError("not a Terraform JSON plan (no resource_changes)")
    resources = []
    for item in document.get("resource_changes") or []:
        rc = _resource_change(item)
        if rc.action is not Action.NOOP:
            resources.append(rc)
    # Like Terraform's own UI, mention drift only of attributes this plan depends on.
    relevant: dict[str, set[str]] = {}
    for ref in document.get("relevant_attributes") or []:
        if isinstance(ref, dict) and ref.get("attribute"):
            relevant.setdefault(str(ref.get("resource")), set()).add(str(ref["attribute"][0]))
    drift = []
    for item in document.get("resource_drift") or []:
        rc = _resource_change(item)
        if rc.action is Action.NOOP:
            continue
        wanted = relevant.get(rc.address, set())
        if rc.action is not Action.UPDATE or any(a.name in wanted for a in rc.attributes):
            drift.append(rc)
    outputs = []
    for name, change in sorted((document.get("output_changes") or {}).items()):
        oc = _output_change(name, change)
        if oc.action is not Action.NOOP:
            outputs.append(oc)
    resources.sort(key=lambda r: (r.action.rank, r.address))
    failed_checks = tuple(
        sorted(
            str((check.get("address") or {}).get("to_display", "?"))
            for check in document.get("checks") or []
            if isinstance(check, dict) and check.get("status") in ("fail", "error")
        )
    )
    return Plan(
        failed_checks=failed_checks,
        resources=tuple(resources),
        outputs=tuple(outputs),
        drift=tuple(drift),
        terraform_version=str(document.get("terraform_version", "")),
        errored=bool(document.get("errored", False)),
        complete=bool(document.get("complete", True)),
    )


# ---------------------------------------------------------------------------
# Markdown helpers
# ---------------------------------------------------------------------------
def code(text: str) -> str:
    """Inline code that survives backticks and table pipes."""
    text = text.replace("\r", "").replace("\n", "⏎")
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or longest else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def cell(text: str) -> str:
    """Make text safe inside a GFM table cell (pipes escaped, even inside code spans)."""
    return text.replace("|", "\\|")


def html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fence(body: str, info: str = "") -> str:
    """A fenced code block whose fence no line of ``body`` can close."""
    longest = max((len(m) for m in re.findall(r"`{3,}", body)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{info}\n{body}\n{ticks}"


def short(text: str, limit: int = CELL_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def display_scalar(value: Any) -> str:  # noqa: ANN401 - JSON values
    """A one-line, already-safe rendering of a masked value for a table cell."""
    if isinstance(value, Secret | Unknown):
        return f"_{value!r}_"
    if value is None:
        return "_null_"
    if isinstance(value, str):
        return cell(code(short(json.dumps(value, ensure_ascii=False))))
    return cell(code(short(json.dumps(to_jsonable(value), ensure_ascii=False, sort_keys=True))))


def to_jsonable(value: Any, *, expand_json: bool = False) -> Any:  # noqa: ANN401
    """Replace the masking sentinels by their texts; optionally parse strings holding JSON."""
    if isinstance(value, Secret | Unknown):
        return repr(value)
    if isinstance(value, dict):
        return {k: to_jsonable(v, expand_json=expand_json) for k, v in value.items()}
    if isinstance(value, list):
        return [to_jsonable(v, expand_json=expand_json) for v in value]
    if expand_json and isinstance(value, str):
        parsed = parse_json_document(value)
        if parsed is not None:
            return parsed
    return value


def parse_json_document(value: Any) -> dict[str, Any] | list[Any] | None:  # noqa: ANN401
    """The parsed object when ``value`` is a string holding a JSON object or array."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or text[0] not in "[{":
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, (dict, list)) else None


def is_policy(document: Any) -> bool:  # noqa: ANN401 - JSON values
    return isinstance(document, dict) and "Statement" in document


def pretty(value: Any) -> list[str]:  # noqa: ANN401 - JSON values
    if value is None:
        return []
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).splitlines()


def json_diff(before: Any, after: Any, label: str, *, full: bool = False) -> str:  # noqa: ANN401
    """A unified diff of two JSON values pretty-printed, as a ```diff block."""
    old, new = pretty(before), pretty(after)
    context = max(len(old), len(new)) if full else DIFF_CONTEXT
    lines = list(
        difflib.unified_diff(old, new, fromfile="before", tofile="after", lineterm="", n=context)
    )
    if lines[:2] and lines[0].startswith("---"):
        lines = lines[2:]  # the file header adds nothing here
    if not lines:
        return ""
    if len(lines) > DIFF_MAX_LINES:
        lines = [*lines[:DIFF_MAX_LINES], f"… {len(lines) - DIFF_MAX_LINES} more diff lines cut"]
    return f"{label}\n\n{fence(chr(10).join(lines), 'diff')}"


# ---------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class RenderOptions:
    env: str
    commit: str = ""
    details_url: str = ""
    max_chars: int = DEFAULT_MAX_CHARS


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


# The four counts every plan reports, by the names of the comment's columns and the CI outputs.
COUNTED_ACTIONS = (
    ("add", Action.CREATE),
    ("change", Action.UPDATE),
    ("replace", Action.REPLACE),
    ("destroy", Action.DESTROY),
)


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
    return isinstance(value, (dict, list)) and not _is_empty(value)


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
            if rc.action is Action.CREATE and not _any_leaf(
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


def clean_plain_text(text: str) -> list[str]:
    lines = ANSI_RE.sub("", text).replace("\r\n", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def plain_text_block(lines: list[str], keep: int | None, where: str) -> str:
    if not lines:
        return ""
    shown = lines if keep is None else lines[:keep]
    title = "Full plan (plain text)"
    note = ""
    if keep is not None and keep < len(lines):
        title += f" — truncated, {keep} of {len(lines)} lines"
        note = (
            f"\n\n> ✂️ **Truncated:** the plain-text plan is {len(lines)} lines; "
            f"the first {keep} are shown. {where}"
        )
    return (
        f"<details><summary>{title}</summary>\n\n{fence(chr(10).join(shown), 'text')}"
        f"{note}\n\n</details>"
    )


def comment_length(markdown: str) -> int:
    """Length as GitHub may count it: UTF-16 code units, never fewer than characters."""
    return len(markdown.encode("utf-16-le")) // 2


def render(plan: Plan, plain_text: str | None, options: RenderOptions) -> str:
    """The whole comment, never longer than ``options.max_chars``."""
    where = (
        f"Full plan: [workflow run]({options.details_url})."
        if options.details_url
        else "Run `terraform show` on the plan file for the rest."
    )
    header_lines = [
        MARKER_TEMPLATE.format(env=options.env),
        f"### Terraform plan: {code(options.env)}",
    ]
    header_lines.append("")
    header_lines.append(verdict(plan, options.env))
    meta = []
    if options.commit:
        meta.append(f"commit {code(options.commit[:12])}")
    if plan.terraform_version:
        meta.append(f"Terraform {plan.terraform_version}")
    if not plan.complete:
        meta.append("plan incomplete: another apply is needed after this one")
    if meta:
        header_lines += ["", "<sub>" + " · ".join(meta) + "</sub>"]
    header = "\n".join(header_lines)

    groups = resource_rows(plan)
    details = [d for d in (resource_detail(rc) for rc in plan.resources) if d]
    text_lines = clean_plain_text(plain_text) if plain_text else []
    fixed = [
        counts_table(plan) if plan.has_changes else "",
        checks_note(plan),
        destructive_summary(plan),
    ]
    tail = [output_table(plan), drift_note(plan)]

    def assemble(rows: int | None, n_details: int, text_keep: int | None, text_on: bool) -> str:
        sections = [header, *fixed, render_tables(groups, rows, where)]
        if details and n_details:
            shown = details[:n_details]
            block = "**Attribute changes**\n\n" + "\n\n".join(shown)
            if n_details < len(details):
                block += (
                    f"\n\n> ✂️ **Truncated:** attribute diffs of {len(details) - n_details} more "
                    f"resource(s) left out to fit GitHub's comment limit. {where}"
                )
            sections.append(block)
        elif details:
            sections.append(
                f"> ✂️ **Truncated:** attribute diffs of {len(details)} resource(s) left out to "
                f"fit GitHub's comment limit. {where}"
            )
        sections += tail
        if text_lines and text_on:
            sections.append(plain_text_block(text_lines, text_keep, where))
        elif text_lines:
            sections.append(
                f"> ✂️ **Truncated:** the plain-text plan ({len(text_lines)} lines) does not fit "
                f"in one comment. {where}"
            )
        return "\n\n".join(s for s in sections if s) + "\n"

    limit = options.max_chars
    full = assemble(None, len(details), None, True)
    if comment_length(full) <= limit:
        return full
    # 1. Cut the plain-text plan, keeping as many lines as fit.
    if text_lines:
        keep = _largest(
            lambda k: comment_length(assemble(None, len(details), k, True)) <= limit,
            len(text_lines),
        )
        if keep >= MIN_PLAIN_TEXT_LINES:
            return assemble(None, len(details), keep, True)
    # 2. Then the per-resource diffs, from the least important (creates come last).
    n_details = _largest(
        lambda n: comment_length(assemble(None, n, None, False)) <= limit, len(details)
    )
    if n_details > 0 or not details:
        return assemble(None, n_details, None, False)
    # 3. Then table rows.
    total_rows = sum(len(rows) for _, rows in groups)
    n_rows = _largest(lambda n: comment_length(assemble(n, 0, None, False)) <= limit, total_rows)
    result = assemble(n_rows, 0, None, False)
    if comment_length(result) > limit:  # only a pathological header (a huge env name) gets here
        raise PlanInputError(f"cannot fit even the summary in {limit} characters")
    return result


def render_failure(log_text: str, options: RenderOptions) -> str:
    """The comment for a plan that did not run to the end: the tail of terraform's output."""
    where = (
        f"Full log: [workflow run]({options.details_url})."
        if options.details_url
        else "See the job log."
    )
    head = "\n\n".join(
        [
            MARKER_TEMPLATE.format(env=options.env),
            f"### Terraform plan: {code(options.env)}",
            f"❌ **Plan failed** for {code(options.env)}: nothing can be applied from this "
            f"commit. {where}",
        ]
    )
    lines = clean_plain_text(log_text)

    def assemble(keep: int) -> str:
        shown = lines[-keep:] if keep else []
        cut = f" (last {keep} of {len(lines)} lines)" if keep < len(lines) else ""
        body = fence("\n".join(shown), "text") if shown else "_(no output)_"
        return f"{head}\n\n**Terraform output{cut}**\n\n{body}\n"

    keep = _largest(lambda k: comment_length(assemble(k)) <= options.max_chars, len(lines))
    return assemble(keep)


def _largest(fits: Any, upper: int) -> int:  # noqa: ANN401 - a predicate
    """The largest n in [0, upper] with fits(n) true (fits is monotone), or 0."""
    lo, hi = 0, upper
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------
def load_plan(path: str) -> Plan:
    try:
        if path == "-":
            raw = sys.stdin.read()
        elif path.endswith(".gz"):
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                raw = fh.read()
        else:
            raw = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanInputError(f"cannot read {path}: {exc.strerror}") from exc
    if not raw.strip():
        raise PlanInputError(f"{path} is empty: did terraform show -json fail?")
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise PlanInputError(f"{path} is not JSON: {exc}") from exc
    return parse_plan(document)


def write_outputs(path: str, plan: Plan, env: str, exit_code: int) -> None:
    values = {
        "destructive": str(plan.destructive).lower(),
        "label": DESTROY_LABEL_TEMPLATE.format(env=env),
        "has_changes": str(plan.has_changes).lower(),
        **{name: plan.count(action) for name, action in COUNTED_ACTIONS},
        "exit_code": exit_code,
    }
    with Path(path).open("a", encoding="utf-8") as fh:
        fh.writelines(f"{k}={v}\n" for k, v in values.items())


def _emit(markdown: str, output: str | None) -> None:
    if output:
        Path(output).write_text(markdown, encoding="utf-8")
    else:
        sys.stdout.write(markdown)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Render `terraform show -json` output as a Markdown pull-request comment.",
        epilog="Exit status: 0 ok, 1 bad input, 2 usage, 3 destroys/replaces "
        "(with --detailed-exitcode).",
    )
    parser.add_argument(
        "plan_json",
        nargs="?",
        help="output of `terraform show -json <planfile>` (may be .gz), or - for stdin",
    )
    parser.add_argument(
        "--failed-log",
        help="render a 'plan failed' comment from this terraform output instead of a plan",
    )
    parser.add_argument("--text", help="output of `terraform show -no-color <planfile>`")
    parser.add_argument("--env", default="default", help="environment name (marker and title)")
    parser.add_argument("--commit", default="", help="commit the plan was made for")
    parser.add_argument("--details-url", default="", help="link for the full plan (CI run)")
    parser.add_argument("--output", "-o", help="write the Markdown here instead of stdout")
    parser.add_argument("--outputs-file", help="append key=value results (GitHub $GITHUB_OUTPUT)")
    parser.add_argument("--max-chars", type=int, default=DEFAULT_MAX_CHARS)
    parser.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help=f"exit {EXIT_DESTRUCTIVE} when the plan destroys or replaces anything",
    )
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", args.env):
        parser.error("--env may hold only letters, digits, '.', '_' and '-'")
    if not 1000 <= args.max_chars <= GITHUB_COMMENT_LIMIT:
        parser.error(f"--max-chars must be between 1000 and {GITHUB_COMMENT_LIMIT}")
    options = RenderOptions(args.env, args.commit, args.details_url, args.max_chars)
    if args.failed_log:
        try:
            log_text = Path(args.failed_log).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            print(f"plan_preview: error: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        _emit(render_failure(log_text, options), args.output)
        return EXIT_OK
    if not args.plan_json:
        parser.error("give a plan JSON file (or - for stdin), or --failed-log")
    try:
        plan = load_plan(args.plan_json)
        text = Path(args.text).read_text(encoding="utf-8") if args.text else None
        markdown = render(plan, text, options)
    except (PlanInputError, OSError) as exc:
        print(f"plan_preview: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    _emit(markdown, args.output)
    code_ = EXIT_DESTRUCTIVE if args.detailed_exitcode and plan.destructive else EXIT_OK
    if args.outputs_file:
        write_outputs(args.outputs_file, plan, args.env, code_)
    return code_


if __name__ == "__main__":
    sys.exit(main())
