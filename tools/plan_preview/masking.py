"""Masking: sensitive values are replaced before anything can print them, unknown ones marked.

Terraform's JSON plan holds sensitive values in clear next to a ``*_sensitive`` tree of the same
shape; :func:`mask` swaps every marked leaf for :data:`SECRET` at parse time, so the renderer
never holds a secret. Values Terraform will only know after apply become :data:`UNKNOWN`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SENSITIVE_TEXT = "(sensitive value)"
SENSITIVE_CHANGED_TEXT = "(sensitive value, changed)"
UNKNOWN_TEXT = "(known after apply)"


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
        keys += [k for k in unk if k not in values and has_true(unk[k])]
        if not isinstance(value, dict) and not keys:
            return value
        return {k: mask(values.get(k), sens.get(k, False), unk.get(k, False)) for k in keys}
    if isinstance(value, list) or isinstance(sensitive, list) or isinstance(unknown, list):
        items = value if isinstance(value, list) else []
        sens_l = sensitive if isinstance(sensitive, list) else []
        unk_l = unknown if isinstance(unknown, list) else []
        if not isinstance(value, list) and value is not None:
            return SECRET if any(has_true(s) for s in sens_l) else value
        length = max(len(items), len(unk_l))
        if not isinstance(value, list) and not any(has_true(u) for u in unk_l):
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


def flag_changed_secrets(after: Any, raw_before: Any, raw_after: Any) -> Any:  # noqa: ANN401
    """Replace each SECRET in the masked ``after`` whose raw value differs from before."""
    if isinstance(after, Secret):
        return after if same(raw_before, raw_after) else CHANGED_SECRET
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


# ---------------------------------------------------------------------------
# JSON-tree predicates the masking and the plan model share
# ---------------------------------------------------------------------------
def any_leaf(tree: Any, test: Callable[[Any], bool]) -> bool:  # noqa: ANN401 - JSON values
    """Whether ``test`` holds for some leaf (not a dict or list) of a JSON-like tree."""
    if isinstance(tree, dict):
        return any(any_leaf(v, test) for v in tree.values())
    if isinstance(tree, list):
        return any(any_leaf(v, test) for v in tree)
    return test(tree)


def has_true(tree: Any) -> bool:  # noqa: ANN401 - JSON values
    return any_leaf(tree, lambda leaf: leaf is True)


def is_empty(value: Any) -> bool:  # noqa: ANN401 - JSON values
    return value is None or value in ([], {})


def same(before: Any, after: Any) -> bool:  # noqa: ANN401 - JSON values
    """Equality that, like Terraform's renderer, treats null and an empty collection alike."""
    if is_empty(before) and is_empty(after):
        return True
    if type(before) is not type(after):
        return False
    return bool(before == after)
