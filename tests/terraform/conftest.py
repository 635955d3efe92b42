"""Fixtures that apply the root module against a private ministack emulator.

pytest-terraform drives init/apply/destroy, with four workarounds for what it
cannot do on its own (it takes no -var/-backend-config arguments and looks for
modules next to the tests):

* the root module is copied to a temporary directory together with a
  ``backend_override.tf`` that selects the local backend, so the committed
  ``backend "s3" {}`` (and the user's own ``.terraform/``) are never touched,
  and the plugin's ``tf_resources.json`` lands in that copy, not in the repo;
* that directory is handed to the plugin as its module directory
  (``--tf-mod-dir``, set at run time because it only exists then);
* input variables travel as ``TF_VAR_*`` environment variables, which every
  terraform command the plugin runs inherits;
* the plugin keeps only the first instance of ``count``/``for_each``
  resources and drops module paths, so tests read root outputs and ask the
  emulator through boto3 instead of reading the plugin's resource map.

The emulator runs on a free port with its own state directory, so it never
collides with the local stack of ``make up``; it is stopped at the end.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_terraform import tf

import devstack
import emulator as emulator_script

ROOT = Path(__file__).resolve().parents[2]
STACK_DIR_NAME = "stack"
PACKAGES = ("connection_manager", "broadcaster", "notifier")
ENDPOINT_SERVICES = ("apigatewayv2", "dynamodb", "iam", "lambda", "logs", "sns", "sqs", "sts")
ROOT_FILES = (
    "main.tf",
    "variables.tf",
    "outputs.tf",
    "versions.tf",
    "providers.tf",
    "backend.tf",
    ".terraform.lock.hcl",
)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write_fixture_zip(path: Path, module: str) -> None:
    """A tiny, reproducible package: these tests check configuration, not code."""
    info = zipfile.ZipInfo(f"{module}.py", date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = 0o644 << 16
    source = (
        "def handler(event, context):\n"
        '    return {"statusCode": 200}\n\n'
        "on_connect = on_disconnect = handler\n"
    )
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(info, source)


@dataclass(frozen=True)
class Emulator:
    endpoint: str

    def env(self) -> dict[str, str]:
        return emulator_script.sdk_env(self.endpoint)


def _emulator_cmd(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LOCAL_STATE_DIR": str(state_dir)}
    return subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(ROOT / "scripts" / "emulator.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    state_dir = tmp_path_factory.mktemp("emulator")
    port = _free_port()
    started = _emulator_cmd(state_dir, "start", "--port", str(port))
    if started.returncode != 0:
        pytest.fail(f"could not start the emulator: {started.stderr or started.stdout}")
    try:
        yield Emulator(endpoint=f"http://127.0.0.1:{port}")
    finally:
        _emulator_cmd(state_dir, "stop")


@dataclass(frozen=True)
class StackInputs:
    environment: str
    stream_arn: str


@pytest.fixture(scope="module")
def aws_env(emulator: Emulator) -> Iterator[dict[str, str]]:
    """Point boto3 and terraform at the emulator for this module only.

    Restored afterwards so moto-based suites in the same session are unaffected.
    """
    with pytest.MonkeyPatch.context() as mp:
        for key, value in emulator.env().items():
            mp.setenv(key, value)
        yield emulator.env()


@pytest.fixture(scope="module")
def incidents_stream_arn(aws_env: dict[str, str]) -> str:
    """The Incidents table belongs to another team: the test creates the local stack's stand-in."""
    return devstack.ensure_incidents_table(aws_env["AWS_ENDPOINT_URL"], [])


@pytest.fixture(scope="module")
def stack_inputs(
    tmp_path_factory: pytest.TempPathFactory, aws_env: dict[str, str], incidents_stream_arn: str
) -> Iterator[StackInputs]:
    base = tmp_path_factory.mktemp("tf")
    module_dir = base / STACK_DIR_NAME
    module_dir.mkdir()
    for name in ROOT_FILES:
        shutil.copy2(ROOT / name, module_dir / name)
    shutil.copytree(ROOT / "modules", module_dir / "modules")
    (module_dir / "backend_override.tf").write_text(
        "# Test copy only: local state instead of the S3 backend.\n"
        'terraform {\n  backend "local" {}\n}\n'
    )
    # Belt and braces: the copy can only ever reach this emulator, even if a
    # destroy ran after the environment was restored (real credentials in the
    # developer's shell must never meet these resource ids).
    endpoint = aws_env["AWS_ENDPOINT_URL"]
    endpoints = "\n".join(f'    {svc} = "{endpoint}"' for svc in ENDPOINT_SERVICES)
    (module_dir / "provider_override.tf").write_text(
        "# Test copy only: pin every client to the private emulator.\n"
        'provider "aws" {\n'
        '  access_key                  = "test"\n'
        '  secret_key                  = "test"\n'
        "  skip_metadata_api_check     = true\n"
        f"  endpoints {{\n{endpoints}\n  }}\n"
        "}\n"
    )
    artifacts = base / "artifacts"
    artifacts.mkdir()
    for package in PACKAGES:
        _write_fixture_zip(artifacts / f"{package}.zip", package)

    inputs = StackInputs(environment="tfapply", stream_arn=incidents_stream_arn)
    previous_mod_dir = tf.LazyModuleDir.value
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TF_VAR_environment", inputs.environment)
        mp.setenv("TF_VAR_artifacts_dir", str(artifacts))
        mp.setenv("TF_VAR_incidents_stream_arn", incidents_stream_arn)
        mp.setenv("TF_IN_AUTOMATION", "1")
        tf.LazyModuleDir.value = str(base)
        try:
            yield inputs
        finally:
            tf.LazyModuleDir.value = previous_mod_dir
