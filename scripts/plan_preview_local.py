"""Plan one environment and print the pull-request comment a plan of it would get.

    python scripts/plan_preview_env.py --env local   # the stack `make up` runs on the emulator
    python scripts/plan_preview_env.py --env dev     # real AWS, with your credentials

The same steps as the CI workflow: ``terraform plan -out``, ``terraform show -json`` and
``terraform show -no-color`` of that plan, then ``plan_preview.py``. For ``local`` the plan uses
what ``make up`` recorded (the emulator endpoint, its Terraform working directory and the
local-only ``-var``s, from ``scripts/devstack.py``), so it previews exactly what the next
``make up`` would apply. Other environments use ``TF_DATA_DIR=.terraform/<env>`` and, when that
directory is not initialised yet, ``terraform init -backend-config=envs/<env>.s3.tfbackend``.
The plan files land in ``.cache/plan-preview/`` (gitignored); the Markdown goes to stdout and
Terraform's own output to stderr. Exit status: the renderer's (0, or 3 with
``--detailed-exitcode`` when something is destroyed or replaced), 1 on any failure.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import plan_preview

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / ".cache" / "plan-preview"


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
    import devstack  # noqa: PLC0415 - only the local environment needs the local-stack tooling
    import emulator  # noqa: PLC0415

    try:
        state = devstack.require_stack()
    except devstack.StackError as exc:
        raise PreviewError(str(exc)) from None
    emu = emulator.running()
    if emu is None:
        raise PreviewError("the local emulator is not running: run 'make up' first")
    return devstack.terraform_env(emu), devstack.terraform_vars(state)


def aws_setup(env_name: str) -> tuple[dict[str, str], list[str]]:
    tfvars = ROOT / "envs" / f"{env_name}.tfvars"
    backend = ROOT / "envs" / f"{env_name}.s3.tfbackend"
    if not tfvars.exists():
        names = sorted(p.stem for p in (ROOT / "envs").glob("*.tfvars"))
        raise PreviewError(f"envs/{env_name}.tfvars does not exist; environments: {names}")
    data_dir = ROOT / ".terraform" / env_name
    env = {
        **os.environ,
        "TF_DATA_DIR": str(data_dir),
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
    }
    if not (data_dir / "terraform.tfstate").exists():  # the backend marker `terraform init` writes
        terraform(
            ["init", "-input=false", f"-backend-config={backend.relative_to(ROOT)}"],
            env,
        )
    return env, [f"-var-file={tfvars.relative_to(ROOT)}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True, help="environment: envs/<env>.tfvars")
    parser.add_argument("--detailed-exitcode", action="store_true")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[A-Za-z0-9_-]+", args.env):
        parser.error("--env may hold only letters, digits, '_' and '-'")
    try:
        env, variables = local_setup() if args.env == "local" else aws_setup(args.env)
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        plan_file = OUT_DIR / f"{args.env}.tfplan"
        terraform(
            ["plan", "-input=false", "-lock=false", f"-out={plan_file}", *variables],
            env,
        )
        (OUT_DIR / f"{args.env}.json").write_text(
            terraform(["show", "-json", str(plan_file)], env, capture=True)
        )
        (OUT_DIR / f"{args.env}.txt").write_text(
            terraform(["show", "-no-color", str(plan_file)], env, capture=True)
        )
    except PreviewError as exc:
        print(f"plan_preview_env: error: {exc}", file=sys.stderr)
        return 1
    render = [
        str(OUT_DIR / f"{args.env}.json"),
        "--text",
        str(OUT_DIR / f"{args.env}.txt"),
        "--env",
        args.env,
    ]
    if args.detailed_exitcode:
        render.append("--detailed-exitcode")
    return plan_preview.main(render)


if __name__ == "__main__":
    sys.exit(main())
