"""The Lambda zips: reproducible, minimal, vendored per function for the Lambda platform, and
importable from the zip itself in a clean interpreter (test what ships)."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import uuid
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from tools.build import ARTIFACTS, BuildError, BuildResult, Target, build, find_compiler, zipcache
from tools.build import vendor as vendoring
from tools.paths import ROOT

pytestmark = pytest.mark.packaging

FUNCTIONS = ROOT / "functions"
CACHE = ROOT / ".cache" / "build"  # shared with `make build` and conftest.built
NAMES = ["authorizer", "connection_manager", "broadcaster", "notifier"]
DEFAULT = Target("x86_64", "3.12")  # what `make build` builds
Built = tuple[Path, list[BuildResult]]


def extract(zip_path: Path, destination: Path) -> Path:
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(destination)
    return destination


def hashes(results: list[BuildResult]) -> dict[str, str]:
    return {r.artifact.name: r.sha256 for r in results}


def entries(out: Path, name: str) -> list[zipfile.ZipInfo]:
    with zipfile.ZipFile(out / f"{name}.zip") as archive:
        return archive.infolist()


def tops(out: Path, name: str) -> set[str]:
    return {i.filename.split("/", 1)[0] for i in entries(out, name)}


def test_every_artifact_of_the_contract_is_built(built: Built) -> None:
    out, results = built
    assert [r.artifact.name for r in results] == NAMES
    for name in NAMES:
        assert (out / f"{name}.zip").is_file()


def test_builds_are_byte_for_byte_reproducible(built: Built, tmp_path: Path) -> None:
    out, first = built
    compiler = find_compiler(DEFAULT.python, CACHE)
    # Every zip compressed afresh (reuse=False), not copied from the build cache.
    second = build(
        tmp_path, source_dir=FUNCTIONS, target=DEFAULT, cache=CACHE, compiler=compiler, reuse=False
    )
    assert not [r.artifact.name for r in second if r.reused]
    assert hashes(first) == hashes(second)
    for name in NAMES:
        assert (out / f"{name}.zip").read_bytes() == (tmp_path / f"{name}.zip").read_bytes()
    assert (out / "manifest.json").read_text() == (tmp_path / "manifest.json").read_text()


def test_zip_entries_are_normalised(built: Built) -> None:
    out, _ = built
    for name in NAMES:
        infos = entries(out, name)
        names = [i.filename for i in infos]
        assert names == sorted(names)
        for info in infos:
            assert info.date_time == (1980, 1, 1, 0, 0, 0), info.filename
            assert info.external_attr >> 16 == 0o100644, info.filename
            assert not info.filename.startswith("bin/")
            if ".dist-info/" in info.filename:
                assert info.filename.rsplit("/", 1)[1] not in {
                    "RECORD",
                    "INSTALLER",
                    "REQUESTED",
                    "direct_url.json",
                }


def test_every_module_ships_with_bytecode_for_the_target_python_only(built: Built) -> None:
    out, _ = built
    for name in NAMES:
        names = {i.filename for i in entries(out, name)}
        sources = {n for n in names if n.endswith(".py")}
        compiled = {n for n in names if "__pycache__/" in n}
        assert sources
        assert not {n for n in names if n.endswith(".pyo")}
        # exactly one .pyc per source, next to it, for CPython 3.12 alone
        expected = set()
        for source in sources:
            directory, _, file_name = source.rpartition("/")
            pyc = f"__pycache__/{file_name[:-3]}.cpython-312.pyc"
            expected.add(f"{directory}/{pyc}" if directory else pyc)
        assert compiled == expected


def test_each_zip_holds_only_what_its_function_needs(built: Built) -> None:
    out, _ = built

    def ours(name: str) -> set[str]:
        return {
            i.filename
            for i in entries(out, name)
            if i.filename.endswith(".py")
            if "/" not in i.filename or i.filename.startswith("realtime_common/")
            if not i.filename.startswith("typing_extensions")
            if "__pycache__/" not in i.filename
        }

    for artifact in ARTIFACTS:
        assert ours(artifact.name) == set(artifact.sources(FUNCTIONS))
    assert "realtime_common/stream.py" not in ours("connection_manager")  # nobody of it imports it
    aiohttp_and_deps = {"aiohttp", "multidict", "yarl", "frozenlist", "propcache", "aiosignal"}
    for name in NAMES:
        packages = tops(out, name)
        assert "aws_lambda_powertools" in packages
        assert not {"boto3", "botocore", "s3transfer"} & packages  # the runtime provides them
        if name == "broadcaster":
            assert aiohttp_and_deps <= packages
        else:  # each zip vendors its own requirements, not the union
            assert not aiohttp_and_deps & packages


def test_the_broadcaster_vendors_aiohttp_compiled_for_the_lambda_platform(built: Built) -> None:
    out, _ = built
    extensions = [i.filename for i in entries(out, "broadcaster") if i.filename.endswith(".so")]
    assert {e.split("/", 1)[0] for e in extensions} >= {"aiohttp", "multidict", "yarl"}
    for extension in extensions:
        assert extension.endswith(".cpython-312-x86_64-linux-gnu.so"), extension
    with zipfile.ZipFile(out / "broadcaster.zip") as archive:
        wheel = archive.read("aiohttp-3.14.5.dist-info/WHEEL").decode()
    assert "Tag: cp312-cp312-manylinux2014_x86_64" in wheel


def test_no_type_checker_or_stub_package_lands_in_a_zip(built: Built) -> None:
    out, _ = built
    for name in NAMES:
        for top in tops(out, name):
            lowered = top.lower().replace("-", "_")
            assert not lowered.startswith(("mypy", "types_", "boto3_stubs", "botocore_stubs"))
            assert "_stubs" not in lowered, top
            assert not lowered.endswith("_stubs"), top


def test_manifest_matches_the_files(built: Built) -> None:
    out, _ = built
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["lambda_architecture"] == "x86_64"
    assert manifest["lambda_python"] == "3.12"
    assert manifest["bytecode"] == "cpython-312"
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


PROBE = r"""
import importlib, json
handlers = sys.argv[3:]

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


@pytest.mark.parametrize(
    ("name", "missing"),
    [
        # Every module the authorizer imports (realtime_common.auth) must be in its zip.
        ("authorizer", "JWKS_URL"),
        ("connection_manager", "CONNECTIONS_TABLE"),
        # broadcaster.zip also carries sync.handler and subscribe.handler, which read their
        # connection row first: CONNECTIONS_TABLE is the first variable they name.
        ("broadcaster", "WS_CALLBACK_URL|CONNECTIONS_TABLE"),
        ("notifier", "SNS_TOPIC_ARN"),
    ],
)
def test_handlers_import_and_run_from_their_own_zip(
    built: Built,
    lambda_python: Callable[..., Any],
    runtime_dir: Path,
    tmp_path: Path,
    name: str,
    missing: str,
) -> None:
    out, results = built
    (artifact,) = [r.artifact for r in results if r.artifact.name == name]
    task = extract(out / f"{name}.zip", tmp_path / "task")
    result = lambda_python(PROBE, task, *artifact.handlers)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    files = report.pop("files")
    for module in ("aws_lambda_powertools", "typing_extensions", "realtime_common"):
        assert files[module].startswith(str(task)), (module, files[module])
    assert files["boto3"].startswith(str(runtime_dir))  # from the runtime, not from the zip
    assert set(report) == set(artifact.handlers)
    for outcome in report.values():
        # the handler really ran: it validated its configuration and named what is missing
        assert outcome.startswith("ConfigError"), outcome
        assert any(name in outcome for name in missing.split("|")), outcome


def test_the_broadcasters_aiohttp_imports_on_the_emulators_python(
    built: Built, lambda_python: Callable[..., Any], tmp_path: Path
) -> None:
    """The local emulator runs every Lambda on its own Python 3.11: the zip's C extensions are
    for 3.12 and do not load there, and aiohttp and its dependencies fall back to pure Python."""
    out, _ = built
    task = extract(out / "broadcaster.zip", tmp_path / "task")
    probe = (
        "import json, aiohttp, multidict, yarl, frozenlist, propcache\n"
        "from aiohttp import http_parser\n"
        "print(json.dumps({'version': aiohttp.__version__, 'file': aiohttp.__file__,\n"
        "  'multidict': multidict.MultiDict.__module__,\n"
        "  'parser': http_parser.HttpResponseParser.__module__,\n"
        "  'query': dict(yarl.URL('http://h/p?a=1').query)}))\n"
    )
    result = lambda_python(probe, task)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["version"] == "3.14.5"
    assert report["file"].startswith(str(task))
    assert report["multidict"] == "multidict._multidict_py"  # the pure-Python implementation
    assert report["parser"] == "aiohttp.http_parser"
    assert report["query"] == {"a": "1"}


def _copy_sources(tmp_path: Path) -> Path:
    source = tmp_path / "functions"
    shutil.copytree(FUNCTIONS, source, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return source


def test_a_module_a_handler_starts_importing_ships_in_its_zip_and_only_there(
    tmp_path: Path,
) -> None:
    """The zips' project modules come from the handlers' imports (tools.importgraph), not from a
    list: a new module reaches the zip of the handler that imports it (with the modules and
    packages it imports in turn, inside functions too); a module nobody imports ships nowhere."""
    source = _copy_sources(tmp_path)
    common = source / "realtime_common"
    (common / "extra").mkdir()
    (common / "extra" / "__init__.py").write_text("")
    (common / "extra" / "first.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from realtime_common import typed_only\n"
        "def later() -> None:\n    from . import second  # noqa: PLC0415\n"
    )
    (common / "extra" / "second.py").write_text("")
    (common / "typed_only.py").write_text("")
    (common / "orphan.py").write_text("")
    with (source / "notifier.py").open("a") as handle:
        handle.write("\nfrom realtime_common.extra import first  # noqa: E402\n")
    added = {
        "realtime_common/extra/__init__.py",
        "realtime_common/extra/first.py",
        "realtime_common/extra/second.py",
    }
    before = {a.name: set(a.sources(FUNCTIONS)) for a in ARTIFACTS}
    after = {a.name: set(a.sources(source)) for a in ARTIFACTS}
    assert after == {**before, "notifier": before["notifier"] | added}
    # and the zip itself carries them
    (notifier,) = [a for a in ARTIFACTS if a.name == "notifier"]
    (result,) = build(
        tmp_path / "out", source_dir=source, target=DEFAULT, cache=CACHE, artifacts=[notifier]
    )
    with zipfile.ZipFile(result.path) as archive:
        shipped = set(archive.namelist())
    assert added <= shipped
    assert not {"realtime_common/orphan.py", "realtime_common/typed_only.py"} & shipped


def test_an_import_of_a_missing_project_module_fails_the_build_with_its_place(
    tmp_path: Path,
) -> None:
    source = _copy_sources(tmp_path)
    with (source / "notifier.py").open("a") as handle:
        handle.write("\nfrom realtime_common.nowhere import thing  # noqa: E402\n")
    with pytest.raises(
        BuildError, match=r"notifier: .*notifier\.py:\d+: imports realtime_common\.nowhere"
    ):
        build(tmp_path / "out", source_dir=source, target=DEFAULT, cache=CACHE)


def test_a_missing_handler_module_is_named(tmp_path: Path) -> None:
    source = _copy_sources(tmp_path)
    (source / "notifier.py").unlink()
    with pytest.raises(BuildError, match=r"notifier: handler module notifier has no source file"):
        build(tmp_path / "out", source_dir=source, target=DEFAULT, cache=CACHE)


@pytest.mark.parametrize(
    ("changed_file", "changed_zips"),
    [
        ("broadcaster.py", {"broadcaster"}),
        ("notifier.py", {"notifier"}),
        ("connection_manager.py", {"connection_manager"}),
        ("authorizer.py", {"authorizer"}),
        ("realtime_common/stream.py", {"broadcaster", "notifier"}),
        ("realtime_common/config.py", set(NAMES)),
    ],
)
def test_a_change_only_moves_the_hashes_of_zips_that_carry_it(
    tmp_path: Path, changed_file: str, changed_zips: set[str]
) -> None:
    # Without bytecode: which zips carry which source does not depend on it (the bytecode test
    # shows a changed source changes its .pyc), and each case would otherwise start a compiler.
    baseline = build(tmp_path / "a", source_dir=FUNCTIONS, target=DEFAULT, cache=CACHE)
    source = _copy_sources(tmp_path)
    with (source / changed_file).open("a") as handle:
        handle.write("\n# a change\n")
    changed = build(tmp_path / "b", source_dir=source, target=DEFAULT, cache=CACHE)
    before, after = hashes(baseline), hashes(changed)
    assert {name for name in NAMES if before[name] != after[name]} == changed_zips


def test_a_changed_source_rebuilds_its_zip_and_an_unchanged_zip_is_reused(tmp_path: Path) -> None:
    """The build cache (tools.build.zipcache) copies a zip whose entries did not change instead of
    compressing it again: an edited source must give a freshly built zip that carries the edit,
    which the next build then reuses, while the zips without that source are reused as they were."""
    source = _copy_sources(tmp_path)
    first = build(tmp_path / "a", source_dir=source, target=DEFAULT, cache=CACHE)
    edited = (source / "notifier.py").read_bytes() + f"\n# edit {uuid.uuid4().hex}\n".encode()
    (source / "notifier.py").write_bytes(edited)  # never built before: not in any cache

    second = build(tmp_path / "b", source_dir=source, target=DEFAULT, cache=CACHE)
    assert [r.artifact.name for r in second if not r.reused] == ["notifier"]
    with zipfile.ZipFile(tmp_path / "b" / "notifier.zip") as archive:
        assert archive.read("notifier.py") == edited
    before, after = hashes(first), hashes(second)
    assert before["notifier"] != after["notifier"]
    assert {name: after[name] for name in NAMES if name != "notifier"} == {
        name: before[name] for name in NAMES if name != "notifier"
    }

    third = build(tmp_path / "c", source_dir=source, target=DEFAULT, cache=CACHE)
    assert all(r.reused for r in third)
    assert hashes(third) == after
    for name in NAMES:
        assert (tmp_path / "c" / f"{name}.zip").read_bytes() == (
            tmp_path / "b" / f"{name}.zip"
        ).read_bytes()


def test_the_zip_cache_key_covers_every_name_and_content() -> None:
    entries: list[tuple[str, Path | bytes]] = [("a.py", b"x = 1\n"), ("b/c.py", b"y = 2\n")]
    key = zipcache.key(entries)
    assert zipcache.key(list(reversed(entries))) == key  # the zip sorts its entries
    for changed in (
        [("a.py", b"x = 1\n"), ("b/d.py", b"y = 2\n")],  # a renamed file
        [("a.py", b"x = 1\n"), ("b/c.py", b"y = 3\n")],  # a changed file
        [("a.py", b"x = 1\n")],  # a removed file
        [*entries, ("e.py", b"")],  # an added empty file
    ):
        assert zipcache.key(changed) != key, changed


def test_vendoring_targets_the_lambda_platform_not_the_host(tmp_path: Path) -> None:
    commands: list[list[str]] = []

    def record(command: Sequence[str]) -> None:
        commands.append(list(command))
        if "--target" in command:
            Path(command[command.index("--target") + 1]).mkdir(parents=True, exist_ok=True)

    requirements = FUNCTIONS / "requirements" / "broadcaster.txt"
    vendoring.vendor_tree(requirements, Target("arm64", "3.13"), tmp_path, record)
    download, install = commands
    for command in (download, install):
        joined = " ".join(command)
        assert "--platform manylinux2014_aarch64" in joined
        assert "--python-version 3.13" in joined
        assert "--implementation cp" in joined
        assert "--only-binary=:all:" in command
        assert "--require-hashes" in command
        assert f"-r {requirements}" in joined
    assert "download" in download
    assert "--target" in install
    assert "--no-index" in install  # installs only what was downloaded into the cache
    assert "--no-compile" in install  # bytecode comes from the target's Python, not pip's


def test_each_artifact_is_vendored_from_its_own_requirements(tmp_path: Path) -> None:
    used: list[str] = []

    def record(command: Sequence[str]) -> None:
        used.append(command[command.index("-r") + 1])
        if "--target" in command:
            Path(command[command.index("--target") + 1]).mkdir(parents=True, exist_ok=True)

    build(tmp_path / "out", source_dir=FUNCTIONS, target=DEFAULT, cache=tmp_path, runner=record)
    assert sorted(set(used)) == sorted(
        str(FUNCTIONS / "requirements" / f"{name}.txt") for name in NAMES
    )


@pytest.mark.parametrize(
    ("arch", "python"), [("x86", "3.12"), ("arm64", "3.9"), ("x86_64", "python3.12")]
)
def test_bad_platform_settings_are_refused(arch: str, python: str) -> None:
    with pytest.raises(BuildError, match="LAMBDA_"):
        Target(arch, python)


def test_a_missing_requirements_file_is_named(tmp_path: Path) -> None:
    source = _copy_sources(tmp_path)
    (source / "requirements" / "notifier.txt").unlink()
    with pytest.raises(BuildError, match=r"notifier: requirements file .*notifier\.txt"):
        build(tmp_path / "out", source_dir=source, target=DEFAULT, cache=CACHE)


def test_the_artifact_list_matches_the_contract() -> None:
    assert [a.name for a in ARTIFACTS] == NAMES
    for artifact in ARTIFACTS:
        assert (FUNCTIONS / artifact.requirements).is_file()
    assert not (ROOT / "functions" / "requirements.txt").exists()  # one file per artifact now


@pytest.mark.parametrize(
    ("arch", "python", "suffix"),
    [
        ("arm64", "3.12", ".cpython-312-aarch64-linux-gnu.so"),
        ("x86_64", "3.13", ".cpython-313-x86_64-linux-gnu.so"),
        ("arm64", "3.13", ".cpython-313-aarch64-linux-gnu.so"),
    ],
)
def test_the_broadcaster_lock_installs_on_every_lambda_platform(
    tmp_path: Path, arch: str, python: str, suffix: str
) -> None:
    """pip --require-hashes refuses any wheel whose hash the lock lacks: building for each
    architecture and Python proves the lock covers the wheels pip picks there."""
    broadcaster = [a for a in ARTIFACTS if a.name == "broadcaster"]
    (result,) = build(
        tmp_path,
        source_dir=FUNCTIONS,
        target=Target(arch, python),
        cache=CACHE,
        artifacts=broadcaster,
    )
    with zipfile.ZipFile(result.path) as archive:
        extensions = [n for n in archive.namelist() if n.endswith(".so")]
    assert {e.split("/", 1)[0] for e in extensions} >= {"aiohttp", "multidict", "yarl"}
    assert all(e.endswith(suffix) for e in extensions), extensions
