"""The plan-and-render step (tools/plan_preview/ci.py), run against a fake terraform.

CI's plan job and `make plan-preview ENV=<env>` both run this one step; here it runs for real,
with a fake ``terraform`` first on PATH that plays back the recorded plans of this stack.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tools.paths import ROOT
from tools.plan_preview import parse, render

pytestmark = pytest.mark.preview

FIXTURES = Path(__file__).parent / "fixtures"
RUN_URL = "https://ci.example/run/7"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclasses.dataclass
class StepResult:
    code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str
    plan_dir: Path


def run_ci(fake: Any, tmp_path: Path, *args: str, env_name: str = "dev") -> StepResult:
    """The step as CI runs it: in a checkout (here an empty directory), with CI's files."""
    work = tmp_path / "checkout"
    work.mkdir(exist_ok=True)
    github_output = tmp_path / "github_output"
    summary = tmp_path / "step_summary"
    for path in (github_output, summary):
        path.write_text("")
    result = subprocess.run(  # noqa: S603 - our own argument list
        [
            sys.executable,
            "-m",
            "tools.plan_preview.ci",
            "--env",
            env_name,
            "--plan-file",
            f"plan-out/{env_name}.tfplan",
            "--commit",
            COMMIT,
            "--details-url",
            RUN_URL,
            "--github-output",
            str(github_output),
            "--step-summary",
            str(summary),
            *args,
        ],
        cwd=work,
        env={**fake.env(), "PYTHONPATH": str(ROOT)},
        text=True,
        capture_output=True,
        check=False,
    )
    return StepResult(
        code=result.returncode,
        stdout=result.stdout,
        stderr=result.stderr,
        outputs=parse_outputs(github_output.read_text()),
        summary=summary.read_text(),
        plan_dir=work / "plan-out",
    )


def parse_outputs(text: str) -> dict[str, str]:
    """``$GITHUB_OUTPUT`` lines as a dict; a key written twice would be a bug."""
    pairs = [line.split("=", 1) for line in text.splitlines()]
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), keys
    return dict(pairs)


def expected_comment(fixture: str, env_name: str = "dev") -> str:
    """What the renderer makes of the recorded plan, with the options CI passes."""
    plan = parse.load_plan(str(FIXTURES / f"{fixture}.plan.json.gz"))
    text = (FIXTURES / f"{fixture}.plan.txt").read_text(encoding="utf-8")
    return render.render(plan, text, render.RenderOptions(env_name, COMMIT, RUN_URL))


@pytest.mark.parametrize(
    ("fixture", "destructive", "counts"),
    [
        ("update", "false", {"add": "0", "change": "3", "replace": "0", "destroy": "0"}),
        ("destroy", "true", None),
        ("replace", "true", None),
        ("no_changes", "false", {"add": "0", "change": "0", "replace": "0", "destroy": "0"}),
    ],
)
def test_a_plan_is_rendered_with_the_ci_outputs(
    fake_terraform: Any,
    tmp_path: Path,
    fixture: str,
    destructive: str,
    counts: dict[str, str] | None,
) -> None:
    fake_terraform.fixture = fixture
    step = run_ci(fake_terraform, tmp_path, "--no-lock")
    assert step.code == 0, step.stderr
    comment = (step.plan_dir / "dev.md").read_text(encoding="utf-8")
    # The comment is the renderer's, byte for byte, on stdout, in the file and in the summary.
    assert comment == expected_comment(fixture)
    assert step.stdout == comment
    assert step.summary == comment
    assert comment.startswith("<!-- plan-preview:dev -->\n")
    assert "commit `0123456789ab`" in comment
    assert step.outputs["status"] == "0"
    assert step.outputs["comment"] == "plan-out/dev.md"
    assert step.outputs["destructive"] == destructive
    assert step.outputs["label"] == "plan:destroys:dev"
    assert step.outputs["exit_code"] == "0"
    if counts:
        assert {k: step.outputs[k] for k in counts} == counts
    # Terraform's own output goes to stderr and the log, never into stdout.
    assert "fake terraform: planning" in step.stderr
    assert "fake terraform" not in step.stdout
    assert "fake terraform: planning" in (step.plan_dir / "dev.log").read_text()
    # The artifact CI uploads: the plan the apply job applies, with its JSON and text.
    assert (step.plan_dir / "dev.tfplan").read_text() == "a binary plan file\n"
    assert (step.plan_dir / "dev.txt").read_text() == (FIXTURES / f"{fixture}.plan.txt").read_text()
    assert (step.plan_dir / "dev.json").stat().st_size > 0


def test_terraform_is_called_like_the_workflow_always_did(
    fake_terraform: Any, tmp_path: Path
) -> None:
    step = run_ci(fake_terraform, tmp_path, "--no-lock")
    assert step.code == 0, step.stderr
    assert fake_terraform.calls() == [
        [
            "plan",
            "-input=false",
            "-no-color",
            "-lock=false",
            "-var-file=envs/dev.tfvars",
            "-out=plan-out/dev.tfplan",
        ],
        ["show", "-json", "plan-out/dev.tfplan"],
        ["show", "-no-color", "plan-out/dev.tfplan"],
    ]


@pytest.mark.parametrize(
    ("args", "lock"),
    [
        (["--lock-timeout", "10m"], ["-lock-timeout=10m"]),  # plans on main, which get applied
        (["--no-lock"], ["-lock=false"]),  # pull-request plans never block an apply
        ([], []),  # make plan-preview: terraform's default
    ],
)
def test_state_lock_arguments(
    fake_terraform: Any, tmp_path: Path, args: list[str], lock: list[str]
) -> None:
    step = run_ci(fake_terraform, tmp_path, *args, "--var-file", "other.tfvars")
    assert step.code == 0, step.stderr
    plan_call = fake_terraform.calls()[0]
    assert plan_call[:3] == ["plan", "-input=false", "-no-color"]
    assert plan_call[3:-2] == lock
    assert plan_call[-2] == "-var-file=other.tfvars"


def test_lock_options_exclude_each_other(fake_terraform: Any, tmp_path: Path) -> None:
    step = run_ci(fake_terraform, tmp_path, "--no-lock", "--lock-timeout", "10m")
    assert step.code == 2
    assert "not allowed with argument" in step.stderr
    assert fake_terraform.calls() == []


def test_a_failed_plan_still_comments_and_fails_the_step(
    fake_terraform: Any, tmp_path: Path
) -> None:
    fake_terraform.plan_exit = 1
    step = run_ci(fake_terraform, tmp_path, "--no-lock")
    assert step.code == 4
    comment = (step.plan_dir / "dev.md").read_text(encoding="utf-8")
    assert comment.startswith("<!-- plan-preview:dev -->\n")
    assert "❌ **Plan failed** for `dev`" in comment
    assert "Error: simulated failure" in comment  # terraform's stderr, captured in the log
    assert f"[workflow run]({RUN_URL})" in comment
    assert step.stdout == comment and step.summary == comment
    assert step.outputs == {"status": "1", "comment": "plan-out/dev.md"}  # no label, no counts
    assert "::error::terraform plan for dev exited 1" in step.stderr
    assert [call[0] for call in fake_terraform.calls()] == ["plan"]
    assert not (step.plan_dir / "dev.tfplan").exists()


def test_a_failed_show_writes_no_comment(fake_terraform: Any, tmp_path: Path) -> None:
    fake_terraform.show_exit = 1
    step = run_ci(fake_terraform, tmp_path)
    assert step.code == 1
    assert "terraform show -json plan-out/dev.tfplan exited 1" in step.stderr
    assert "Error: cannot read the plan file" in step.stderr
    assert step.outputs == {"status": "0"}  # the workflow posts no comment without `comment`
    assert step.stdout == "" and step.summary == ""
    assert not (step.plan_dir / "dev.md").exists()


def test_a_missing_terraform_is_an_error_not_a_crash(fake_terraform: Any, tmp_path: Path) -> None:
    step = run_ci(fake_terraform, tmp_path, "--terraform", str(tmp_path / "no-terraform"))
    assert step.code == 1
    assert "cannot run" in step.stderr and "Traceback" not in step.stderr


def test_env_names_are_checked(fake_terraform: Any, tmp_path: Path) -> None:
    step = run_ci(fake_terraform, tmp_path, env_name="bad name")
    assert step.code == 2
    assert fake_terraform.calls() == []


def test_make_plan_preview_runs_the_same_step(fake_terraform: Any, tmp_path: Path) -> None:
    """`make plan-preview ENV=dev`: stdout is the comment alone, the plan saved for `make apply`."""
    make = shutil.which("make")
    assert make, "GNU make is a prerequisite (README)"
    env_dir = tmp_path / "tf-dev"
    result = subprocess.run(  # noqa: S603 - our own argument list
        [
            make,
            "--no-print-directory",
            "-s",
            "plan-preview",
            "ENV=dev",
            f"TF={fake_terraform.executable}",
            f"TF_ENV_DIR={env_dir}",  # not the repository's .terraform/dev
            # The Lambda build is tested by the packaging suite: keep this one off pip.
            f"MAKE={make} -o build -o setup",
        ],
        cwd=ROOT,
        env={k: v for k, v in fake_terraform.env().items() if k != "MAKEFLAGS"},
        text=True,
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    plan = parse.load_plan(str(FIXTURES / "update.plan.json.gz"))
    text = (FIXTURES / "update.plan.txt").read_text(encoding="utf-8")
    assert result.stdout == render.render(plan, text, render.RenderOptions("dev"))
    calls = fake_terraform.calls()
    assert calls[0] == ["init", "-input=false", "-backend-config=envs/dev.s3.tfbackend"]
    assert calls[1] == [
        "plan",
        "-input=false",
        "-no-color",
        "-var-file=envs/dev.tfvars",
        f"-out={env_dir}/plan.tfplan",
    ]
    assert (env_dir / "plan.tfplan").exists()  # where `make apply ENV=dev` looks for it
    assert "fake terraform: planning" in result.stderr
    assert (env_dir / "plan.md").read_text(encoding="utf-8") == result.stdout
