"""The whole comment, fitted to GitHub's size limit; and the comment for a plan that failed.

The comment opens with a hidden marker line (``<!-- plan-preview:<env> -->``) by which CI finds
and updates its own sticky comment. When the whole does not fit in ``max_chars`` (counted in
UTF-16 units, as GitHub may count), the plain-text plan is cut first, then the per-resource
diffs, then table rows, each time with a note saying what was left out and where to find it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

from tools.plan_preview.details import resource_detail
from tools.plan_preview.markdown import code, comment_length, fence
from tools.plan_preview.model import Plan, PlanInputError
from tools.plan_preview.summary import (
    checks_note,
    counts_table,
    destructive_summary,
    drift_note,
    output_table,
    verdict,
)
from tools.plan_preview.tables import render_tables, resource_rows

GITHUB_COMMENT_LIMIT = 65_536
DEFAULT_MAX_CHARS = 65_000  # a margin under GitHub's limit for what CI wraps around it
MARKER_TEMPLATE = "<!-- plan-preview:{env} -->"
MIN_PLAIN_TEXT_LINES = 20  # below this, the plain-text plan is dropped rather than cut
ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclasses.dataclass(frozen=True)
class RenderOptions:
    env: str
    commit: str = ""
    details_url: str = ""
    max_chars: int = DEFAULT_MAX_CHARS


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


def _largest(fits: Callable[[int], bool], upper: int) -> int:
    """The largest n in [0, upper] with fits(n) true (fits is monotone), or 0."""
    lo, hi = 0, upper
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


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
