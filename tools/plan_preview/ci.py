"""Plan one environment and render its preview: the step CI and ``make plan-preview`` both run.

    python -m tools.plan_preview.ci --env dev --plan-file plan-out/dev.tfplan \\
        [--var-file envs/dev.tfvars] [--terraform terraform] [--no-lock | --lock-timeout 10m] \\
        [--commit SHA] [--details-url URL] \\
        [--github-output "$GITHUB_OUTPUT"] [--step-summary "$GITHUB_STEP_SUMMARY"]

Runs, in the current directory and environment (``TF_DATA_DIR`` and the backend already set up by
``terraform init``):

1. ``terraform plan -input=false -no-color -var-file=envs/<env>.tfvars -out=<plan-file>``, its
   output copied to stderr and to ``<stem>.log`` beside the plan file;
2. when the plan succeeded, ``terraform show -json`` and ``terraform show -no-color`` of the plan
   into ``<stem>.json`` and ``<stem>.txt``, rendered into ``<stem>.md``; when it failed, the
   "plan failed" comment from the log into ``<stem>.md`` instead;
3. the comment printed on stdout (and nothing else: Terraform's output goes to stderr), appended
   to ``--step-summary`` if given.

``--github-output`` receives ``status`` (terraform plan's exit status), ``comment`` (the path of
``<stem>.md``) and, for a plan that rendered, what ``python -m tools.plan_preview
--outputs-file`` writes (``destructive``, ``label``, the counts...).

Exit status: 0 rendered; 1 terraform cannot be run, ``terraform show`` failed or its output is
not a plan (no comment); 2 usage; 4 the plan failed (the "plan failed" comment is written).
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, TextIO

from tools.plan_preview.cli import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    append_outputs,
    comment_parser,
    write_outputs,
)
from tools.plan_preview.model import PlanInputError
from tools.plan_preview.parse import load_plan
from tools.plan_preview.render import RenderOptions, render, render_failure

EXIT_PLAN_FAILED = 4
PREFIX = "plan_preview.ci"


class TerraformError(RuntimeError):
    """A terraform command other than the plan itself failed, or terraform cannot be run."""


@dataclasses.dataclass(frozen=True)
class CiOptions:
    env: str
    plan_file: Path
    var_file: Path
    terraform: str = "terraform"
    lock_args: tuple[str, ...] = ()  # ("-lock=false",), ("-lock-timeout=10m",) or ()
    commit: str = ""
    details_url: str = ""
    github_output: Path | None = None
    step_summary: Path | None = None

    def sibling(self, suffix: str) -> Path:
        """``<stem><suffix>`` beside the plan file: ``plan-out/dev.tfplan`` -> ``dev.log``..."""
        return self.plan_file.with_suffix(suffix)


def plan_and_render(options: CiOptions, *, stdout: TextIO, stderr: BinaryIO) -> int:
    """Plan, render and publish the comment (see the module docstring); the exit status."""
    options.plan_file.parent.mkdir(parents=True, exist_ok=True)
    log = options.sibling(".log")
    plan_cmd = [
        options.terraform,
        "plan",
        "-input=false",
        "-no-color",
        *options.lock_args,
        f"-var-file={options.var_file}",
        f"-out={options.plan_file}",
    ]
    render_options = RenderOptions(options.env, options.commit, options.details_url)
    try:
        status = run_logged(plan_cmd, log, stderr)
        _output(options, {"status": str(status)})
        if status != 0:
            log_text = log.read_text(encoding="utf-8", errors="replace")
            comment = render_failure(log_text, render_options)
            _publish(options, comment, stdout)
            _error(options, f"terraform plan for {options.env} exited {status}")
            return EXIT_PLAN_FAILED
        plan_json, plan_text = options.sibling(".json"), options.sibling(".txt")
        show(options.terraform, ["-json", str(options.plan_file)], plan_json)
        show(options.terraform, ["-no-color", str(options.plan_file)], plan_text)
        plan = load_plan(str(plan_json))
        comment = render(plan, plan_text.read_text(encoding="utf-8"), render_options)
    except (TerraformError, PlanInputError) as exc:
        _error(options, str(exc))
        return EXIT_BAD_INPUT
    _publish(options, comment, stdout)
    if options.github_output:
        write_outputs(str(options.github_output), plan, options.env, EXIT_OK)
    return EXIT_OK


def run_logged(cmd: Sequence[str], log: Path, echo: BinaryIO) -> int:
    """Run ``cmd`` with its stdout and stderr copied, as they come, to ``echo`` and ``log``."""
    try:
        process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # noqa: S603
    except OSError as exc:
        raise TerraformError(f"cannot run {cmd[0]}: {exc.strerror}") from exc
    assert process.stdout is not None  # noqa: S101 - stdout=PIPE above
    with process, log.open("wb") as fh:
        for line in process.stdout:
            echo.write(line)
            echo.flush()
            fh.write(line)
    return process.returncode


def show(terraform: str, args: Sequence[str], destination: Path) -> None:
    """``terraform show <args>`` into ``destination``; terraform's stderr passes through."""
    try:
        with destination.open("wb") as fh:
            result = subprocess.run([terraform, "show", *args], stdout=fh, check=False)  # noqa: S603
    except OSError as exc:
        raise TerraformError(f"cannot run {terraform}: {exc.strerror}") from exc
    if result.returncode != 0:
        raise TerraformError(f"terraform show {' '.join(args)} exited {result.returncode}")


def _publish(options: CiOptions, comment: str, stdout: TextIO) -> None:
    markdown = options.sibling(".md")
    markdown.write_text(comment, encoding="utf-8")
    stdout.write(comment)
    stdout.flush()
    if options.step_summary:
        with options.step_summary.open("a", encoding="utf-8") as fh:
            fh.write(comment)
    _output(options, {"comment": str(markdown)})


def _output(options: CiOptions, values: dict[str, str]) -> None:
    if options.github_output:
        append_outputs(options.github_output, values)


def _error(options: CiOptions, message: str) -> None:
    print(f"{PREFIX}: error: {message}", file=sys.stderr)
    if options.github_output:
        # A workflow command: GitHub shows it as an error annotation on the run.
        print(f"::error::{message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = comment_parser(
        "python -m tools.plan_preview.ci",
        "terraform plan one environment and render its pull-request comment.",
        "Exit status: 0 rendered, 1 terraform or its show failed, 2 usage, "
        "4 the plan failed (its comment is written).",
        env=None,
    )
    parser.add_argument(
        "--plan-file",
        required=True,
        type=Path,
        help="where the plan goes; the .log, .json, .txt and .md land beside it",
    )
    parser.add_argument("--var-file", type=Path, help="default: envs/<env>.tfvars")
    parser.add_argument("--terraform", default="terraform", help="terraform executable")
    lock = parser.add_mutually_exclusive_group()
    lock.add_argument(
        "--no-lock", action="store_true", help="plan without the state lock (-lock=false)"
    )
    lock.add_argument("--lock-timeout", help="wait this long for the state lock, e.g. 10m")
    parser.add_argument("--github-output", type=Path, help="append key=value results here")
    parser.add_argument("--step-summary", type=Path, help="append the comment here")
    args = parser.parse(argv)
    lock_args: tuple[str, ...] = ()
    if args.no_lock:
        lock_args = ("-lock=false",)
    elif args.lock_timeout:
        lock_args = (f"-lock-timeout={args.lock_timeout}",)
    options = CiOptions(
        env=args.env,
        plan_file=args.plan_file,
        var_file=args.var_file or Path("envs") / f"{args.env}.tfvars",
        terraform=args.terraform,
        lock_args=lock_args,
        commit=args.commit,
        details_url=args.details_url,
        github_output=args.github_output,
        step_summary=args.step_summary,
    )
    return plan_and_render(options, stdout=sys.stdout, stderr=sys.stderr.buffer)


if __name__ == "__main__":
    sys.exit(main())
