"""Plan the local stack (the one `make up` runs) and print the comment a pull request would get.

    python scripts/plan_preview_local.py          # what `make plan-preview ENV=local` runs

The same steps as the CI workflow, ``terraform plan -out``, ``terraform show -json`` and
``terraform show -no-color`` of that plan, then ``plan_preview.py``, with what ``make up``
recorded: the emulator endpoint, its Terraform working directory and the local-only ``-var``s
(from ``scripts/devstack.py``), so the preview shows exactly what the next ``make up`` would
apply. Other environments go through ``make plan ENV=<env>`` instead (see the Makefile). The
plan files land in ``.cache/plan-preview/`` (gitignored); the Markdown goes to stdout and
Terraform's own output to stderr. Exit status 0, or 1 on any failure.
"""

from __future__ import annotations

import argparse
import sys

import devstack
import emulator
import plan_preview

OUT_DIR = devstack.ROOT / ".cache" / "plan-preview"
ENV_NAME = devstack.ENV_NAME


def local_setup() -> tuple[dict[str, str], list[str]]:
    """Environment and -var arguments of the running local stack, as `make up` applied it."""
    state = devstack.require_stack()
    emu = emulator.running()
    if emu is None:
        raise devstack.StackError("the local emulator is not running: run 'make up' first")
    return devstack.terraform_env(emu), devstack.terraform_vars(state)


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    plan_file = OUT_DIR / f"{ENV_NAME}.tfplan"
    plan_json, plan_text = OUT_DIR / f"{ENV_NAME}.json", OUT_DIR / f"{ENV_NAME}.txt"
    try:
        env, variables = local_setup()
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        # make up's own terraform runner (root module, Terraform's output on stderr).
        # -lock=false: a preview never holds the state lock a running `make up` may need.
        run = devstack.terraform
        run(["plan", "-input=false", "-lock=false", f"-out={plan_file}", *variables], env)
        plan_json.write_text(run(["show", "-json", str(plan_file)], env, capture=True))
        plan_text.write_text(run(["show", "-no-color", str(plan_file)], env, capture=True))
    except devstack.StackError as exc:
        print(f"plan_preview_local: error: {exc}", file=sys.stderr)
        return 1
    return plan_preview.main([str(plan_json), "--text", str(plan_text), "--env", ENV_NAME])


if __name__ == "__main__":
    sys.exit(main())
