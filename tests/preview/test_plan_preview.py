"""Tests of the plan preview renderer (tools/plan_preview) over plans of this stack."""

from __future__ import annotations

import gzip
import io
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tools.paths import ROOT
from tools.plan_preview import cli, masking, parse, render
from tools.plan_preview import markdown as md
from tools.plan_preview.model import Action

pytestmark = pytest.mark.preview

FIXTURES = Path(__file__).parent / "fixtures"
SCENARIOS = ("create", "update", "replace", "destroy", "no_changes", "sensitive")


def load_fixture(name: str) -> tuple[dict[str, Any], str]:
    """The parsed plan JSON and the plain-text plan of one recorded scenario."""
    with gzip.open(FIXTURES / f"{name}.plan.json.gz", "rt", encoding="utf-8") as fh:
        document = json.load(fh)
    text = (FIXTURES / f"{name}.plan.txt").read_text(encoding="utf-8")
    return document, text


def sensitive_leaves(value: Any, sensitive: Any) -> list[str]:
    """Every string or number leaf of ``value`` that ``sensitive`` marks secret."""
    if sensitive is True:
        if isinstance(value, dict):
            return [leaf for v in value.values() for leaf in sensitive_leaves(v, True)]
        if isinstance(value, list):
            return [leaf for v in value for leaf in sensitive_leaves(v, True)]
        return [] if value is None or isinstance(value, bool) else [str(value)]
    if isinstance(sensitive, dict) and isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in sensitive_leaves(v, sensitive.get(k))]
    if isinstance(sensitive, list) and isinstance(value, list):
        return [
            leaf
            for i, v in enumerate(value)
            for leaf in sensitive_leaves(v, sensitive[i] if i < len(sensitive) else False)
        ]
    return []


def plan_secrets(document: dict[str, Any]) -> set[str]:
    """Every sensitive value a plan JSON holds in clear, from its resource and output changes."""
    secrets: list[str] = []
    for rc in document.get("resource_changes", []):
        change = rc["change"]
        secrets += sensitive_leaves(change.get("before"), change.get("before_sensitive"))
        secrets += sensitive_leaves(change.get("after"), change.get("after_sensitive"))
    for change in (document.get("output_changes") or {}).values():
        secrets += sensitive_leaves(change.get("before"), change.get("before_sensitive"))
        secrets += sensitive_leaves(change.get("after"), change.get("after_sensitive"))
    # Short values ("true", "1") would match by accident anywhere; real secrets are longer.
    return {s for s in secrets if len(s) >= 6}


def assert_well_formed(markdown: str, limit: int = 65_536) -> None:
    """No broken Markdown: fences and <details> balanced, under the size limit, marker first."""
    assert len(markdown.encode("utf-16-le")) // 2 <= limit, len(markdown)
    assert re.fullmatch(r"<!-- plan-preview:[A-Za-z0-9_.-]+ -->", markdown.splitlines()[0])
    open_fence: str | None = None
    for line in markdown.splitlines():
        m = re.match(r"^(`{3,})(.*)$", line)
        if not m:
            continue
        ticks = m.group(1)
        if open_fence is None:
            open_fence = ticks
        elif ticks == open_fence and not m.group(2).strip():
            open_fence = None
    assert open_fence is None, "a code fence is never closed"
    outside = re.sub(r"^(`{3,}).*?^\1$", "", markdown, flags=re.S | re.M)
    assert outside.count("<details>") == outside.count("</details>")
    assert outside.count("<summary>") == outside.count("</summary>")
    for line in outside.splitlines():
        if line.startswith("|"):
            # Every unescaped pipe is a column separator: rows of one table agree on the count.
            assert line.rstrip().endswith("|"), line


@pytest.fixture(params=SCENARIOS)
def scenario(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def render_fixture(name: str, **options: Any) -> str:
    document, text = load_fixture(name)
    return render.render(
        parse.parse_plan(document), text, render.RenderOptions(env="dev", **options)
    )


def expected_counts(document: dict[str, Any]) -> dict[str, int]:
    """Counts computed straight from the JSON, independently of the renderer's classification."""
    counts = {"add": 0, "change": 0, "replace": 0, "destroy": 0}
    for rc in document["resource_changes"]:
        actions = rc["change"]["actions"]
        if actions == ["create"]:
            counts["add"] += 1
        elif actions == ["update"]:
            counts["change"] += 1
        elif sorted(actions) == ["create", "delete"]:
            counts["replace"] += 1
        elif actions == ["delete"]:
            counts["destroy"] += 1
    return counts


def counts_row(markdown: str) -> dict[str, int]:
    lines = markdown.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("| add | change"))
    names = [c.strip() for c in lines[head].strip("|").split("|")]
    values = [int(c.strip().strip("*")) for c in lines[head + 2].strip("|").split("|")]
    return dict(zip(names, values, strict=True))


def outside_plain_text(markdown: str) -> str:
    return markdown.split("<details><summary>Full plan (plain text)", maxsplit=1)[0]


# ---------------------------------------------------------------------------
# Every recorded plan
# ---------------------------------------------------------------------------
def test_every_fixture_renders_well_formed_markdown(scenario: str) -> None:
    markdown = render_fixture(scenario)
    assert_well_formed(markdown)
    assert markdown.startswith("<!-- plan-preview:dev -->\n")


def test_counts_match_the_plan(scenario: str) -> None:
    document, _ = load_fixture(scenario)
    markdown = render_fixture(scenario)
    expected = expected_counts(document)
    if not any(expected.values()) and not parse.parse_plan(document).outputs:
        assert "| add | change" not in markdown
        return
    shown = counts_row(markdown)
    assert {k: shown[k] for k in expected} == expected


def test_every_changed_resource_is_listed(scenario: str) -> None:
    document, _ = load_fixture(scenario)
    tables = outside_plain_text(render_fixture(scenario))
    for rc in document["resource_changes"]:
        if rc["change"]["actions"] == ["no-op"]:
            continue
        local = rc["address"].removeprefix(rc.get("module_address", "") + ".")
        assert f"`{local}`" in tables, rc["address"]


def test_no_sensitive_value_is_ever_printed(scenario: str) -> None:
    document, _ = load_fixture(scenario)
    markdown = render_fixture(scenario)
    for secret in plan_secrets(document):
        assert secret not in markdown
        # Also not in its JSON-escaped or pretty-printed form.
        assert json.dumps(secret)[1:-1] not in markdown


def test_json_documents_are_not_shown_escaped(scenario: str) -> None:
    assert '\\"' not in outside_plain_text(render_fixture(scenario))


def test_detailed_exit_code_says_whether_anything_is_destroyed(
    scenario: str, tmp_path: Path
) -> None:
    document, _ = load_fixture(scenario)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(document))
    outputs = tmp_path / "outputs"
    code = cli.main(
        [
            str(plan_file),
            "--env",
            "dev",
            "--detailed-exitcode",
            "-o",
            str(tmp_path / "c.md"),
            "--outputs-file",
            str(outputs),
        ]
    )
    destroys = any("delete" in rc["change"]["actions"] for rc in document["resource_changes"])
    assert code == (3 if destroys else 0)
    values = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    assert values["destructive"] == str(destroys).lower()
    assert values["label"] == "plan:destroys:dev"
    assert values["exit_code"] == str(code)
    # Without the flag a destructive plan still renders with status 0.
    assert cli.main([str(plan_file), "--env", "dev", "-o", str(tmp_path / "d.md")]) == 0


# ---------------------------------------------------------------------------
# One scenario each
# ---------------------------------------------------------------------------
def test_create_lists_new_resources_and_unknown_values() -> None:
    markdown = render_fixture("create")
    # New resources are named by what identifies them.
    assert (
        '| 🟢 create | `aws_apigatewayv2_route.lambda["$connect"]` | route_key `$connect` |'
        in markdown
    )
    # A new secret is hidden, and not called "changed".
    assert "| `fixture_allowed_roles` | 🟢 create |  | _(sensitive value)_ |" in markdown
    assert "🟢 **No resource destroyed** in `dev`" in markdown
    assert "🟢 create" in markdown
    assert "_(known after apply)_" in markdown
    assert "🔴" not in outside_plain_text(markdown) and "🟠" not in outside_plain_text(markdown)
    # A new IAM trust policy reads as pretty JSON, not as an escaped string.
    assert '+      "Action": "sts:AssumeRole",' in markdown


def test_update_shows_throttling_and_code_changes_as_diffs() -> None:
    markdown = render_fixture("update")
    # The stage, the notifier's code, and the Broadcaster's post rate: its share of what the
    # stage's throttle leaves of the Region's API Gateway budget (limits.tf) follows the throttle.
    assert "🟢 **No resource destroyed** in `dev`: 0 to add, 3 to change." in markdown
    assert re.search(r'^\s+~ "FANOUT_RATE"\s+= "\d+" -> "\d+"$', markdown, re.M)
    # The stage throttling change, as a diff of the settings block.
    for line in (
        '-    "throttling_burst_limit": 500,',
        '-    "throttling_rate_limit": 1000',
        '+    "throttling_burst_limit": 250,',
        '+    "throttling_rate_limit": 500',
    ):
        assert re.search(f"^{re.escape(line)}$", markdown, re.M), line
    # The changed notifier.zip: a new code hash, and no other function's code touched.
    assert re.search(r"^\| `source_code_hash` \| `\"[^`]+\"` \| `\"[^`]+\"` \|$", markdown, re.M)
    assert '**`module.function["notifier"]`** (1 change)' in markdown
    assert 'module.function["connect"]' not in outside_plain_text(markdown)


def test_replacement_is_flagged_first_with_the_forcing_attribute() -> None:
    document, _ = load_fixture("replace")
    markdown = render_fixture("replace")
    replaced = [rc for rc in document["resource_changes"] if rc["change"].get("replace_paths")]
    assert replaced
    assert markdown.splitlines()[3].startswith("⚠️ **Destroys resources in `dev`:**")
    for rc in replaced:
        attribute = rc["change"]["replace_paths"][0][0]
        assert f"**forces replacement:** `{attribute}`" in markdown
        assert f"`{rc['address']}` — forced by `{attribute}`" in markdown
    # The replaced stage's real changes are listed; the provider's "" -> null noise is not.
    assert '| `description` | `"WebSocket stage prod"` | `"WebSocket stage live"` |' in markdown
    assert "client_certificate_id" not in outside_plain_text(markdown)
    rows = [
        line for line in markdown.splitlines() if line.startswith("| 🟠") or line.startswith("| 🟡")
    ]
    assert rows[0].startswith("| 🟠 replace")


def test_destroy_comes_first_and_is_named() -> None:
    document, _ = load_fixture("destroy")
    markdown = render_fixture("destroy")
    deleted = [
        rc["address"]
        for rc in document["resource_changes"]
        if rc["change"]["actions"] == ["delete"]
    ]
    assert deleted
    assert "**Destroyed or replaced:**" in markdown
    for address in deleted:
        assert f"- 🔴 destroy `{address}`" in markdown
    first_row = next(
        line
        for line in markdown.splitlines()
        if line.startswith("| 🔴") or line.startswith("| 🟡") or line.startswith("| 🟢")
    )
    assert first_row.startswith("| 🔴 destroy")


def test_no_changes() -> None:
    markdown = render_fixture("no_changes")
    assert "✅ **No changes.** `dev` matches the configuration." in markdown
    assert "| Action | Resource |" not in markdown
    assert "No changes. Your infrastructure matches the configuration." in markdown


def test_sensitive_changes_are_reported_without_values() -> None:
    document, _ = load_fixture("sensitive")
    assert plan_secrets(document), "the fixture must hold sensitive values to prove anything"
    markdown = render_fixture("sensitive")
    assert "(sensitive value, changed)" in markdown
    assert "(sensitive value)" in markdown


# ---------------------------------------------------------------------------
# Synthetic plans for what this stack's plans do not exercise
# ---------------------------------------------------------------------------
def synthetic_plan(
    *changes: dict[str, Any], outputs: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "format_version": "1.2",
        "terraform_version": "1.11.4",
        "resource_changes": list(changes),
        "output_changes": outputs or {},
        "errored": False,
        "complete": True,
    }


def resource(
    address: str, actions: list[str], before: Any, after: Any, **change: Any
) -> dict[str, Any]:
    module = address.rsplit(".aws_", maxsplit=1)[0] if ".aws_" in address else ""
    rtype = address.split(".")[-2] if "." in address else address
    item: dict[str, Any] = {
        "address": address,
        "mode": "managed",
        "type": rtype,
        "name": address.rsplit(".", maxsplit=1)[-1],
        "change": {
            "actions": actions,
            "before": before,
            "after": after,
            "after_unknown": change.pop("after_unknown", {}),
            "before_sensitive": change.pop("before_sensitive", {}),
            "after_sensitive": change.pop("after_sensitive", {}),
            **change,
        },
    }
    if module:
        item["module_address"] = module
    return item


def test_mask_hides_sensitive_values_at_every_level() -> None:
    value = {"a": "clear", "b": {"c": "deep-secret", "d": ["x", "list-secret"]}, "e": "whole"}
    sensitive = {"b": {"c": True, "d": [False, True]}, "e": True}
    masked = masking.mask(value, sensitive)
    assert masked["a"] == "clear"
    assert masked["b"]["c"] is masking.SECRET
    assert masked["b"]["d"] == ["x", masking.SECRET]
    assert masked["e"] is masking.SECRET
    assert masking.mask({"a": 1}, True) is masking.SECRET


def test_mask_marks_unknown_values_and_secret_wins() -> None:
    masked = masking.mask(
        {"a": None, "n": [{"x": 1}]}, {"b": True}, {"b": True, "c": True, "n": [{"y": True}]}
    )
    assert masked["b"] is masking.SECRET
    assert masked["c"] is masking.UNKNOWN
    assert masked["n"] == [{"x": 1, "y": masking.UNKNOWN}]


def test_security_group_rules_render_as_json_diff() -> None:
    rule = {"from_port": 443, "to_port": 443, "protocol": "tcp", "cidr_blocks": ["10.0.0.0/8"]}
    wider = {**rule, "cidr_blocks": ["0.0.0.0/0"]}
    doc = synthetic_plan(
        resource(
            "aws_security_group.web",
            ["update"],
            {"ingress": [rule], "name": "web"},
            {"ingress": [wider], "name": "web"},
        ),
        resource(
            "aws_vpc_security_group_ingress_rule.ssh",
            ["update"],
            {"cidr_ipv4": "10.0.0.0/8", "from_port": 22},
            {"cidr_ipv4": "0.0.0.0/0", "from_port": 22},
        ),
    )
    markdown = render.render(parse.parse_plan(doc), None, render.RenderOptions(env="dev"))
    assert "`ingress` (rules)" in markdown
    assert re.search(r'^- +"10\.0\.0\.0/8"$', markdown, re.M)
    assert re.search(r'^\+ +"0\.0\.0\.0/0"$', markdown, re.M)
    assert "`aws_vpc_security_group_ingress_rule` rule" in markdown
    # The whole rule is shown, the unchanged port as context.
    assert '-  "cidr_ipv4": "10.0.0.0/8",' in markdown
    assert '+  "cidr_ipv4": "0.0.0.0/0",' in markdown
    assert '   "from_port": 22' in markdown
    assert_well_formed(markdown)


def test_queue_policy_and_nested_inline_policy_are_pretty_printed() -> None:
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}],
        }
    )
    narrowed = policy.replace('"*"', '"arn:aws:sqs:us-east-1:1:q"')
    doc = synthetic_plan(
        resource("aws_sqs_queue_policy.this", ["update"], {"policy": policy}, {"policy": narrowed}),
        resource(
            "aws_iam_role.this",
            ["update"],
            {"inline_policy": [{"name": "p", "policy": policy}]},
            {"inline_policy": [{"name": "p", "policy": narrowed}]},
        ),
    )
    markdown = render.render(parse.parse_plan(doc), None, render.RenderOptions(env="dev"))
    assert "`policy` (policy document)" in markdown
    assert '-      "Resource": "*"' in markdown
    assert '+      "Resource": "arn:aws:sqs:us-east-1:1:q"' in markdown
    assert "`inline_policy` (block)" in markdown
    assert '\\"' not in markdown


def test_sensitive_output_and_sensitive_policy_stay_hidden() -> None:
    doc = synthetic_plan(
        resource(
            "aws_ssm_parameter.token",
            ["update"],
            {"value": "old-secret-123", "name": "t"},
            {"value": "new-secret-456", "name": "t"},
            before_sensitive={"value": True},
            after_sensitive={"value": True},
        ),
        outputs={
            "token": {
                "actions": ["update"],
                "before": "old-secret-123",
                "after": "new-secret-456",
                "before_sensitive": True,
                "after_sensitive": True,
                "after_unknown": False,
            }
        },
    )
    markdown = render.render(parse.parse_plan(doc), None, render.RenderOptions(env="dev"))
    assert "secret-" not in markdown
    assert "| `value` | _(sensitive value)_ | _(sensitive value, changed)_ |" in markdown
    assert (
        "| `token` | 🟡 update | _(sensitive value)_ | _(sensitive value, changed)_ |" in markdown
    )


def test_unchanged_secret_is_not_reported_as_changed() -> None:
    doc = synthetic_plan(
        resource(
            "aws_lambda_function.f",
            ["update"],
            {"environment": [{"variables": {"K": "same-secret"}}], "memory_size": 128},
            {"environment": [{"variables": {"K": "same-secret"}}], "memory_size": 256},
            before_sensitive={"environment": [{"variables": {"K": True}}]},
            after_sensitive={"environment": [{"variables": {"K": True}}]},
        ),
    )
    markdown = render.render(parse.parse_plan(doc), None, render.RenderOptions(env="dev"))
    assert "changes `memory_size`" in markdown
    assert "environment" not in outside_plain_text(markdown)


def test_moved_imported_forgotten_and_read_are_listed_but_not_destructive() -> None:
    doc = synthetic_plan(
        {
            **resource("aws_sns_topic.new", ["no-op"], {"name": "t"}, {"name": "t"}),
            "previous_address": "aws_sns_topic.old",
        },
        resource("aws_sqs_queue.q", ["no-op"], {"name": "q"}, {"name": "q"}, importing={"id": "q"}),
        resource("aws_s3_bucket.b", ["forget"], {"bucket": "b"}, None),
        {**resource("data.aws_iam_policy_document.d", ["read"], None, {}), "mode": "data"},
    )
    plan = parse.parse_plan(doc)
    assert not plan.destructive
    markdown = render.render(plan, None, render.RenderOptions(env="dev"))
    assert "moved from `aws_sns_topic.old`" in markdown
    assert "⚪ import" in markdown and "⚪ forget" in markdown and "🔵 read" in markdown


def test_create_before_destroy_replacement_counts_as_destructive() -> None:
    doc = synthetic_plan(
        resource(
            "aws_lambda_function.f",
            ["create", "delete"],
            {"name": "a"},
            {"name": "b"},
            replace_paths=[["name"]],
        )
    )
    plan = parse.parse_plan(doc)
    assert plan.destructive and plan.count(Action.REPLACE) == 1


def test_markdown_helpers_escape_backticks_pipes_and_html() -> None:
    assert md.code("a`b") == "`` a`b ``"
    assert md.code("`x`") == "`` `x` ``"
    assert md.cell(md.code("a|b")) == "`a\\|b`"
    assert md.html("<b>&") == "&lt;b&gt;&amp;"
    body = "before\n```\ninside\n````"
    fenced = md.fence(body, "text")
    assert fenced.startswith("`````text\n") and fenced.endswith("\n`````")


def big_plan(n_resources: int, text_lines: int) -> tuple[dict[str, Any], str]:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": [f"s3:Get{i}" for i in range(30)], "Resource": "*"}
        ],
    }
    changes = [
        resource(
            f"module.m{i % 7}.aws_iam_policy.p{i}",
            ["update"],
            {"policy": json.dumps(policy), "name": f"p{i}"},
            {
                "policy": json.dumps(
                    {**policy, "Statement": [{**policy["Statement"][0], "Resource": f"arn:{i}"}]}
                ),
                "name": f"p{i}",
            },
        )
        for i in range(n_resources)
    ]
    changes.append(resource("aws_s3_bucket.gone", ["delete"], {"bucket": "gone"}, None))
    text = "\n".join(f"  line {i} ``` {'x' * 60}" for i in range(text_lines))
    return synthetic_plan(*changes), text


@pytest.mark.parametrize(
    ("n_resources", "text_lines", "expect"),
    [
        (3, 20_000, "plain-text plan is"),  # only the plain text is cut
        (200, 2_000, "attribute diffs of"),  # the plain text goes, then diffs
        (3_000, 10, "more resource rows"),  # even the table is cut
    ],
)
def test_truncation_keeps_the_comment_under_the_limit(
    n_resources: int, text_lines: int, expect: str
) -> None:
    doc, text = big_plan(n_resources, text_lines)
    markdown = render.render(
        parse.parse_plan(doc),
        text,
        render.RenderOptions(env="prod", details_url="https://ci.example/run/1"),
    )
    assert_well_formed(markdown, limit=render.DEFAULT_MAX_CHARS)
    assert "✂️ **Truncated:**" in markdown
    assert expect in markdown
    # The destructive change is never the part that is cut.
    assert "- 🔴 destroy `aws_s3_bucket.gone`" in markdown
    assert "[workflow run](https://ci.example/run/1)" in markdown


def test_small_plans_are_not_truncated() -> None:
    markdown = render_fixture("update")
    assert "Truncated" not in markdown


def test_cli_rejects_what_is_not_a_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"format_version": "1.0", "values": {}}))
    assert cli.main([str(state)]) == 1
    assert "state, not a plan" in capsys.readouterr().err
    empty = tmp_path / "empty.json"
    empty.write_text("")
    assert cli.main([str(empty)]) == 1
    assert "is empty" in capsys.readouterr().err
    assert cli.main([str(tmp_path / "missing.json")]) == 1
    with pytest.raises(SystemExit) as exc:
        cli.main([str(state), "--env", "bad name"])
    assert exc.value.code == 2


def test_cli_reads_stdin_and_writes_stdout(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    document, _ = load_fixture("update")
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(document)))
    assert cli.main(["-", "--env", "staging", "--commit", "0123456789abcdef"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("<!-- plan-preview:staging -->")
    assert "commit `0123456789ab`" in out


def test_failed_plan_comment_keeps_the_marker_and_the_error(tmp_path: Path) -> None:
    log = tmp_path / "plan.log"
    log.write_text("\x1b[31mError:\x1b[0m creating thing\n" + "noise\n" * 50_000)
    out = tmp_path / "c.md"
    assert cli.main(["--failed-log", str(log), "--env", "dev", "-o", str(out)]) == 0
    markdown = out.read_text()
    assert_well_formed(markdown, limit=render.DEFAULT_MAX_CHARS)
    assert "❌ **Plan failed** for `dev`" in markdown
    assert "\x1b" not in markdown
    assert "last " in markdown


def test_documented_example_is_what_the_renderer_produces() -> None:
    """docs/plan-preview-example.md stays true: tools.plan_preview.record rewrites it."""
    example = ROOT / "docs" / "plan-preview-example.md"
    assert example.read_text(encoding="utf-8") == render_fixture("update")


def test_imports_and_failed_checks_are_called_out() -> None:
    doc = synthetic_plan(
        resource(
            "aws_sqs_queue.q",
            ["update"],
            {"name": "q", "delay_seconds": 0},
            {"name": "q", "delay_seconds": 5},
            importing={"id": "q"},
        ),
    )
    doc["checks"] = [
        {"address": {"kind": "check", "to_display": "check.health"}, "status": "fail"},
        {"address": {"kind": "resource", "to_display": "aws_sqs_queue.q"}, "status": "pass"},
    ]
    markdown = render.render(parse.parse_plan(doc), None, render.RenderOptions(env="dev"))
    assert "changes `delay_seconds`; imported" in markdown
    assert "> ⚠️ **1 check(s) failed:** `check.health`." in markdown
    assert "aws_sqs_queue.q`." not in markdown


def test_limit_counts_utf16_units_not_just_characters() -> None:
    doc, _ = big_plan(2, 0)
    text = "\n".join("🔥" * 50 for _ in range(2_000))  # 100,000 characters, 200,000 UTF-16 units
    markdown = render.render(parse.parse_plan(doc), text, render.RenderOptions(env="dev"))
    assert_well_formed(markdown, limit=render.DEFAULT_MAX_CHARS)
    assert md.comment_length(markdown) > len(markdown)  # the emoji count twice
    assert "plain-text plan is 2000 lines" in markdown


def test_make_plan_preview_renders_a_saved_plan_to_stdout_only() -> None:
    """`make plan-preview PLAN_JSON=...` prints exactly the comment: nothing else on stdout."""
    root = ROOT
    make = shutil.which("make")
    assert make, "GNU make is a prerequisite (README)"
    result = subprocess.run(  # noqa: S603 - our own argument list
        [
            make,
            "--no-print-directory",
            "-s",
            "plan-preview",
            f"PLAN_JSON={FIXTURES / 'update.plan.json.gz'}",
            f"PLAN_TEXT={FIXTURES / 'update.plan.txt'}",
            "ENV=dev",
        ],
        cwd=root,
        text=True,
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == (root / "docs" / "plan-preview-example.md").read_text(encoding="utf-8")


def test_a_wholly_sensitive_object_shows_no_attributes() -> None:
    doc = synthetic_plan(
        resource(
            "aws_secretsmanager_secret_version.v",
            ["update"],
            {"secret_string": "old-secret-value"},
            {"secret_string": "new-secret-value"},
            before_sensitive=True,
            after_sensitive=True,
        )
    )
    markdown = render.render(parse.parse_plan(doc), None, render.RenderOptions(env="dev"))
    assert "secret-value" not in markdown and "secret_string" not in markdown
    assert "| 🟡 update | `aws_secretsmanager_secret_version.v` |" in markdown
