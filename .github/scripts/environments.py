"""List the environments CI plans and applies: every envs/<env>.tfvars except local.

Prints ``names=<JSON list>`` to $GITHUB_OUTPUT (stdout without it) for a job matrix; fails when
there is nothing to plan, or when an environment lacks its envs/<env>.s3.tfbackend.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

LOCAL_ONLY = frozenset({"local"})


def environments(envs_dir: Path) -> list[str]:
    names = sorted(p.stem for p in envs_dir.glob("*.tfvars") if p.stem not in LOCAL_ONLY)
    if not names:
        raise SystemExit(f"::error::no {envs_dir}/*.tfvars besides local: nothing to plan")
    missing = [n for n in names if not (envs_dir / f"{n}.s3.tfbackend").exists()]
    if missing:
        raise SystemExit(
            f"::error::no backend for {', '.join(missing)}: add envs/<env>.s3.tfbackend"
        )
    return names


def main() -> int:
    envs_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "envs")
    line = f"names={json.dumps(environments(envs_dir))}\n"
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        with open(output, "a", encoding="utf-8") as fh:
            fh.write(line)
    sys.stdout.write(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
