"""The IAM audit (testing/iam_audit.py) on small hand-written plans: each check must fail on the
mistake it exists for. tests/terraform/test_iam_audit.py runs it on the real plan."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from testing import iam_audit

pytestmark = pytest.mark.unit

ACCOUNT = "123456789012"
TABLE = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/rt-t-connections"
LOG_GROUP = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/rt-t-broadcaster"
EXECUTION_ARN = f"arn:aws:execute-api:us-east-1:{ACCOUNT}:abc123"
STREAM = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/Incidents/stream/2024-01-01T00:00:00.000"
PUSH_TO_LOGS = "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"


def statement(actions: list[str], resources: list[str]) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def resource(key: str, type_: str, **values: Any) -> dict[str, Any]:
    return {"address": f"module.{type_}.{key}", "mode": "managed", "type": type_, "values": values}


def make_plan(broadcaster_statements: list[dict[str, Any]]) -> dict[str, Any]:
    policy = json.dumps({"Version": "2012-10-17", "Statement": broadcaster_statements})
    account_role = "rt-t-websocket-apigateway-cloudwatch"
    resources = [
        resource("t.this", "aws_dynamodb_table", arn=TABLE),
        resource("l.this", "aws_cloudwatch_log_group", arn=LOG_GROUP),
        resource("w.this", "aws_apigatewayv2_api", id="abc123", execution_arn=EXECUTION_ARN),
        resource("w.this", "aws_apigatewayv2_stage", api_id="abc123", name="prod"),
        resource("f.this", "aws_iam_role", name="rt-t-broadcaster"),
        resource("f.this", "aws_iam_role_policy", role="rt-t-broadcaster", policy=policy),
        resource("w.cloudwatch", "aws_iam_role", name=account_role),
        resource(
            "w.cloudwatch",
            "aws_iam_role_policy_attachment",
            role=account_role,
            policy_arn=PUSH_TO_LOGS,
        ),
    ]
    return {
        "variables": {"incidents_stream_arn": {"value": STREAM}},
        "planned_values": {"root_module": {"child_modules": [{"resources": resources}]}},
    }


GOOD = [
    statement(["logs:CreateLogStream", "logs:PutLogEvents"], [f"{LOG_GROUP}:*"]),
    statement(["dynamodb:DeleteItem", "dynamodb:Scan"], [TABLE]),
    statement(["execute-api:ManageConnections"], [f"{EXECUTION_ARN}/prod/POST/@connections/*"]),
    statement(["dynamodb:GetRecords"], [STREAM]),
]

README = """
### IAM: every role's permissions

| Role | Actions | Resource | When |
|---|---|---|---|
| `broadcaster` | `logs:CreateLogStream`, `logs:PutLogEvents` | own log group | always |
| `broadcaster` | `dynamodb:Scan`, `dynamodb:DeleteItem` | Connections | always |
| `broadcaster` | `execute-api:ManageConnections` | @connections | always |
| `broadcaster` | `dynamodb:GetRecords` | stream | stream set |
| `websocket-apigateway-cloudwatch` | {managed_actions} | `*` | opt-in |

## Next section
""".format(
    managed_actions=", ".join(
        f"`{a}`"
        for a in iam_audit.AWS_MANAGED_POLICIES[PUSH_TO_LOGS].document["Statement"][0]["Action"]
    )
)


def audit(statements: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    plan = make_plan(statements)
    grants = iam_audit.role_grants(plan)
    return (
        iam_audit.wildcard_actions(grants),
        iam_audit.unscoped_resources(grants, iam_audit.stack_arns(plan)),
    )


def test_scoped_policies_and_the_managed_account_policy_pass() -> None:
    assert audit(GOOD) == ([], [])


@pytest.mark.parametrize("action", ["*", "dynamodb:*", "dynamodb:Get*"])
def test_a_wildcard_action_fails(action: str) -> None:
    wildcards, _ = audit([*GOOD, statement([action], [TABLE])])
    assert len(wildcards) == 1
    assert repr(action) in wildcards[0]


def test_not_action_fails() -> None:
    wildcards, _ = audit([*GOOD, {"Effect": "Allow", "NotAction": ["iam:*"], "Resource": [TABLE]}])
    assert any("NotAction" in w for w in wildcards)


@pytest.mark.parametrize(
    "resource_arn",
    [
        "*",
        f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/*",
        f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/someone-elses-table",
        f"{EXECUTION_ARN}/*",
        "arn:aws:logs:*:*:*",
    ],
)
def test_a_resource_outside_the_stack_fails(resource_arn: str) -> None:
    _, unscoped = audit([*GOOD, statement(["dynamodb:GetItem"], [resource_arn])])
    assert len(unscoped) == 1
    assert repr(resource_arn) in unscoped[0]


def test_xray_may_use_a_wildcard_resource_but_nothing_else_may() -> None:
    xray = statement(["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"])
    assert audit([*GOOD, xray]) == ([], [])
    _, unscoped = audit([*GOOD, statement(["xray:PutTraceSegments", "sns:Publish"], ["*"])])
    assert len(unscoped) == 1


def test_the_managed_policy_exception_holds_only_for_that_managed_policy() -> None:
    # The same logs actions on "*" in an inline policy are not excused.
    _, unscoped = audit([*GOOD, statement(["logs:CreateLogGroup"], ["*"])])
    assert len(unscoped) == 1


def test_an_unrecorded_managed_policy_cannot_be_audited() -> None:
    plan = make_plan(GOOD)
    attachment = plan["planned_values"]["root_module"]["child_modules"][0]["resources"][-1]
    attachment["values"]["policy_arn"] = "arn:aws:iam::aws:policy/AdministratorAccess"
    with pytest.raises(iam_audit.AuditError, match="AdministratorAccess"):
        iam_audit.role_grants(plan)


def test_an_unknown_policy_cannot_be_audited() -> None:
    plan = make_plan(GOOD)
    del plan["planned_values"]["root_module"]["child_modules"][0]["resources"][5]["values"][
        "policy"
    ]
    with pytest.raises(iam_audit.AuditError, match="not known"):
        iam_audit.role_grants(plan)


def test_customer_managed_policies_and_inline_policies_are_read() -> None:
    plan = make_plan(GOOD)
    resources = plan["planned_values"]["root_module"]["child_modules"][0]["resources"]
    policy_arn = f"arn:aws:iam::{ACCOUNT}:policy/extra"
    resources.append(
        resource(
            "aws_iam_policy.extra",
            "aws_iam_policy",
            arn=policy_arn,
            policy=json.dumps({"Statement": [statement(["sqs:*"], [TABLE])]}),
        )
    )
    resources.append(
        resource(
            "aws_iam_policy_attachment.extra",
            "aws_iam_policy_attachment",
            roles=["rt-t-broadcaster"],
            policy_arn=policy_arn,
        )
    )
    inline = {"name": "x", "policy": json.dumps({"Statement": [statement(["sns:Publish"], ["*"])]})}
    resources[4]["values"]["inline_policy"] = [inline]
    grants = iam_audit.role_grants(plan)
    assert len(iam_audit.wildcard_actions(grants)) == 1
    assert len(iam_audit.unscoped_resources(grants, iam_audit.stack_arns(plan))) == 1


def test_readme_table_equal_to_the_plan_passes() -> None:
    grants = iam_audit.role_grants(make_plan(GOOD))
    planned = iam_audit.plan_permissions(grants, "rt-t-")
    assert iam_audit.readme_drift(iam_audit.readme_permissions(README), planned) == []


def test_readme_drift_fails_both_ways() -> None:
    grants = iam_audit.role_grants(make_plan([*GOOD, statement(["sqs:SendMessage"], [TABLE])]))
    planned = iam_audit.plan_permissions(grants, "rt-t-")
    readme = iam_audit.readme_permissions(
        README.replace("`dynamodb:GetRecords`", "`dynamodb:GetRecords`, `dynamodb:Query`")
    )
    drift = iam_audit.readme_drift(readme, planned)
    assert any("sqs:SendMessage" in d and "does not list" in d for d in drift)
    assert any("dynamodb:Query" in d and "does not grant" in d for d in drift)


def test_a_role_missing_from_the_readme_or_the_plan_fails() -> None:
    planned = iam_audit.plan_permissions(iam_audit.role_grants(make_plan(GOOD)), "rt-t-")
    readme = iam_audit.readme_permissions(README)
    extra_role = copy.deepcopy(planned) | {"authorizer": {"ssm:GetParameter"}}
    assert iam_audit.readme_drift(readme, extra_role) == [
        "role 'authorizer' of the plan is missing from the README's table"
    ]
    del planned["broadcaster"]
    assert any("lists role 'broadcaster'" in d for d in iam_audit.readme_drift(readme, planned))


def test_a_readme_without_the_table_fails() -> None:
    with pytest.raises(iam_audit.AuditError, match="no"):
        iam_audit.readme_permissions("# README\n\nNo permissions here.\n")


def test_a_role_policy_read_back_as_inline_policy_counts_once() -> None:
    plan = make_plan([*GOOD, statement(["sqs:*"], [TABLE])])
    resources = plan["planned_values"]["root_module"]["child_modules"][0]["resources"]
    resources[5]["values"]["name"] = "least-privilege"
    resources[4]["values"]["inline_policy"] = [
        {"name": "least-privilege", "policy": resources[5]["values"]["policy"]}
    ]
    assert len(iam_audit.wildcard_actions(iam_audit.role_grants(plan))) == 1


def test_an_ssm_parameter_given_by_name_is_the_stacks_but_no_other() -> None:
    plan = make_plan(GOOD)
    plan["variables"]["authorizer"] = {"value": {"secret_parameter_name": "/rt/t/hs256-secret"}}
    grants = iam_audit.role_grants(plan)
    arns = iam_audit.stack_arns(plan)
    own = f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/rt/t/hs256-secret"
    other = f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/rt/t/other"
    assert arns.covers(own)
    assert not arns.covers(other)
    assert not arns.covers(f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/*")
    assert iam_audit.unscoped_resources(grants, arns) == []


# -- customer managed keys (issue 18.6) ------------------------------------------------------------
TABLE_KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
STREAM_KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/99999999-8888-7777-6666-555555555555"
VIA_DYNAMODB = {"StringEquals": {"kms:ViaService": ["dynamodb.us-east-1.amazonaws.com"]}}


def kms_statement(
    actions: list[str], key: str, condition: dict[str, Any] | None = VIA_DYNAMODB
) -> dict[str, Any]:
    return {**statement(actions, [key]), **({"Condition": condition} if condition else {})}


def kms_audit(
    statements: list[dict[str, Any]],
    *,
    table_key: str | None = TABLE_KEY,
    stream_key: str | None = None,
) -> list[str]:
    plan = make_plan(statements)
    table = plan["planned_values"]["root_module"]["child_modules"][0]["resources"][0]
    table["values"]["server_side_encryption"] = [{"enabled": True, "kms_key_arn": table_key}]
    if stream_key:
        plan["variables"]["incidents_stream_kms_key_arn"] = {"value": stream_key}
    return iam_audit.kms_problems(iam_audit.role_grants(plan), plan)


TABLE_KEY_GRANT = kms_statement(
    ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"], TABLE_KEY
)


def test_a_role_using_an_encrypted_table_with_its_key_through_dynamodb_passes() -> None:
    assert kms_audit([*GOOD, TABLE_KEY_GRANT]) == []


def test_a_role_using_an_encrypted_table_without_its_key_fails() -> None:
    problems = kms_audit(GOOD)
    assert len(problems) == 1
    assert TABLE_KEY in problems[0] and "AccessDeniedException" in problems[0]


def test_the_key_granted_through_another_service_does_not_count() -> None:
    via_sqs = {"StringEquals": {"kms:ViaService": ["sqs.us-east-1.amazonaws.com"]}}
    grant = kms_statement(["kms:Decrypt", "kms:GenerateDataKey"], TABLE_KEY, via_sqs)
    problems = kms_audit([*GOOD, grant])
    assert len(problems) == 1 and "dynamodb.<region>" in problems[0]


def test_a_kms_grant_without_via_service_fails_even_when_nothing_needs_it() -> None:
    problems = kms_audit([*GOOD, kms_statement(["kms:Decrypt"], TABLE_KEY, None)], table_key=None)
    assert len(problems) == 1 and "without a kms:ViaService" in problems[0]


def test_a_malformed_via_service_fails() -> None:
    bad = {"StringEquals": {"kms:ViaService": ["dynamodb"]}}
    problems = kms_audit([*GOOD, kms_statement(["kms:Decrypt"], TABLE_KEY, bad)])
    assert any("'dynamodb' as kms:ViaService" in p for p in problems)


def test_an_aws_managed_table_key_needs_no_grant() -> None:
    assert kms_audit(GOOD, table_key=None) == []


def test_a_reader_of_an_encrypted_stream_needs_its_key() -> None:
    # GOOD's broadcaster reads STREAM (dynamodb:GetRecords).
    assert len(kms_audit([*GOOD, TABLE_KEY_GRANT], stream_key=STREAM_KEY)) == 1
    stream_grant = kms_statement(["kms:Decrypt"], STREAM_KEY)
    assert kms_audit([*GOOD, TABLE_KEY_GRANT, stream_grant], stream_key=STREAM_KEY) == []


def test_an_index_of_an_encrypted_table_needs_the_tables_key() -> None:
    query = statement(["dynamodb:Query"], [f"{TABLE}/index/byChange"])
    plan_statements = [s for s in GOOD if "dynamodb:Scan" not in s["Action"]] + [query]
    assert len(kms_audit(plan_statements)) == 1
    assert kms_audit([*plan_statements, TABLE_KEY_GRANT]) == []
