"""Audit every IAM role's permissions in a `terraform show -json` plan.

Generic on purpose: every ``aws_iam_role_policy``, ``aws_iam_policy``, inline policy of an
``aws_iam_role``, ``aws_iam_role_policy_attachment`` and ``aws_iam_policy_attachment`` in the plan
(root and child modules) is read, so a role added later is audited without touching this file.

Four questions, each a pure function over the plan (and the README text):

* ``wildcard_actions``: no action holds ``*`` (neither ``*`` nor ``service:*`` nor ``svc:Get*``);
* ``unscoped_resources``: every resource is an ARN of this stack (a resource in the plan, a form
  derived from one such as a log group's streams, or an ARN the stack is given as an input), except
  the grants listed in ``WILDCARD_RESOURCE_EXCEPTIONS`` with the reason AWS requires ``*``;
* ``kms_problems``: every KMS grant is scoped to the service that uses the key
  (``kms:ViaService``), and every role that uses a table (or reads a stream) encrypted with a
  customer managed key is granted that key through DynamoDB;
* ``readme_drift``: the README's permission table lists, per role, exactly the plan's actions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

# ---------------------------------------------------------------------------
# Exceptions: grants that need Resource "*" (each with the reason)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WildcardResourceException:
    actions: frozenset[str]
    reason: str
    # Allowed only through this AWS managed policy (None: through any policy).
    via_managed_policy: str | None = None


WILDCARD_RESOURCE_EXCEPTIONS: tuple[WildcardResourceException, ...] = (
    WildcardResourceException(
        actions=frozenset({"xray:PutTraceSegments", "xray:PutTelemetryRecords"}),
        reason=(
            "X-Ray has no resource-level permissions for sending traces: AWS requires Resource '*'"
            " (https://docs.aws.amazon.com/xray/latest/devguide/security_iam_service-with-iam.html)."
        ),
    ),
    WildcardResourceException(
        actions=frozenset(
            {
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:DescribeLogGroups",
                "logs:DescribeLogStreams",
                "logs:PutLogEvents",
                "logs:GetLogEvents",
                "logs:FilterLogEvents",
            }
        ),
        reason=(
            "Only through the AWS managed policy AmazonAPIGatewayPushToCloudWatchLogs (below):"
            " the account-level API Gateway role writes the logs of every API in the account and"
            " region, not only this stack's, so it cannot be scoped to our log groups."
        ),
        via_managed_policy="arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
    ),
)


# AWS managed policies a role of this stack may carry: their documents are not in the plan (only
# their ARNs), so they are recorded here, from the AWS managed policy reference.
@dataclass(frozen=True)
class ManagedPolicy:
    document: Mapping[str, Any]
    reason: str


AWS_MANAGED_POLICIES: Mapping[str, ManagedPolicy] = {
    "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs": ManagedPolicy(
        # https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonAPIGatewayPushToCloudWatchLogs.html
        document={
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": sorted(WILDCARD_RESOURCE_EXCEPTIONS[1].actions),
                    "Resource": "*",
                }
            ],
        },
        reason="the policy API Gateway documents for its account-level CloudWatch Logs role",
    ),
}


# ---------------------------------------------------------------------------
# Reading the plan
# ---------------------------------------------------------------------------


class AuditError(AssertionError):
    """The plan cannot be audited (an unknown policy, an unrecorded managed policy)."""


@dataclass(frozen=True)
class Grant:
    role: str
    source: str  # address of the resource that grants it
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_action: bool = False
    not_resource: bool = False
    managed_policy: str | None = None  # the AWS managed policy it comes from, if any
    # The statement's Condition block as IAM writes it ({operator: {key: value(s)}}).
    condition: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def via_services(self) -> set[str]:
        """The services a ``kms:ViaService`` condition limits this grant to (empty: none)."""
        services: set[str] = set()
        for operator in ("StringEquals", "ForAnyValue:StringEquals"):
            services.update(_as_tuple(self.condition.get(operator, {}).get("kms:ViaService")))
        return services


def planned_resources(plan: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every managed resource of ``planned_values``, root and child modules."""
    stack = [plan.get("planned_values", {}).get("root_module", {})]
    while stack:
        module = stack.pop()
        yield from (r for r in module.get("resources", []) if r.get("mode") == "managed")
        stack.extend(module.get("child_modules", []))


def _as_tuple(value: str | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _grants(
    role: str,
    source: str,
    policy: str | Mapping[str, Any] | None,
    managed_policy: str | None = None,
) -> list[Grant]:
    if policy is None or policy == "":
        raise AuditError(f"{source}: the policy of role {role} is not known in the plan")
    document = json.loads(policy) if isinstance(policy, str) else policy
    statements = document.get("Statement", [])
    if isinstance(statements, Mapping):
        statements = [statements]
    return [
        Grant(
            role=role,
            source=source,
            effect=s.get("Effect", "Allow"),
            actions=_as_tuple(s.get("Action", s.get("NotAction"))),
            resources=_as_tuple(s.get("Resource", s.get("NotResource"))),
            not_action="NotAction" in s,
            not_resource="NotResource" in s,
            managed_policy=managed_policy,
            condition=s.get("Condition") or {},
        )
        for s in statements
    ]


def role_grants(plan: Mapping[str, Any]) -> dict[str, list[Grant]]:
    """Role name -> every statement granted to it, from any kind of policy in the plan."""
    resources = list(planned_resources(plan))
    customer_policies = {
        r["values"].get("arn"): r for r in resources if r["type"] == "aws_iam_policy"
    }
    grants: dict[str, list[Grant]] = {}

    def attach(role: str, source: str, policy_arn: str) -> None:
        managed = policy_arn if policy_arn in AWS_MANAGED_POLICIES else None
        if managed is not None:
            document: Mapping[str, Any] | str | None = AWS_MANAGED_POLICIES[policy_arn].document
        elif policy_arn in customer_policies:
            document = customer_policies[policy_arn]["values"].get("policy")
        else:
            raise AuditError(
                f"{source}: role {role} gets {policy_arn}, which is neither a policy of this plan"
                " nor recorded in AWS_MANAGED_POLICIES (add its document and why it is needed)"
            )
        grants.setdefault(role, []).extend(
            _grants(role, f"{source} ({policy_arn})", document, managed)
        )

    # After an apply, a role reads back the policies of its aws_iam_role_policy resources as
    # inline_policy: read each of those once, from the resource that grants it.
    role_policies = {
        (r["values"].get("role"), r["values"].get("name"))
        for r in resources
        if r["type"] == "aws_iam_role_policy"
    }
    for r in resources:
        values, address = r["values"], r["address"]
        if r["type"] == "aws_iam_role":
            name = values["name"]
            grants.setdefault(name, [])
            for inline in values.get("inline_policy") or []:
                if inline.get("policy") and (name, inline.get("name")) not in role_policies:
                    grants[name].extend(_grants(name, address, inline["policy"]))
            for arn in values.get("managed_policy_arns") or []:
                attach(name, address, arn)
        elif r["type"] == "aws_iam_role_policy":
            role = values["role"]
            grants.setdefault(role, []).extend(_grants(role, address, values.get("policy")))
        elif r["type"] == "aws_iam_role_policy_attachment":
            attach(values["role"], address, values["policy_arn"])
        elif r["type"] == "aws_iam_policy_attachment":
            for role in values.get("roles") or []:
                attach(role, address, values["policy_arn"])
    return grants


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------


def _allows(grants: Mapping[str, list[Grant]]) -> Iterator[tuple[str, Grant]]:
    """(role, grant) for every Allow statement, roles in name order."""
    for role, role_grants in sorted(grants.items()):
        for grant in role_grants:
            if grant.effect == "Allow":
                yield role, grant


def wildcard_actions(grants: Mapping[str, list[Grant]]) -> list[str]:
    """Allow statements with a wildcard action or NotAction (both grant more than they name)."""
    problems = []
    for role, g in _allows(grants):
        if g.not_action:
            problems.append(f"{role}: {g.source} uses NotAction {list(g.actions)}")
        problems.extend(
            f"{role}: {g.source} allows the wildcard action {a!r}" for a in g.actions if "*" in a
        )
    return problems


@dataclass(frozen=True)
class StackArns:
    """What a resource of this stack's policies may name."""

    exact: frozenset[str]
    patterns: tuple[re.Pattern[str], ...]

    def covers(self, arn: str) -> bool:
        return arn in self.exact or any(p.fullmatch(arn) for p in self.patterns)


def _string_leaves(value: Any) -> Iterator[str]:  # noqa: ANN401 - any JSON value
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _string_leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _string_leaves(v)


def stack_arns(plan: Mapping[str, Any]) -> StackArns:
    """ARNs of the plan's resources, the forms derived from them, and the ARNs given as inputs.

    Derived forms: a log group's streams (``<arn>:*``), a table's indexes
    (``<arn>/index/<name>``) and a WebSocket stage's connections
    (``<execution_arn>/<stage>/<POST|GET|DELETE>/@connections/*``).
    Inputs: every ``arn:`` string among the plan's variables (the Incidents stream, a KMS key),
    and every SSM parameter path among them (``/a/b``: a secret the stack reads by name).
    """
    exact: set[str] = set()
    patterns: list[re.Pattern[str]] = []
    resources = list(planned_resources(plan))
    for r in resources:
        values = r["values"]
        for key in ("arn", "stream_arn", "execution_arn"):
            if isinstance(values.get(key), str) and values[key]:
                exact.add(values[key])
        if r["type"] == "aws_cloudwatch_log_group" and values.get("arn"):
            exact.add(f"{values['arn']}:*")
        if r["type"] == "aws_dynamodb_table" and values.get("arn"):
            patterns.append(re.compile(re.escape(values["arn"]) + r"/index/(\*|[A-Za-z0-9_.-]+)"))
    apis = {
        r["values"]["id"]: r["values"]["execution_arn"]
        for r in resources
        if r["type"] == "aws_apigatewayv2_api" and r["values"].get("execution_arn")
    }
    for r in resources:
        if r["type"] == "aws_apigatewayv2_stage" and r["values"].get("api_id") in apis:
            base = f"{apis[r['values']['api_id']]}/{r['values']['name']}"
            patterns.append(re.compile(re.escape(base) + r"/(POST|GET|DELETE)/@connections/\*"))
    inputs = list(_string_leaves(plan.get("variables", {})))
    exact.update(s for s in inputs if s.startswith("arn:"))
    # An SSM parameter the stack is given by name (a secret put there out of band), in the
    # partition, region and account of the stack's own resources.
    places = {
        (parts[1], parts[3], parts[4])
        for parts in (arn.split(":") for arn in exact)
        if len(parts) >= 6 and parts[3] and parts[4].isdigit()
    }
    for name in (s for s in inputs if _SSM_PARAMETER_NAME.fullmatch(s)):
        for partition, region, account in places:
            exact.add(f"arn:{partition}:ssm:{region}:{account}:parameter/{name.lstrip('/')}")
    return StackArns(frozenset(exact), tuple(patterns))


_SSM_PARAMETER_NAME = re.compile(r"/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+")


def unscoped_resources(grants: Mapping[str, list[Grant]], arns: StackArns) -> list[str]:
    """Allow statements naming something that is not this stack's (or a listed exception)."""
    problems = []
    for role, g in _allows(grants):
        if g.not_resource:
            problems.append(f"{role}: {g.source} uses NotResource {list(g.resources)}")
            continue
        for resource in g.resources:
            if resource == "*" and any(
                set(g.actions) <= e.actions and e.via_managed_policy in (None, g.managed_policy)
                for e in WILDCARD_RESOURCE_EXCEPTIONS
            ):
                continue
            if not arns.covers(resource):
                problems.append(
                    f"{role}: {g.source} allows {sorted(g.actions)} on {resource!r},"
                    " which is not an ARN of this stack"
                )
    return problems


# ---------------------------------------------------------------------------
# Customer managed keys
# ---------------------------------------------------------------------------
# What DynamoDB asks KMS for on behalf of a role reading a table (or its stream) encrypted with a
# customer managed key; writes add Encrypt and GenerateDataKey, which the audit does not require
# of a read-only role. https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.usagenotes.html
DYNAMODB_KEY_READ_ACTIONS = frozenset({"kms:Decrypt"})
_VIA_SERVICE = re.compile(r"(?P<service>[a-z0-9-]+)\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?")


def encrypted_data(plan: Mapping[str, Any]) -> dict[str, str]:
    """ARN of each table (and given stream) encrypted with a customer managed key -> that key.

    Tables come from the plan (``server_side_encryption.kms_key_arn``); the Incidents stream,
    which belongs to another team, from the inputs ``incidents_stream_arn`` and
    ``incidents_stream_kms_key_arn``.
    """
    keys: dict[str, str] = {}
    for r in planned_resources(plan):
        if r["type"] != "aws_dynamodb_table" or not r["values"].get("arn"):
            continue
        for sse in r["values"].get("server_side_encryption") or []:
            if sse.get("enabled") and sse.get("kms_key_arn"):
                keys[r["values"]["arn"]] = sse["kms_key_arn"]
    variables = plan.get("variables", {})
    stream = (variables.get("incidents_stream_arn") or {}).get("value")
    stream_key = (variables.get("incidents_stream_kms_key_arn") or {}).get("value")
    if stream and stream_key:
        keys[stream] = stream_key
    return keys


def _dynamodb_key_of(resource: str, keys: Mapping[str, str]) -> str | None:
    """The key of the table or stream ``resource`` names (a table, one of its indexes)."""
    for arn, key in keys.items():
        if resource == arn or resource.startswith(f"{arn}/index/"):
            return key
    return None


def kms_problems(grants: Mapping[str, list[Grant]], plan: Mapping[str, Any]) -> list[str]:
    """KMS grants a role could use directly, and roles missing the key of data they use.

    * every Allow grant of a ``kms:`` action carries ``kms:ViaService`` naming
      ``<service>.<region>.amazonaws.com``: the role can use the key only through that service;
    * every role granted a ``dynamodb:`` action on a table or stream encrypted with a customer
      managed key (``encrypted_data``) is granted ``kms:Decrypt`` on that key through
      ``dynamodb.<region>.amazonaws.com``; without it every read fails with AccessDenied.
    """
    problems = []
    for role, g in _allows(grants):
        if not any(a.startswith("kms:") for a in g.actions):
            continue
        services = g.via_services()
        if not services:
            problems.append(
                f"{role}: {g.source} allows {sorted(g.actions)} on {list(g.resources)} without a "
                "kms:ViaService condition: the role could use the key directly, not only through "
                "the service that needs it"
            )
        problems.extend(
            f"{role}: {g.source} names {s!r} as kms:ViaService,"
            " not <service>.<region>.amazonaws.com"
            for s in sorted(services)
            if not _VIA_SERVICE.fullmatch(s)
        )

    keys = encrypted_data(plan)
    for role, role_grants_ in sorted(grants.items()):
        allows = [g for g in role_grants_ if g.effect == "Allow"]
        needed = {
            key
            for g in allows
            if any(a.startswith("dynamodb:") for a in g.actions)
            for resource in g.resources
            if (key := _dynamodb_key_of(resource, keys)) is not None
        }
        for key in sorted(needed):
            granted = any(
                key in g.resources
                and set(g.actions) >= DYNAMODB_KEY_READ_ACTIONS
                and any(
                    (m := _VIA_SERVICE.fullmatch(s)) and m["service"] == "dynamodb"
                    for s in g.via_services()
                )
                for g in allows
            )
            if not granted:
                problems.append(
                    f"{role}: uses DynamoDB data encrypted with {key} but is not granted "
                    f"{sorted(DYNAMODB_KEY_READ_ACTIONS)} on it through"
                    " dynamodb.<region>.amazonaws.com (kms:ViaService): its reads would fail with"
                    " AccessDeniedException"
                )
    return problems


# ---------------------------------------------------------------------------
# The README's permission table
# ---------------------------------------------------------------------------
TABLE_HEADING = "### IAM: every role's permissions"
_CODE = re.compile(r"`([^`]+)`")


def readme_permissions(markdown: str, heading: str = TABLE_HEADING) -> dict[str, set[str]]:
    """Role label -> actions, from the first table after ``heading``.

    Columns: Role | Actions | Resource | When. The Role cell names one or more roles in backticks
    (the role name without ``<project>-<environment>-``), the Actions cell the actions in backticks.
    """
    lines = markdown.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == heading)
    except StopIteration:
        raise AuditError(f"the README has no {heading!r} section") from None
    rows = []
    for line in lines[start + 1 :]:
        if line.startswith("#"):
            break
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif rows:
            break
    if len(rows) < 3 or [c.lower() for c in rows[0][:2]] != ["role", "actions"]:
        raise AuditError(f"no 'Role | Actions | ...' table under {heading!r}")
    table: dict[str, set[str]] = {}
    for cells in rows[2:]:
        for role in _CODE.findall(cells[0]):
            table.setdefault(role, set()).update(_CODE.findall(cells[1]))
    return table


def plan_permissions(grants: Mapping[str, list[Grant]], name_prefix: str) -> dict[str, set[str]]:
    """Role label (the name without ``name_prefix``) -> the actions its Allow statements grant."""
    table: dict[str, set[str]] = {}
    for role, role_grants_ in grants.items():
        label = role.removeprefix(name_prefix)
        table[label] = {a for g in role_grants_ if g.effect == "Allow" for a in g.actions}
    return table


def readme_drift(readme: Mapping[str, set[str]], plan: Mapping[str, set[str]]) -> list[str]:
    """Differences between the README's table and the plan, both ways, per role."""
    problems = []
    for role in sorted(set(readme) | set(plan)):
        if role not in plan:
            problems.append(f"the README lists role {role!r}, which the plan does not have")
        elif role not in readme:
            problems.append(f"role {role!r} of the plan is missing from the README's table")
        else:
            if missing := sorted(plan[role] - readme[role]):
                problems.append(f"{role}: the plan grants {missing}, the README does not list them")
            if extra := sorted(readme[role] - plan[role]):
                problems.append(f"{role}: the README lists {extra}, the plan does not grant them")
    return problems
