"""Fixtures that apply the root module against a private ministack emulator.

pytest-terraform drives init/apply/destroy, with four workarounds for what it
cannot do on its own (it takes no -var/-backend-config arguments and looks for
modules next to the tests):

* the root module is copied to a temporary directory together with a
  ``backend_override.tf`` that selects the local backend (tools.localenv.rootmodule),
  so the committed ``backend "s3" {}`` (and the user's own ``.terraform/``) are
  never touched, and the plugin's ``tf_resources.json`` lands in that copy, not in
  the repo;
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

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_terraform import tf

from tools.localenv import clients, emulator, resources
from tools.localenv.rootmodule import copy_root_module
from tools.paths import ROOT
from tools.reprozip import write_zip

STACK_DIR_NAME = "stack"
PACKAGES = ("authorizer", "connection_manager", "broadcaster", "notifier")
ENDPOINT_SERVICES = (
    "apigateway",
    "apigatewayv2",
    "dynamodb",
    "iam",
    "lambda",
    "logs",
    "sns",
    "sqs",
    "sts",
)
# A tiny package per function: these tests check configuration, not code.
FIXTURE_HANDLER = (
    "def handler(event, context):\n"
    '    return {"statusCode": 200}\n\n'
    "on_connect = on_disconnect = handler\n"
)


@pytest.fixture(scope="module")
def private_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[emulator.Emulator]:
    try:
        with emulator.private(tmp_path_factory.mktemp("emulator")) as emu:
            yield emu
    except emulator.EmulatorError as exc:
        pytest.fail(f"could not start the emulator: {exc}")


@dataclass(frozen=True)
class StackInputs:
    environment: str
    stream_arn: str


@pytest.fixture(scope="module")
def aws_env(private_emulator: emulator.Emulator) -> Iterator[dict[str, str]]:
    """Point boto3 and terraform at the emulator for this module only.

    Restored afterwards so moto-based suites in the same session are unaffected.
    """
    with pytest.MonkeyPatch.context() as mp:
        for key, value in private_emulator.sdk_env().items():
            mp.setenv(key, value)
        yield private_emulator.sdk_env()


@pytest.fixture(scope="module")
def incidents_stream_arn(aws_env: dict[str, str]) -> str:
    """The Incidents table belongs to another team: the test creates the local stack's stand-in."""
    return resources.ensure_incidents_table(clients.dynamodb(aws_env["AWS_ENDPOINT_URL"]), [])


def provider_override(endpoint: str) -> str:
    """Belt and braces: the copy can only ever reach this emulator, even if a destroy ran after
    the environment was restored (real credentials in the developer's shell must never meet
    these resource ids)."""
    endpoints = "\n".join(f'    {svc} = "{endpoint}"' for svc in ENDPOINT_SERVICES)
    return (
        "# Test copy only: pin every client to the private emulator.\n"
        'provider "aws" {\n'
        '  access_key                  = "test"\n'
        '  secret_key                  = "test"\n'
        "  skip_metadata_api_check     = true\n"
        f"  endpoints {{\n{endpoints}\n  }}\n"
        "}\n"
    )


def copy_stack(base: Path, endpoint: str) -> tuple[Path, Path]:
    """The root module copied to ``base/stack`` (pinned to ``endpoint``) and fixture zips in
    ``base/artifacts``; returns both directories."""
    override = {"provider_override.tf": provider_override(endpoint)}
    stack = copy_root_module(ROOT, base / STACK_DIR_NAME, override)
    artifacts = base / "artifacts"
    for package in PACKAGES:
        write_zip(artifacts / f"{package}.zip", [(f"{package}.py", FIXTURE_HANDLER.encode())])
    return stack, artifacts


@pytest.fixture(scope="module")
def stack_inputs(
    tmp_path_factory: pytest.TempPathFactory, aws_env: dict[str, str], incidents_stream_arn: str
) -> Iterator[StackInputs]:
    base = tmp_path_factory.mktemp("tf")
    _, artifacts = copy_stack(base, aws_env["AWS_ENDPOINT_URL"])

    inputs = StackInputs(environment="tfapply", stream_arn=incidents_stream_arn)
    previous_mod_dir = tf.LazyModuleDir.value
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TF_VAR_environment", inputs.environment)
        mp.setenv("TF_VAR_artifacts_dir", str(artifacts))
        mp.setenv("TF_VAR_incidents_stream_arn", incidents_stream_arn)
        # The emulator reads alarms back without dimensions, actions or period, so every plan
        # would change them all; terraform test covers the alarms (monitoring.tftest.hcl).
        mp.setenv("TF_VAR_monitoring", '{"alarms": false}')
        # Identity from the query string, as on the local stack: this environment is declared
        # non-production (the authorizer's JWT checks are handler and terraform test territory).
        mp.setenv("TF_VAR_non_production_environments", f'["{inputs.environment}"]')
        mp.setenv("TF_VAR_authorizer", '{"enabled": false}')
        mp.setenv("TF_IN_AUTOMATION", "1")
        tf.LazyModuleDir.value = str(base)
        try:
            yield inputs
        finally:
            tf.LazyModuleDir.value = previous_mod_dir


@pytest.fixture(scope="module")
def stack_copy(
    tmp_path_factory: pytest.TempPathFactory, aws_env: dict[str, str]
) -> tuple[Path, Path]:
    """A copy of the root module pinned to this module's emulator, and its fixture zips."""
    return copy_stack(tmp_path_factory.mktemp("tf"), aws_env["AWS_ENDPOINT_URL"])
