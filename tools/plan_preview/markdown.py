"""Markdown primitives: escaping for GitHub-flavoured Markdown, values in cells, JSON diffs."""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

from tools.plan_preview.masking import Secret, Unknown

CELL_MAX = 120  # characters of a value shown in a table cell
DIFF_MAX_LINES = 400  # lines of one JSON diff before it is cut
DIFF_CONTEXT = 3


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


def comment_length(markdown: str) -> int:
    """Length as GitHub may count it: UTF-16 code units, never fewer than characters."""
    return len(markdown.encode("utf-16-le")) // 2


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
