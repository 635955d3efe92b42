"""Plan the local stack (the one `make up` runs) and print the comment a pull request would get.

    python scripts/plan_preview_local.py          # what `make plan-preview ENV=local` runs

The same steps as the CI workflow, ``terraform plan -out``, ``terraform show -json`` and
``terraform show -no-color`` of that plan, then ``plan_preview.py``, with what ``make up``
recorded: the emulator endpoint, its Terraform working directory and the local-only ``-var``s
(from ``scripts/devstack.py``), so the preview shows exactly what the next ``make up`` would
apply. Other environments go through ``make plan ENV=<env>`` instead (see the Makefile). The
plan files land in ``.cache/plan-preview/`` (gitignored); the Markdown goes to stdout and
Terraform's own output to stderr. Exit status: the renderer's (0, or 3 with
``--detailed-exitcode`` when something is destroyed or replaced), 1 on any failure.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import plan_preview

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / ".cache" / "plan-preview"
ENV_NAME = "local"


class PreviewError(RuntimeError):
    """A step that failed; the message says what to do."""


def terraform(args: list[str], env: Mapping[str, str], *, capture: bool = False) -> str:
    if shutil.which("terraform") is None:
        raise PreviewError("terraform is not on PATH (see the README's prerequisites)")
    proc = subprocess.run(
        ["terraform", f"-chdir={ROOT}", *args],
        env=dict(env),
        text=True,
        stdout=subprocess.PIPE if capture else sys.stderr,
        check=False,
    )
    if proc.returncode != 0:
        raise PreviewError(f"terraform {args[0]} failed (exit {proc.returncode}); see above")
    return proc.stdout if capture else ""


def local_setup() -> tuple[dict[str, str], list[str]]:
    """Environment and -var arguments of the running local stack, as `make up` applied it."""
    import devstack  # noqa: PLC0415 - loaded only when planning the local stack
    import emulator  # noqa: PLC0415

    try:
        state = devstack.require_stack()
    except devstack.StackError as exc:
        raise PreviewError(str(exc)) from None
    emu = emulator.running()
    if emu is None:
        raise PreviewError("the local emulator is not running: run 'make up' first")
    return devstack.terraform_env(emu), devstack.terraform_vars(state)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detailed-exitcode", action="store_true")
    args = parser.parse_args(argv)
    try:
        env, variables = local_setup()
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        plan_file = OUT_DIR / f"{ENV_NAME}.tfplan"
        # -lock=false: a preview never holds the state lock a running `make up` may need.
        terraform(["plan", "-input=false", "-lock=false", f"-out={plan_file}", *variables], env)
        (OUT_DIR / f"{ENV_NAME}.json").write_text(
            terraform(["show", "-json", str(plan_file)], env, capture=True)
        )
        (OUT_DIR / f"{ENV_NAME}.txt").write_text(
            terraform(["show", "-no-color", str(plan_file)], env, capture=True)
        )
    except PreviewError as exc:
        print(f"plan_preview_local: error: {exc}", file=sys.stderr)
        return 1
    render = [
        str(OUT_DIR / f"{ENV_NAME}.json"),
        "--text",
        str(OUT_DIR / f"{ENV_NAME}.txt"),
        "--env",
        ENV_NAME,
    ]
    if args.detailed_exitcode:
        render.append("--detailed-exitcode")
    return plan_preview.main(render)


if __name__ == "__main__":
    sys.exit(main())
