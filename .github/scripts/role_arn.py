"""Pick this environment's IAM role ARN from a repository variable holding a JSON map.

Used by the terraform workflow: ROLE_ARNS is the variable's value ({"dev": "arn:...", ...}),
VARIABLE its name, ENV_NAME the environment. Writes ``arn=<role>`` to $GITHUB_OUTPUT, or fails
with a message that says which repository variable to set.
"""

from __future__ import annotations

import json
import os
import re
import sys

ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]+$")


def main() -> int:
    name = os.environ.get("VARIABLE", "the role variable")
    env = os.environ["ENV_NAME"]
    example = f'{{"{env}": "arn:aws:iam::123456789012:role/realtime-{env}"}}'
    try:
        roles = json.loads(os.environ.get("ROLE_ARNS") or "")
    except ValueError:
        print(f"::error::set the repository variable {name} to a JSON map, e.g. {example}")
        return 1
    arn = roles.get(env) if isinstance(roles, dict) else None
    if not isinstance(arn, str) or not ROLE_ARN.match(arn):
        print(f"::error::{name} has no IAM role ARN for {env!r}; add one, e.g. {example}")
        return 1
    with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as fh:
        fh.write(f"arn={arn}\n")
    print(f"{env}: {arn}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
