"""Reading ``terraform show -json <planfile>`` output into the plan model, masking as it goes."""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tools.plan_preview.masking import (
    Secret,
    Unknown,
    any_leaf,
    flag_changed_secrets,
    mask,
    same,
)
from tools.plan_preview.model import (
    ACTION_REASONS,
    Action,
    AttributeChange,
    OutputChange,
    Plan,
    PlanInputError,
    ResourceChange,
    classify,
)


def load_plan(path: str) -> Plan:
    """The plan in ``path`` (``.gz`` read as gzip), or on stdin when ``path`` is ``-``."""
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


def _masked(change: dict[str, Any]) -> tuple[Any, Any]:
    """The before and after values of a resource or output change, masked."""
    before = mask(change.get("before"), change.get("before_sensitive", False))
    after = mask(
        change.get("after"), change.get("after_sensitive", False), change.get("after_unknown")
    )
    return before, after


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
        changed = not same(bv, av)
        if key in rb and any_leaf(av, lambda leaf: isinstance(leaf, Secret)):
            # Masked values hide whether a secret changed: the raw values tell, and the
            # after side then says "changed" without ever showing either value.
            av = flag_changed_secrets(av, rb.get(key), ra.get(key))
            changed = changed or not same(bv, av)
        if replacing and key not in forcing and _blank(bv) and _blank(av):
            # A new object: the provider's "" for an unset optional string is no change.
            changed = False
        if changed:
            changes.append(AttributeChange(key, bv, av, key in forcing))
    return tuple(changes)


def _blank(value: Any) -> bool:  # noqa: ANN401 - JSON values
    return value is None or (isinstance(value, str) and not value)
