"""tfvars that still set the variables `fanout` replaced fail at plan with the lines to write.

`fanout_concurrency`, `post_max_attempts`, `fanout_rate` and `fanout_workers` stay declared in
variables.tf only so that setting them fails (an undeclared variable in a tfvars file is only a
warning, and its value would be ignored). terraform test checks *that* they fail
(tests/tftest/root_validation.tftest.hcl); this reads *what* the errors say, with
`terraform console` on a copy of the root module (offline, no AWS), and applies what they say:
the settings written as told must come out as the old ones did.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tools.localenv import terraform
from tools.localenv.rootmodule import copy_root_module
from tools.paths import ROOT
from tools.reprozip import write_zip

# Terraform's own behaviour, like the apply tests here, but no emulator: terraform console only.
pytestmark = pytest.mark.terraform

PACKAGES = ("authorizer", "connection_manager", "broadcaster", "notifier")
# Enough for a valid configuration without the $connect authorizer. The old settings reserve
# concurrency for the worker, which the plan accepts only with the account's quota stated.
BASE_TFVARS = """
environment                 = "test"
non_production_environments = ["test"]
authorizer                  = { enabled = false }
account_quotas              = { lambda_concurrent_executions = 1000 }
"""
OLD_TFVARS = """
fanout_concurrency = 128
post_max_attempts  = 6
fanout_rate        = 2500
fanout_workers = {
  threshold            = 20000
  max_workers          = 40
  memory_size          = 1769
  timeout              = 120
  reserved_concurrency = 80
}
"""
SETTINGS = 'jsonencode({ fanout = var.fanout, worker = var.functions["fanout-worker"] })'


@dataclass(frozen=True)
class Console:
    """`terraform console` in an initialised copy of the root module.

    It prints a variable's validation errors and still evaluates (exit status 0): the errors are
    read from its output.
    """

    binary: str
    stack: Path
    env: dict[str, str]

    def evaluate(self, tfvars: str, expression: str = SETTINGS) -> subprocess.CompletedProcess[str]:
        var_file = self.stack / "case.tfvars"
        artifacts = f'artifacts_dir = "{self.stack.parent / "artifacts"}"\n'
        var_file.write_text(BASE_TFVARS + artifacts + tfvars)
        return subprocess.run(  # noqa: S603 - terraform from PATH, our own arguments
            [self.binary, f"-chdir={self.stack}", "console", "-no-color", f"-var-file={var_file}"],
            input=expression + "\n",
            capture_output=True,
            text=True,
            env=self.env,
            check=False,
            timeout=300,
        )


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    base = tmp_path_factory.mktemp("removed-variables")
    stack = copy_root_module(ROOT, base / "stack")
    for package in PACKAGES:  # filebase64sha256 needs a file; its contents do not matter here
        write_zip(base / "artifacts" / f"{package}.zip", [(f"{package}.py", b"")])
    env = terraform.terraform_env(os.environ, {}, base / "tf-data")
    terraform.run(["init", "-input=false"], chdir=stack, env=env, capture=True)
    binary = shutil.which("terraform")
    assert binary, "terraform is not on PATH (see the README's prerequisites)"
    yield Console(binary, stack, env)


@pytest.fixture(scope="module")
def old_errors(console: Console) -> str:
    """What Terraform says to tfvars setting all four removed variables."""
    return errors(console.evaluate(OLD_TFVARS))


def errors(proc: subprocess.CompletedProcess[str]) -> str:
    """Terraform's diagnostics on one line (it wraps them at the terminal width)."""
    return " ".join(f"{proc.stderr}\n{proc.stdout}".split())


def settings(proc: subprocess.CompletedProcess[str]) -> dict[str, dict[str, int]]:
    assert proc.returncode == 0, errors(proc)
    value: dict[str, dict[str, int]] = json.loads(json.loads(proc.stdout.strip()))
    return value


def test_each_removed_variable_fails_with_the_lines_to_write(old_errors: str) -> None:
    said = old_errors
    for expected in (
        "fanout_concurrency was replaced by fanout.concurrency: "
        "write fanout = { concurrency = 128 }",
        "post_max_attempts was replaced by fanout.post_max_attempts: "
        "write fanout = { post_max_attempts = 6 }",
        "fanout_rate was replaced by fanout.rate: write fanout = { rate = 2500 }",
        "write fanout = { max_workers = 40, worker_threshold = 20000 } and functions = { "
        "fanout-worker = { memory_size = 1769, reserved_concurrency = 80, timeout = 120 } }",
    ):
        assert expected in said
    assert said.count("Invalid value for variable") == 4


def test_what_the_errors_say_gives_the_old_settings(console: Console, old_errors: str) -> None:
    said = old_errors
    # Merged as the messages ask: every "fanout = { ... }" into one object, the worker's sizing
    # into functions.
    fanout = dict(
        pair
        for body in re.findall(r"write fanout = \{ ([^}]*) \}", said)
        for pair in re.findall(r"(\w+) = (\d+)", body)
    )
    (worker,) = re.findall(r"functions = \{ fanout-worker = \{ ([^}]*) \} \}", said)
    new_tfvars = (
        "fanout = {\n" + "".join(f"  {k} = {v}\n" for k, v in fanout.items()) + "}\n"
        f"functions = {{ fanout-worker = {{ {worker} }} }}\n"
    )
    assert settings(console.evaluate(new_tfvars)) == {
        "fanout": {
            "concurrency": 128,
            "post_max_attempts": 6,
            "rate": 2500,
            "worker_threshold": 20000,
            "max_workers": 40,
        },
        "worker": {"memory_size": 1769, "timeout": 120, "reserved_concurrency": 80},
    }


@pytest.mark.parametrize(
    ("old", "expected"),
    [
        (
            "fanout_workers = { memory_size = 1024 }",
            "write functions = { fanout-worker = { memory_size = 1024 } } (merged into",
        ),
        ("fanout_workers = {}", "remove fanout_workers (an empty one sets nothing)"),
    ],
)
def test_fanout_workers_names_only_what_was_set(console: Console, old: str, expected: str) -> None:
    said = errors(console.evaluate(old))
    assert said.count("Invalid value for variable") == 1
    assert expected in said
    assert "write fanout =" not in said


def test_the_defaults_are_the_old_defaults_but_two(console: Console) -> None:
    # Two defaults changed on purpose (issue 18): the rate is the stack's total, left out so the
    # plan derives it from the Region's API Gateway throttle (limits.tf), and no function
    # reserves concurrency unless asked (a fresh account's quota may not allow it).
    assert settings(console.evaluate("")) == {
        "fanout": {
            "concurrency": 256,
            "post_max_attempts": 4,
            "rate": None,
            "worker_threshold": 10000,
            "max_workers": 10,
        },
        "worker": {"memory_size": 512, "timeout": 60, "reserved_concurrency": None},
    }
