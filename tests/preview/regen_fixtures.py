"""Re-record the plan preview fixtures from real plans of this stack on the embedded emulator.

    make build && TF_PLUGIN_DIR=/opt/tf-plugins make preview-fixtures
    # or: .venv/bin/python tests/preview/regen_fixtures.py [--port 4599] [--keep]

Works on a throwaway copy of the root module (with a local-state backend override, so no state
bucket is needed) against an emulator of its own (own port, own state directory), and writes,
for each scenario, ``fixtures/<scenario>.plan.json.gz`` (``terraform show -json``) and
``fixtures/<scenario>.plan.txt`` (``terraform show -no-color``):

    create      the whole stack from nothing (envs/local.tfvars plus an Incidents stream)
    no_changes  the same configuration again, once applied
    update      the stage throttling changed and a changed notifier.zip
    replace     the stage renamed (a new stage and deployment)
    sensitive   a sensitive value changed (see below)
    destroy     the Incidents stream ARN removed: the stream consumers go

The stack itself has no sensitive values, so the copy marks ``allowed_roles`` sensitive (an
override file) and adds a sensitive output of it: the redaction is then exercised on a real plan
of this stack, with the secret nested in a Lambda environment. Machine-specific parts (emulator
port, temporary paths, the times of the run) are scrubbed so the fixtures are stable.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXAMPLE = ROOT / "docs" / "plan-preview-example.md"
SCRIPTS = ROOT / "scripts"
ZIPS = ("connection_manager.zip", "broadcaster.zip", "notifier.zip")
STABLE_PORT = "4566"
STABLE_TIMESTAMP = "2026-01-01T00:00:00Z"
STABLE_STACK_DIR = "/stack"
TIMESTAMP_RE = re.compile(r"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?")
sys.path.insert(0, str(SCRIPTS))  # devstack and plan_preview, imported where they are used

BACKEND_OVERRIDE = 'terraform {\n  backend "local" {}\n}\n'
SENSITIVE_OVERRIDE = 'variable "allowed_roles" {\n  sensitive = true\n}\n'
SENSITIVE_OUTPUT = (
    'output "fixture_allowed_roles" {\n'
    '  description = "Fixture only: a sensitive output for the plan preview tests."\n'
    "  value       = var.allowed_roles\n"
    "  sensitive   = true\n"
    "}\n"
)


def log(message: str) -> None:
    print(f"[regen] {message}", file=sys.stderr, flush=True)


def copy_stack(dest: Path) -> None:
    dest.mkdir(parents=True)
    for path in ROOT.glob("*.tf"):
        if not path.name.endswith("_override.tf"):
            shutil.copy2(path, dest / path.name)
    shutil.copy2(ROOT / ".terraform.lock.hcl", dest / ".terraform.lock.hcl")
    shutil.copytree(ROOT / "modules", dest / "modules")
    shutil.copytree(ROOT / "envs", dest / "envs")
    (dest / "backend_override.tf").write_text(BACKEND_OVERRIDE)
    (dest / "fixture_sensitive_override.tf").write_text(SENSITIVE_OVERRIDE)
    (dest / "fixture_outputs.tf").write_text(SENSITIVE_OUTPUT)


def make_zips(build: Path, zips: Path, changed: Path) -> None:
    """``zips``: the zips of make build; ``changed``: a notifier.zip with one more file."""
    for name in ZIPS:
        if not (build / name).exists():
            raise SystemExit(f"{build / name} is missing: run 'make build' first")
    zips.mkdir(parents=True)
    for name in ZIPS:
        shutil.copy2(build / name, zips / name)
    shutil.copy2(build / "notifier.zip", changed)
    with zipfile.ZipFile(changed, "a") as zf:
        info = zipfile.ZipInfo("fixture_change.txt", date_time=(1980, 1, 1, 0, 0, 0))
        zf.writestr(info, "a changed notifier build\n")


class Stack:
    def __init__(self, workdir: Path, env: Mapping[str, str]) -> None:
        self.workdir = workdir
        self.env = dict(env)

    def terraform(self, *args: str, capture: bool = False) -> str:
        command = ["terraform", f"-chdir={self.workdir / 'stack'}", *args]
        proc = subprocess.run(  # noqa: S603 - our own argument list, terraform from PATH
            command,
            env=self.env,
            text=True,
            stdout=subprocess.PIPE if capture else sys.stderr,
            check=False,
        )
        if proc.returncode != 0:
            raise SystemExit(f"terraform {args[0]} failed with exit {proc.returncode}")
        return proc.stdout if capture else ""

    def plan(self, name: str, variables: list[str], *, apply: bool = False) -> tuple[str, str]:
        plan_file = str(self.workdir / f"{name}.tfplan")
        log(f"plan {name}")
        self.terraform("plan", "-input=false", "-no-color", f"-out={plan_file}", *variables)
        document = self.terraform("show", "-json", plan_file, capture=True)
        text = self.terraform("show", "-no-color", plan_file, capture=True)
        if apply:
            log(f"apply {name}")
            self.terraform("apply", "-input=false", "-no-color", plan_file)
        return document, text


def scrub(text: str, replacements: Mapping[str, str], port: int) -> str:
    for old, new in replacements.items():
        text = text.replace(old, new)
    text = re.sub(rf"(127\.0\.0\.1|localhost):{port}\b", rf"\g<1>:{STABLE_PORT}", text)
    # Times of this run (last_modified, the stream label in the stream ARN): fixed, so a
    # re-recording changes only what really differs.
    return TIMESTAMP_RE.sub(lambda m: "2026-01-01T00:00:00" + (".000" if m.group(1) else ""), text)


def write_fixture(name: str, document: str, text: str, scrubber: Any) -> None:
    parsed = json.loads(scrubber(document))
    parsed["timestamp"] = STABLE_TIMESTAMP
    FIXTURES.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(parsed, indent=1, sort_keys=True).encode()
    with gzip.GzipFile(FIXTURES / f"{name}.plan.json.gz", "wb", mtime=0) as fh:
        fh.write(payload)
    (FIXTURES / f"{name}.plan.txt").write_text(scrubber(text))
    log(f"wrote {name}: {len(payload)} bytes of JSON, {len(text)} of text")


def write_example() -> None:
    """The README's example comment: the update scenario (throttling and a changed zip)."""
    import plan_preview  # noqa: PLC0415 - lives in scripts/, loaded on demand

    plan_preview.main(
        [
            str(FIXTURES / "update.plan.json.gz"),
            "--text",
            str(FIXTURES / "update.plan.txt"),
            "--env",
            "dev",
            "-o",
            str(EXAMPLE),
        ]
    )
    log(f"wrote {EXAMPLE.relative_to(ROOT)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("PREVIEW_EMULATOR_PORT", "4599"))
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="plan-preview-fixtures-"))
    emu_env = {**os.environ, "LOCAL_STATE_DIR": str(workdir / "emulator")}
    emulator = [sys.executable, str(SCRIPTS / "emulator.py")]
    log(f"working in {workdir}")
    start = [*emulator, "start", "--port", str(args.port)]
    subprocess.run(start, env=emu_env, check=True)  # noqa: S603 - our own argument list
    try:
        endpoint = f"http://127.0.0.1:{args.port}"
        copy_stack(workdir / "stack")
        zips = workdir / "zips"
        make_zips(ROOT / "build", zips, workdir / "notifier-changed.zip")
        import devstack  # noqa: PLC0415 - lives in scripts/, loaded on demand
        import emulator as emulator_script  # noqa: PLC0415

        aws = emulator_script.sdk_env(endpoint)

        stream_arn = devstack.ensure_incidents_table(endpoint, [])
        tf_env = {
            **emu_env,
            **aws,
            "TF_DATA_DIR": str(workdir / "tfdata"),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
        }
        stack = Stack(workdir, tf_env)
        stack.terraform("init", "-input=false", "-no-color")

        base = ["-var-file=envs/local.tfvars"]
        v1 = [*base, f"-var=artifacts_dir={zips}"]
        with_stream = [*v1, f"-var=incidents_stream_arn={stream_arn}"]
        throttled = [*with_stream, '-var=throttling={"burst_limit":250,"rate_limit":500}']
        scenarios: list[tuple[str, list[str], bool]] = [
            ("create", with_stream, True),
            ("no_changes", with_stream, False),
            ("update", throttled, False),  # with the changed notifier.zip, see below
            ("replace", [*with_stream, "-var=stage_name=live"], False),
            (
                "sensitive",
                [*with_stream, '-var=allowed_roles=["dispatcher","responder","supervisor"]'],
                False,
            ),
            ("destroy", v1, False),
        ]
        replacements = {
            str(zips): f"{STABLE_STACK_DIR}/build",
            str(workdir / "stack"): STABLE_STACK_DIR,
            str(workdir): "/tmp/plan",
        }

        def scrubber(text: str) -> str:
            return scrub(text, replacements, args.port)

        original = zips / "notifier.zip"
        kept = workdir / "notifier-original.zip"
        shutil.copy2(original, kept)
        for name, variables, apply in scenarios:
            shutil.copy2(workdir / "notifier-changed.zip" if name == "update" else kept, original)
            document, text = stack.plan(name, variables, apply=apply)
            write_fixture(name, document, text, scrubber)
        write_example()
    finally:
        subprocess.run([*emulator, "stop"], env=emu_env, check=False)  # noqa: S603
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
