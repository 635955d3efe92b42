"""Command line: render a saved Terraform plan as a Markdown pull-request comment.

    terraform plan -out=tfplan
    terraform show -json tfplan > plan.json
    terraform show -no-color tfplan > plan.txt
    python -m tools.plan_preview plan.json --text plan.txt --env dev > comment.md

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
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from tools.plan_preview.model import COUNTED_ACTIONS, Plan, PlanInputError
from tools.plan_preview.parse import load_plan
from tools.plan_preview.render import (
    DEFAULT_MAX_CHARS,
    GITHUB_COMMENT_LIMIT,
    RenderOptions,
    render,
    render_failure,
)

EXIT_OK = 0
EXIT_BAD_INPUT = 1
EXIT_DESTRUCTIVE = 3
DESTROY_LABEL_TEMPLATE = "plan:destroys:{env}"
ENV_NAME_RE = re.compile(r"[A-Za-z0-9_.-]+")


def write_outputs(path: str, plan: Plan, env: str, exit_code: int) -> None:
    """Append the CI results of a rendered plan as ``key=value`` lines (``$GITHUB_OUTPUT``)."""
    values = {
        "destructive": str(plan.destructive).lower(),
        "label": DESTROY_LABEL_TEMPLATE.format(env=env),
        "has_changes": str(plan.has_changes).lower(),
        **{name: plan.count(action) for name, action in COUNTED_ACTIONS},
        "exit_code": exit_code,
    }
    append_outputs(Path(path), values)


def append_outputs(path: Path, values: Mapping[str, object]) -> None:
    """Append ``key=value`` lines to a GitHub Actions step-output file (``$GITHUB_OUTPUT``)."""
    with path.open("a", encoding="utf-8") as fh:
        fh.writelines(f"{k}={v}\n" for k, v in values.items())


def _emit(markdown: str, output: str | None) -> None:
    if output:
        Path(output).write_text(markdown, encoding="utf-8")
    else:
        sys.stdout.write(markdown)


def comment_parser(prog: str, description: str, epilog: str, *, env: str | None) -> Parser:
    """An argument parser with the options that name a comment: ``--env`` (required when
    ``env`` is None, else its default; only letters, digits, '.', '_' and '-': it is part of
    the comment's marker), ``--commit`` and ``--details-url``. Parse with its ``parse``."""
    parser = Parser(prog=prog, description=description, epilog=epilog)
    help_env = "environment name (marker and title)"
    if env is None:
        parser.add_argument("--env", required=True, help=help_env)
    else:
        parser.add_argument("--env", default=env, help=help_env)
    parser.add_argument("--commit", default="", help="commit the plan was made for")
    parser.add_argument("--details-url", default="", help="link for the full plan (CI run)")
    return parser


class Parser(argparse.ArgumentParser):
    """``parse``: ``parse_args`` and the check of ``--env``."""

    def parse(self, argv: Sequence[str] | None) -> argparse.Namespace:
        args = self.parse_args(argv)
        if not ENV_NAME_RE.fullmatch(args.env):
            self.error("--env may hold only letters, digits, '.', '_' and '-'")
        return args


def main(argv: Sequence[str] | None = None) -> int:
    parser = comment_parser(
        "python -m tools.plan_preview",
        "Render `terraform show -json` output as a Markdown pull-request comment.",
        "Exit status: 0 ok, 1 bad input, 2 usage, 3 destroys/replaces (with --detailed-exitcode).",
        env="default",
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
    parser.add_argument("--output", "-o", help="write the Markdown here instead of stdout")
    parser.add_argument("--outputs-file", help="append key=value results (GitHub $GITHUB_OUTPUT)")
    parser.add_argument("--max-chars", type=int, default=DEFAULT_MAX_CHARS)
    parser.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help=f"exit {EXIT_DESTRUCTIVE} when the plan destroys or replaces anything",
    )
    args = parser.parse(argv)
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
