"""Plan the local stack (the one `make up` runs) and print the comment a pull request would get.

    python -m tools.plan_preview.local      # what `make plan-preview ENV=local` runs

The same steps as the CI workflow, ``terraform plan -out``, ``terraform show -json`` and
``terraform show -no-color`` of that plan, then the plan preview renderer, with what ``make up``
recorded: the emulator endpoint, its Terraform working directory and the local-only ``-var``s
(from tools.localenv), so the preview shows exactly what the next ``make up`` would apply. Other
environments go through ``make plan ENV=<env>`` instead (see the Makefile). The plan files land
in ``.cache/plan-preview/`` (gitignored); the Markdown goes to stdout and Terraform's own output
to stderr. Exit status 0, or 1 on any failure.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from tools.localenv import stack, terraform
from tools.localenv.config import ENV_NAME, LocalEnv
from tools.plan_preview import cli as plan_preview_cli


def main(argv: Sequence[str] | None = None) -> int:
    argparse.ArgumentParser(
        prog="python -m tools.plan_preview.local", description=(__doc__ or "").splitlines()[0]
    ).parse_args(argv)
    config = LocalEnv.from_environ(os.environ)
    out_dir = config.root / ".cache" / "plan-preview"
    plan_file = out_dir / f"{ENV_NAME}.tfplan"
    plan_json, plan_text = out_dir / f"{ENV_NAME}.json", out_dir / f"{ENV_NAME}.txt"
    try:
        env, variables = stack.terraform_setup(config)
        out_dir.mkdir(parents=True, exist_ok=True)
        # make up's own runner (root module, Terraform's output on stderr).
        # -lock=false: a preview never holds the state lock a running `make up` may need.
        plan = ["plan", "-input=false", "-lock=false", f"-out={plan_file}", *variables]
        stack.run_terraform(config, plan, env)
        show_json = ["show", "-json", str(plan_file)]
        plan_json.write_text(stack.run_terraform(config, show_json, env, capture=True))
        show_text = ["show", "-no-color", str(plan_file)]
        plan_text.write_text(stack.run_terraform(config, show_text, env, capture=True))
    except (stack.StackError, terraform.TerraformError) as exc:
        print(f"plan_preview_local: error: {exc}", file=sys.stderr)
        return 1
    return plan_preview_cli.main([str(plan_json), "--text", str(plan_text), "--env", ENV_NAME])


if __name__ == "__main__":
    sys.exit(main())
