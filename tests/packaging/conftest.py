"""Fixtures of the packaging suite: the zips as `make build` makes them, and a Lambda-like
interpreter to run what they carry."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest

from tools.build import BuildResult, Target, build, find_compiler
from tools.paths import ROOT

FUNCTIONS = ROOT / "functions"
CACHE = ROOT / ".cache" / "build"  # shared with `make build`: wheels and bytecode are made once
DEFAULT = Target("x86_64", "3.12")  # what `make build` builds (Makefile LAMBDA_ARCH/PYTHON)

# What the Lambda Python runtime ships besides the standard library (never vendored).
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "dateutil", "urllib3", "six.py", "jmespath")

Built = tuple[Path, list[BuildResult]]


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The zips of `make build`: x86_64, Python 3.12, bytecode by the default compiler."""
    out = tmp_path_factory.mktemp("build-a")
    compiler = find_compiler(DEFAULT.python, CACHE)
    return out, build(out, source_dir=FUNCTIONS, target=DEFAULT, cache=CACHE, compiler=compiler)


@pytest.fixture(scope="session")
def runtime_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packages the Lambda Python runtime provides (boto3 and its dependencies)."""
    site = Path(boto3.__file__).resolve().parent.parent
    runtime = tmp_path_factory.mktemp("lambda-runtime")
    for name in RUNTIME_PACKAGES:
        (runtime / name).symlink_to(site / name)
    return runtime


@pytest.fixture
def lambda_python(runtime_dir: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``code`` like Lambda would: no site-packages, the task directory first, then the
    runtime's packages; ``sys.argv[1]`` is the task directory."""

    def run(code: str, task: Path, *args: str) -> subprocess.CompletedProcess[str]:
        prelude = "import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]\n"
        env = {"PATH": os.environ.get("PATH", ""), "AWS_REGION": "us-east-1", "LANG": "C.UTF-8"}
        # Fixed argv: this interpreter, code from the test, paths the test created.
        return subprocess.run(  # noqa: S603
            [sys.executable, "-I", "-S", "-c", prelude + code, str(task), str(runtime_dir), *args],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=120,
        )

    return run
