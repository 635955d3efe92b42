"""The Lambda zips: reproducible, minimal, vendored for the Lambda platform, and importable from
the zip itself in a clean interpreter (test what ships)."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "build"  # shared with `make build`: wheels are downloaded once


def _load_build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("realtime_build", ROOT / "scripts" / "build.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


build = _load_build_script()
NAMES = ["connection_manager", "broadcaster", "notifier"]


def hashes(results: list[Any]) -> dict[str, str]:
    return {r.artifact.name: r.sha256 for r in results}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any]]:
    out = tmp_path_factory.mktemp("build-a")
    return out, build.build(out, cache=CACHE)


def test_every_artifact_of_the_contract_is_built(built: tuple[Path, list[Any]]) -> None:
    out, results = built
    assert [r.artifact.name for r in results] == NAMES
    for name in NAMES:
        assert (out / f"{name}.zip").is_file()


def test_builds_are_byte_for_byte_reproducible(
    built: tuple[Path, list[Any]], tmp_path: Path
) -> None:
    out, first = built
    second = build.build(tmp_path, cache=CACHE)
    assert hashes(first) == hashes(second)
    for name in NAMES:
        assert (out / f"{name}.zip").read_bytes() == (tmp_path / f"{name}.zip").read_bytes()
    assert (out / "manifest.json").read_text() == (tmp_path / "manifest.json").read_text()


def test_zip_entries_are_normalised(built: tuple[Path, list[Any]]) -> None:
    out, _ = built
    for name in NAMES:
        with zipfile.ZipFile(out / f"{name}.zip") as archive:
            infos = archive.infolist()
        names = [i.filename for i in infos]
        assert names == sorted(names)
        for info in infos:
            assert info.date_time == (1980, 1, 1, 0, 0, 0), info.filename
            assert info.external_attr >> 16 == 0o100644, info.filename
            assert "__pycache__" not in info.filename
            assert not info.filename.endswith((".pyc", ".pyo"))
            assert not info.filename.startswith("bin/")
            if ".dist-info/" in info.filename:
                assert info.filename.rsplit("/", 1)[1] not in {
                    "RECORD",
                    "INSTALLER",
                    "REQUESTED",
                    "direct_url.json",
                }


def test_each_zip_holds_only_what_its_function_needs(built: tuple[Path, list[Any]]) -> None:
    out, _ = built

    def ours(name: str) -> set[str]:
        with zipfile.ZipFile(out / f"{name}.zip") as archive:
            return {
                n
                for n in archive.namelist()
                if "/" not in n or n.startswith("realtime_common/")
                if not n.startswith("typing_extensions")
            }

    common = {
        "realtime_common/__init__.py",
        "realtime_common/aws.py",
        "realtime_common/config.py",
        "realtime_common/logs.py",
        "realtime_common/metrics.py",
    }
    connections = "realtime_common/connections.py"
    assert ours("connection_manager") == {"connection_manager.py", connections, *common}
    fanout = {
        f"realtime_common/fanout/{module}.py"
        for module in (
            "__init__",
            "config",
            "engine",
            "frames",
            "rate",
            "schedule",
            "sigv4",
            "table",
            "workers",
        )
    }
    assert ours("broadcaster") == {
        "broadcaster.py",
        "fanout_worker.py",
        connections,
        "realtime_common/stream.py",
        *common,
        *fanout,
    }
    assert ours("notifier") == {"notifier.py", "realtime_common/stream.py", *common}
    for name in NAMES:
        with zipfile.ZipFile(out / f"{name}.zip") as archive:
            tops = {n.split("/", 1)[0] for n in archive.namelist()}
        assert "aws_lambda_powertools" in tops
        assert not {"boto3", "botocore", "s3transfer"} & tops  # the runtime provides them


def test_manifest_matches_the_files(built: tuple[Path, list[Any]]) -> None:
    out, _ = built
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["lambda_architecture"] == "x86_64"
    assert manifest["lambda_python"] == "3.12"
    for entry in manifest["artifacts"].values():
        data = (out / entry["file"]).read_bytes()
        digest = hashlib.sha256(data).digest()
        assert entry["sha256"] == digest.hex()
        assert entry["base64sha256"] == base64.b64encode(digest).decode()  # filebase64sha256
        assert entry["size"] == len(data)
    assert manifest["artifacts"]["connection_manager"]["handlers"] == [
        "connection_manager.on_connect",
        "connection_manager.on_disconnect",
    ]


# A Lambda-like interpreter: no site-packages, the task directory first, then only what the
# Python runtime ships besides the standard library.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "dateutil", "urllib3", "six.py", "jmespath")
PROBE = r"""
import importlib, json, sys
task, runtime, handlers = sys.argv[1], sys.argv[2], sys.argv[3:]
sys.path[:0] = [task, runtime]

class Context:
    function_name = "probe"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:probe"
    aws_request_id = "probe"
    def get_remaining_time_in_millis(self):
        return 3000

report = {}
for handler in handlers:
    module_name, attr = handler.rsplit(".", 1)
    function = getattr(importlib.import_module(module_name), attr)
    try:
        function({"Records": [], "requestContext": {"connectionId": "x"}}, Context())
        outcome = "returned"
    except Exception as error:  # the environment is empty on purpose
        outcome = f"{type(error).__name__}: {error}"
    report[handler] = outcome
report["files"] = {
    name: sys.modules[name].__file__
    for name in ("aws_lambda_powertools", "typing_extensions", "realtime_common", "boto3")
    if name in sys.modules
}
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def runtime_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = Path(boto3.__file__).resolve().parent.parent
    runtime = tmp_path_factory.mktemp("lambda-runtime")
    for name in RUNTIME_PACKAGES:
        (runtime / name).symlink_to(site / name)
    return runtime


@pytest.mark.parametrize(
    ("name", "missing"),
    [
        ("connection_manager", "CONNECTIONS_TABLE"),
        ("broadcaster", "WS_CALLBACK_URL"),
        ("notifier", "SNS_TOPIC_ARN"),
    ],
)
def test_handlers_import_and_run_from_their_own_zip(
    built: tuple[Path, list[Any]], runtime_dir: Path, tmp_path: Path, name: str, missing: str
) -> None:
    out, results = built
    (artifact,) = [r.artifact for r in results if r.artifact.name == name]
    task = tmp_path / "task"
    with zipfile.ZipFile(out / f"{name}.zip") as archive:
        archive.extractall(task)
    env = {"PATH": os.environ.get("PATH", ""), "AWS_REGION": "us-east-1", "LANG": "C.UTF-8"}
    # Fixed argv: this interpreter, the probe above, paths the test created.
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-I", "-S", "-c", PROBE, str(task), str(runtime_dir), *artifact.handlers],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    files = report.pop("files")
    for module in ("aws_lambda_powertools", "typing_extensions", "realtime_common"):
        assert files[module].startswith(str(task)), (module, files[module])
    assert files["boto3"].startswith(str(runtime_dir))
    assert set(report) == set(artifact.handlers)
    for outcome in report.values():
        # the handler really ran: it validated its configuration and named what is missing
        assert outcome.startswith("ConfigError") and missing in outcome, outcome


def _copy_sources(tmp_path: Path) -> Path:
    source = tmp_path / "functions"
    shutil.copytree(
        ROOT / "functions", source, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    return source


@pytest.mark.parametrize(
    ("changed_file", "changed_zips"),
    [
        ("broadcaster.py", {"broadcaster"}),
        ("notifier.py", {"notifier"}),
        ("connection_manager.py", {"connection_manager"}),
        ("realtime_common/stream.py", {"broadcaster", "notifier"}),
        ("realtime_common/config.py", set(NAMES)),
    ],
)
def test_a_change_only_moves_the_hashes_of_zips_that_carry_it(
    built: tuple[Path, list[Any]], tmp_path: Path, changed_file: str, changed_zips: set[str]
) -> None:
    _, baseline = built
    source = _copy_sources(tmp_path)
    with (source / changed_file).open("a") as handle:
        handle.write("\n# a change\n")
    changed = build.build(tmp_path / "out", source_dir=source, cache=CACHE)
    before, after = hashes(baseline), hashes(changed)
    assert {name for name in NAMES if before[name] != after[name]} == changed_zips


def test_vendoring_targets_the_lambda_platform_not_the_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands: list[list[str]] = []

    def record(command: list[str]) -> None:
        commands.append(list(command))
        if "--target" in command:
            Path(command[command.index("--target") + 1]).mkdir(parents=True, exist_ok=True)

    monkeypatch.setattr(build, "_run", record)
    build.vendor_tree(ROOT / "functions" / "requirements.txt", "arm64", "3.13", tmp_path)
    download, install = commands
    for command in (download, install):
        joined = " ".join(command)
        assert "--platform manylinux2014_aarch64" in joined
        assert "--python-version 3.13" in joined
        assert "--implementation cp" in joined
        assert "--only-binary=:all:" in command
        assert "--require-hashes" in command
    assert "download" in download
    assert "--target" in install
    assert "--no-index" in install  # installs only what was downloaded into the cache
    assert "--no-compile" in install


@pytest.mark.parametrize(
    ("arch", "python"), [("x86", "3.12"), ("arm64", "3.9"), ("x86_64", "python3.12")]
)
def test_bad_platform_settings_are_refused(tmp_path: Path, arch: str, python: str) -> None:
    with pytest.raises(build.BuildError, match="LAMBDA_"):
        build.build(tmp_path, arch=arch, python_version=python, cache=CACHE)


def test_requirements_are_hash_pinned_and_match_the_dev_pin() -> None:
    lines = (ROOT / "functions" / "requirements.txt").read_text()
    pins = [line.split(" ")[0] for line in lines.splitlines() if "==" in line]
    assert pins
    assert not [p for p in pins if p.startswith(("boto3==", "botocore=="))]  # runtime has them
    assert lines.count("--hash=sha256:") == len(pins)
    powertools = next(p for p in pins if p.startswith("aws-lambda-powertools=="))
    assert powertools in (ROOT / "requirements-dev.txt").read_text()
