"""Every IAM role of the stack, read from the plan: no wildcard action, every resource this
stack's own (or a listed exception with its reason), and the README's permission table equal to
the plan, and every KMS grant scoped with kms:ViaService and present wherever a role uses data
encrypted with a customer managed key.

The root module is planned on a private emulator with every toggle that adds a role or a
statement: the Incidents stream (mappings, dead-letter queues), a customer managed KMS key, access
logs and the account-level API Gateway CloudWatch role. A plan of an empty state cannot be
audited: policies are built from ARNs AWS assigns, so they are unknown until applied. The stack is
therefore applied first, and the audit reads the plan of the applied stack (``planned_values``:
what every role holds after the next apply). The audit itself (testing/iam_audit.py) iterates
every kind of IAM policy in the plan, so a role added later is covered without a change here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import boto3
import pytest

from testing import iam_audit
from tools.localenv import terraform
from tools.paths import ROOT

pytestmark = pytest.mark.terraform

README = ROOT / "docs" / "deploying.md"  # the one permission table
PROJECT = "realtime"
ENVIRONMENT = "tfaudit"
# Roles the stack has with every toggle on; the README table may list no fewer.
EXPECTED_ROLES = {
    "connect",
    "disconnect",
    "broadcaster",
    "notifier",
    "websocket-apigateway-cloudwatch",
}


@pytest.fixture(scope="module")
def plan(
    stack_copy: tuple[Path, Path],
    aws_env: dict[str, str],
    incidents_stream_arn: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    stack_dir, artifacts = stack_copy
    kms = boto3.client("kms", endpoint_url=aws_env["AWS_ENDPOINT_URL"])
    key_arn = kms.create_key(Description="iam audit")["KeyMetadata"]["Arn"]
    variables = {
        "environment": ENVIRONMENT,
        "artifacts_dir": str(artifacts),
        "incidents_stream_arn": incidents_stream_arn,
        "kms_key_arn": key_arn,
        "incidents_stream_kms_key_arn": key_arn,
        "api_logging": json.dumps({"access_logs": True, "manage_account_role": True}),
    }
    var_args = [f"-var={name}={value}" for name, value in variables.items()]
    # Settings of optional parts of the root module travel as TF_VAR_* (Terraform ignores one
    # whose variable the root does not declare, where a -var fails): the stack's own $connect
    # authorizer on, reading an HS256 secret by name (its role gets that parameter and the key),
    # and the alarms left out (the emulator reads them back incomplete; they add no role).
    optional = {
        "TF_VAR_authorizer": json.dumps(
            {
                "enabled": True,
                "issuer": "https://issuer.example",
                "audience": ["realtime"],
                "secret_parameter_name": f"/{PROJECT}/{ENVIRONMENT}/connect-authorizer/hs256",
                "secret_kms_key_arn": key_arn,
            }
        ),
        "TF_VAR_monitoring": json.dumps({"alarms": False}),
    }
    env = terraform.terraform_env(
        {**os.environ, **optional},
        aws_env,
        tmp_path_factory.mktemp("tfdata"),
    )

    def run(*args: str) -> str:
        try:
            return terraform.run(args, chdir=stack_dir, env=env, capture=True).stdout
        except terraform.TerraformError as exc:
            raise AssertionError(str(exc)) from None

    run("init", "-input=false", "-no-color")
    run("apply", "-input=false", "-no-color", "-auto-approve", *var_args)
    run("plan", "-input=false", "-no-color", "-out=audit.tfplan", *var_args)
    return json.loads(run("show", "-json", "-no-color", "audit.tfplan"))


@pytest.fixture(scope="module")
def grants(plan: dict[str, Any]) -> dict[str, list[iam_audit.Grant]]:
    return iam_audit.role_grants(plan)


def test_every_role_of_the_stack_is_audited(grants: dict[str, list[iam_audit.Grant]]) -> None:
    labels = {role.removeprefix(f"{PROJECT}-{ENVIRONMENT}-") for role in grants}
    assert labels >= EXPECTED_ROLES
    assert all(grants[role] for role in grants), "a role without any policy"


def test_no_role_has_a_wildcard_action(grants: dict[str, list[iam_audit.Grant]]) -> None:
    assert iam_audit.wildcard_actions(grants) == []


def test_every_resource_is_this_stacks(
    plan: dict[str, Any], grants: dict[str, list[iam_audit.Grant]]
) -> None:
    assert iam_audit.unscoped_resources(grants, iam_audit.stack_arns(plan)) == []


def test_every_key_is_granted_through_its_service_and_to_every_role_that_needs_it(
    plan: dict[str, Any], grants: dict[str, list[iam_audit.Grant]]
) -> None:
    assert iam_audit.kms_problems(grants, plan) == []


def test_readme_permission_table_equals_the_plan(
    grants: dict[str, list[iam_audit.Grant]],
) -> None:
    readme = iam_audit.readme_permissions(README.read_text(encoding="utf-8"))
    planned = iam_audit.plan_permissions(grants, f"{PROJECT}-{ENVIRONMENT}-")
    assert iam_audit.readme_drift(readme, planned) == []
