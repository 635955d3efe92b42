"""Re-record the plan preview fixtures from real plans of this stack on the embedded emulator.

    make build && TF_PLUGIN_DIR=/opt/tf-plugins make preview-fixtures
    # or: .venv/bin/python -m tools.plan_preview.record [--port 4599] [--keep]

Works on a throwaway copy of the root module (with a local-state backend override, so no state
bucket is needed) against an emulator of its own (own port, own state directory), and writes,
for each scenario, ``tests/preview/fixtures/<scenario>.plan.json.gz`` (``terraform show -json``)
and ``tests/preview/fixtures/<scenario>.plan.txt`` (``terraform show -no-color``):

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
import sys
import tempfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from tools.build.artifacts import ARTIFACTS
from tools.localenv import clients, emulator, resources, terraform
from tools.localenv.rootmodule import copy_root_module
from tools.paths import ROOT
from tools.plan_preview import cli as plan_preview_cli
from tools.reprozip import write_zip

FIXTURES = ROOT / "tests" / "preview" / "fixtures"
EXAMPLE = ROOT / "docs" / "plan-preview-example.md"
# Every zip the stack deploys, as make build names them (tools/build owns the list).
ZIPS = tuple(artifact.file_name for artifact in ARTIFACTS)
DEFAULT_PORT = 4599
STABLE_PORT = "4566"
STABLE_TIMESTAMP = "2026-01-01T00:00:00Z"
STABLE_STACK_DIR = "/stack"
TIMESTAMP_RE = re.compile(r"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?")

FIXTURE_FILES = {
    "fixture_sensitive_override.tf": 'variable "allowed_roles" {\n  sensitive = true\n}\n',
    "fixture_outputs.tf": (
        'output "fixture_allowed_roles" {\n'
        '  description = "Fixture only: a sensitive output for the plan preview tests."\n'
        "  value       = var.allowed_roles\n"
        "  sensitive   = true\n"
        "}\n"
    ),
}


class RecordError(RuntimeError):
    """The fixtures cannot be recorded; the message says what to do first."""


def log(message: str) -> None:
    print(f"[regen] {message}", file=sys.stderr, flush=True)


def copy_zips(build: Path, zips: Path, changed: Path) -> None:
    """``zips``: the zips of make build; ``changed``: a notifier.zip with one more file."""
    for name in ZIPS:
        if not (build / name).exists():
            raise RecordError(f"{build / name} is missing: run 'make build' first")
    zips.mkdir(parents=True)
    for name in ZIPS:
        shutil.copy2(build / name, zips / name)
    with zipfile.ZipFile(build / "notifier.zip") as original:
        entries: list[tuple[str, Path | bytes]] = [
            (info.filename, original.read(info)) for info in original.infolist()
        ]
    write_zip(changed, [*entries, ("fixture_change.txt", b"a changed notifier build\n")])


class Recorder:
    """Plans (and applies) the copy of the root module with one Terraform environment."""

    def __init__(self, workdir: Path, env: Mapping[str, str]) -> None:
        self.workdir = workdir
        self.module = workdir / "stack"
        self.env = dict(env)

    def terraform(self, *args: str, capture: bool = False) -> str:
        proc = terraform.run(args, chdir=self.module, env=self.env, capture=capture)
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
    """``text`` without what differs from one machine or run to the next."""
    for old, new in replacements.items():
        text = text.replace(old, new)
    text = re.sub(rf"(127\.0\.0\.1|localhost):{port}\b", rf"\g<1>:{STABLE_PORT}", text)
    # Times of this run (last_modified, the stream label in the stream ARN): fixed, so a
    # re-recording changes only what really differs.
    return TIMESTAMP_RE.sub(lambda m: "2026-01-01T00:00:00" + (".000" if m.group(1) else ""), text)


def write_fixture(
    fixtures: Path, name: str, document: str, text: str, scrubber: Callable[[str], str]
) -> None:
    parsed = json.loads(scrubber(document))
    parsed["timestamp"] = STABLE_TIMESTAMP
    fixtures.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(parsed, indent=1, sort_keys=True).encode()
    with gzip.GzipFile(fixtures / f"{name}.plan.json.gz", "wb", mtime=0) as fh:
        fh.write(payload)
    (fixtures / f"{name}.plan.txt").write_text(scrubber(text))
    log(f"wrote {name}: {len(payload)} bytes of JSON, {len(text)} of text")


def write_example(fixtures: Path, example: Path) -> None:
    """The README's example comment: the update scenario (throttling and a changed zip)."""
    status = plan_preview_cli.main(
        [
            str(fixtures / "update.plan.json.gz"),
            "--text",
            str(fixtures / "update.plan.txt"),
            "--env",
            "dev",
            "-o",
            str(example),
        ]
    )
    if status != 0:
        raise RecordError(f"the plan preview renderer exited {status} on the update fixture")
    log(f"wrote {example.relative_to(ROOT)}")


def scenarios(zips: Path, stream_arn: str) -> list[tuple[str, list[str], bool]]:
    """(name, -var arguments, apply afterwards) of every fixture, in recording order."""
    v1 = ["-var-file=envs/local.tfvars", f"-var=artifacts_dir={zips}"]
    with_stream = [*v1, f"-var=incidents_stream_arn={stream_arn}"]
    throttled = [*with_stream, '-var=throttling={"burst_limit":250,"rate_limit":500}']
    # The same roles in another order (each must keep its view: role_views' validations), which
    # still changes the functions' ALLOWED_ROLES.
    roles = '-var=allowed_roles=["viewer","supervisor","responder","dispatcher"]'
    return [
        ("create", with_stream, True),
        ("no_changes", with_stream, False),
        ("update", throttled, False),  # with the changed notifier.zip, see record()
        ("replace", [*with_stream, "-var=stage_name=live"], False),
        ("sensitive", [*with_stream, roles], False),
        ("destroy", v1, False),
    ]


def record(workdir: Path, port: int) -> None:
    """Record every scenario into FIXTURES (and the README example) from ``workdir``."""
    with emulator.private(workdir / "emulator", port) as emu:
        copy_root_module(ROOT, workdir / "stack", FIXTURE_FILES)
        zips = workdir / "zips"
        copy_zips(ROOT / "build", zips, workdir / "notifier-changed.zip")
        stream_arn = resources.ensure_incidents_table(clients.dynamodb(emu.endpoint), [])
        env = terraform.terraform_env(os.environ, emu.sdk_env(), workdir / "tfdata")
        recorder = Recorder(workdir, env)
        recorder.terraform("init", "-input=false", "-no-color")
        replacements = {
            str(zips): f"{STABLE_STACK_DIR}/build",
            str(workdir / "stack"): STABLE_STACK_DIR,
            str(workdir): "/tmp/plan",  # noqa: S108 - a stable name in the fixtures, not a path used
        }

        def scrubber(text: str) -> str:
            return scrub(text, replacements, port)

        original = zips / "notifier.zip"
        kept = workdir / "notifier-original.zip"
        shutil.copy2(original, kept)
        for name, variables, apply in scenarios(zips, stream_arn):
            shutil.copy2(workdir / "notifier-changed.zip" if name == "update" else kept, original)
            document, text = recorder.plan(name, variables, apply=apply)
            write_fixture(FIXTURES, name, document, text, scrubber)
        write_example(FIXTURES, EXAMPLE)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.plan_preview.record", description=(__doc__ or "").splitlines()[0]
    )
    default_port = int(os.environ.get("PREVIEW_EMULATOR_PORT", DEFAULT_PORT))
    parser.add_argument("--port", type=int, default=default_port)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="plan-preview-fixtures-"))
    log(f"working in {workdir}")
    try:
        record(workdir, args.port)
    except (RecordError, emulator.EmulatorError, terraform.TerraformError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
