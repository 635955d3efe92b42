"""A fake ``terraform`` for the plan-and-render step: first on PATH, plays back recorded plans."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"

FAKE_TERRAFORM = """#!{python}
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_TF_CALLS"], "a", encoding="utf-8") as fh:
    fh.write(json.dumps(args) + "\\n")
recorded = os.path.join({fixtures!r}, os.environ["FAKE_TF_FIXTURE"])
if args[0] == "init":
    print("Terraform has been successfully initialized!")
elif args[0] == "plan":
    print("fake terraform: planning", flush=True)
    code = int(os.environ["FAKE_TF_PLAN_EXIT"])
    if code:
        print("Error: simulated failure", file=sys.stderr)
        sys.exit(code)
    out = [a[len("-out="):] for a in args if a.startswith("-out=")]
    with open(out[0], "w", encoding="utf-8") as fh:
        fh.write("a binary plan file\\n")
elif args[0] == "show":
    code = int(os.environ["FAKE_TF_SHOW_EXIT"])
    if code:
        print("Error: cannot read the plan file", file=sys.stderr)
        sys.exit(code)
    if args[1] == "-json":
        import gzip
        sys.stdout.buffer.write(gzip.open(recorded + ".plan.json.gz").read())
    else:
        sys.stdout.buffer.write(open(recorded + ".plan.txt", "rb").read())
elif args[0] == "apply":
    if not os.path.isfile(args[-1]):
        sys.exit(f"Error: no plan file {{args[-1]}}")
    print("Apply complete!")
else:
    sys.exit(f"fake terraform: unexpected arguments {{args}}")
"""


@dataclasses.dataclass
class FakeTerraform:
    """``terraform`` on PATH that records its calls; set the knobs before running the step."""

    bin_dir: Path
    calls_file: Path
    fixture: str = "update"  # which recorded plan `terraform show` prints
    plan_exit: int = 0
    show_exit: int = 0

    @property
    def executable(self) -> Path:
        return self.bin_dir / "terraform"

    def env(self) -> dict[str, str]:
        """The environment a step runs in: this terraform first on PATH, the knobs set."""
        return {
            **os.environ,
            "PATH": f"{self.bin_dir}{os.pathsep}{os.environ['PATH']}",
            "FAKE_TF_CALLS": str(self.calls_file),
            "FAKE_TF_FIXTURE": self.fixture,
            "FAKE_TF_PLAN_EXIT": str(self.plan_exit),
            "FAKE_TF_SHOW_EXIT": str(self.show_exit),
        }

    def calls(self) -> list[list[str]]:
        if not self.calls_file.exists():
            return []
        return [json.loads(line) for line in self.calls_file.read_text().splitlines()]


@pytest.fixture
def fake_terraform(tmp_path: Path) -> FakeTerraform:
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    fake = FakeTerraform(bin_dir, tmp_path / "terraform-calls.jsonl")
    fake.executable.write_text(FAKE_TERRAFORM.format(python=sys.executable, fixtures=str(FIXTURES)))
    fake.executable.chmod(0o755)
    return fake
