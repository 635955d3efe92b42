"""Bytecode in the zips: compiled by the target's CPython, reproducible, and really used."""

from __future__ import annotations

import json
import marshal
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from types import CodeType
from typing import Any

import pytest

from tools import build as building
from tools.build import BuildError, Target, bytecode, cli
from tools.paths import ROOT

pytestmark = pytest.mark.packaging

FUNCTIONS = ROOT / "functions"
CACHE = ROOT / ".cache" / "build"
HOST = f"{sys.version_info.major}.{sys.version_info.minor}"  # 3.11 here: a valid Lambda target
NOTIFIER = next(a for a in building.ARTIFACTS if a.name == "notifier")


def own_sources() -> list[tuple[str, Path]]:
    return sorted(
        (path.relative_to(FUNCTIONS).as_posix(), path) for path in FUNCTIONS.rglob("*.py")
    )


def unmarshal(pyc: bytes) -> CodeType:
    code = marshal.loads(pyc[16:])  # noqa: S302 -- the build's own output, after the header
    assert isinstance(code, CodeType)
    return code


def code_shape(code: CodeType) -> tuple[Any, ...]:
    """Everything of a code object that the interpreter runs or reports, recursively."""
    consts = tuple(
        code_shape(c) if isinstance(c, CodeType) else (type(c).__name__, repr(c))
        for c in code.co_consts
    )
    return (
        code.co_code,
        code.co_names,
        code.co_varnames,
        code.co_freevars,
        code.co_cellvars,
        code.co_filename,
        code.co_qualname,
        code.co_firstlineno,
        code.co_linetable,
        code.co_exceptiontable,
        code.co_flags,
        code.co_stacksize,
        consts,
    )


def test_the_pyc_are_unchecked_hash_based_and_name_the_lambda_path(tmp_path: Path) -> None:
    compiler = bytecode.find_compiler(HOST, CACHE, "native")
    compiled = dict(bytecode.compile_files(compiler, own_sources(), tmp_path))
    data = compiled[f"__pycache__/broadcaster.cpython-{HOST.replace('.', '')}.pyc"]
    from importlib.util import MAGIC_NUMBER  # noqa: PLC0415

    assert data[:4] == MAGIC_NUMBER
    flags = int.from_bytes(data[4:8], "little")
    assert flags == 0b01  # hash based, unchecked (PEP 552): no mtime in the file
    code = unmarshal(data)
    assert code.co_filename == "/var/task/broadcaster.py"


def test_compiling_twice_with_fresh_caches_gives_the_same_bytes(tmp_path: Path) -> None:
    compiler = bytecode.find_compiler(HOST, CACHE, "native")
    first = bytecode.compile_files(compiler, own_sources(), tmp_path / "a")
    second = bytecode.compile_files(compiler, own_sources(), tmp_path / "b")
    assert first == second
    assert len(first) == len(own_sources())


def test_a_changed_source_changes_only_its_own_pyc(tmp_path: Path) -> None:
    compiler = bytecode.find_compiler(HOST, CACHE, "native")
    copy = tmp_path / "functions"
    shutil.copytree(FUNCTIONS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = dict(bytecode.compile_files(compiler, own_sources(), tmp_path / "cache"))
    with (copy / "notifier.py").open("a") as handle:
        handle.write("\nCHANGED = True\n")
    changed = sorted((p.relative_to(copy).as_posix(), p) for p in copy.rglob("*.py"))
    after = dict(bytecode.compile_files(compiler, changed, tmp_path / "cache"))
    tag = HOST.replace(".", "")
    assert {n for n in before if before[n] != after[n]} == {
        f"__pycache__/notifier.cpython-{tag}.pyc"
    }


def test_pyodides_cpython_compiles_what_a_native_cpython_compiles(tmp_path: Path) -> None:
    """The reason Pyodide may compile for 3.12/3.13 here: for the version we can run natively,
    its CPython (WebAssembly, another patch release) gives the same code objects."""
    native = bytecode.find_compiler(HOST, CACHE, "native")
    pyodide = bytecode.find_compiler(HOST, CACHE, "pyodide")
    assert "Pyodide" in pyodide.description
    sources = own_sources()
    ours = bytecode.compile_files(native, sources, tmp_path / "native")
    theirs = bytecode.compile_files(pyodide, sources, tmp_path / "pyodide")
    assert [n for n, _ in ours] == [n for n, _ in theirs]
    for (name, mine), (_, other) in zip(ours, theirs, strict=True):
        assert mine[:16] == other[:16], name  # magic number, flags, source hash
        assert code_shape(unmarshal(mine)) == code_shape(unmarshal(other)), name


def test_the_pyc_is_what_runs_not_the_source(
    lambda_python: Callable[..., Any], tmp_path: Path
) -> None:
    """Import from an extracted zip whose sources were then broken: with unchecked-hash .pyc
    Python never reads them, exactly as on Lambda's read-only /var/task."""
    target = Target("x86_64", HOST)
    compiler = bytecode.find_compiler(HOST, CACHE, "native")
    out = tmp_path / "out"
    building.build(
        out,
        source_dir=FUNCTIONS,
        target=target,
        cache=CACHE,
        compiler=compiler,
        artifacts=[NOTIFIER],
    )
    task = tmp_path / "task"
    with zipfile.ZipFile(out / "notifier.zip") as archive:
        archive.extractall(task)
    for source in ("notifier.py", "aws_lambda_powertools/__init__.py"):
        (task / source).write_text("raise SystemExit('compiled from source')\n")
    task.chmod(0o555)  # like /var/task: nothing can be written next to the sources
    probe = (
        "import json, notifier, aws_lambda_powertools\n"
        "print(json.dumps({m.__name__: m.__cached__ for m in (notifier, aws_lambda_powertools)}))"
    )
    try:
        result = lambda_python(probe, task)
    finally:
        task.chmod(0o755)
    assert result.returncode == 0, result.stderr
    cached = json.loads(result.stdout)
    tag = HOST.replace(".", "")
    assert cached["notifier"] == f"{task}/__pycache__/notifier.cpython-{tag}.pyc"


def test_no_compiler_for_the_target_is_a_clear_error(tmp_path: Path) -> None:
    def nothing(name: str) -> str | None:
        return None

    with pytest.raises(BuildError, match=r"CPython 3\.12: install python3\.12 on PATH") as error:
        bytecode.find_compiler("3.12", tmp_path, "native", which=nothing)
    assert "--no-bytecode" in str(error.value)
    with pytest.raises(BuildError, match="node and npm"):
        bytecode.find_compiler("3.12", tmp_path, "pyodide", which=nothing)
    with pytest.raises(BuildError, match=r"python3\.12 on PATH, or node and npm"):
        bytecode.find_compiler("3.12", tmp_path, "auto", which=nothing)


def test_a_native_interpreter_of_another_version_is_not_taken(tmp_path: Path) -> None:
    # python3.13 on PATH that is really this 3.11 must not compile 3.13 bytecode
    def liar(name: str) -> str | None:
        return sys.executable if name == "python3.13" else None

    with pytest.raises(BuildError, match=r"CPython 3\.13"):
        bytecode.find_compiler("3.13", tmp_path, "native", which=liar)


def test_the_cli_fails_clearly_when_bytecode_cannot_be_compiled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no node, no npm, no python3.13
    code = cli.main(
        ["--python", "3.13", "--out", str(tmp_path / "out"), "--cache", str(tmp_path)],
        environ={},
    )
    assert code == 1
    assert "build failed: bytecode for Python 3.13 must be compiled by CPython 3.13" in (
        capsys.readouterr().err
    )
    assert not (tmp_path / "out").exists()


def test_the_cli_builds_without_bytecode_when_told(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = cli.main(["--out", str(out), "--cache", str(CACHE)], environ={"LAMBDA_BYTECODE": "0"})
    assert code == 0, capsys.readouterr().err
    assert "no bytecode" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["bytecode"] is None
    for name in manifest["artifacts"]:
        with zipfile.ZipFile(out / f"{name}.zip") as archive:
            assert not [n for n in archive.namelist() if n.endswith(".pyc")]


def test_cpython_312_runs_the_shipped_bytecode(
    built: tuple[Path, list[Any]], tmp_path: Path
) -> None:
    """The zips' .cpython-312.pyc in CPython 3.12 itself (Pyodide's; the host has 3.11): with the
    sources broken, the logger module and Powertools still import and a Logger is made."""
    out, _ = built
    task = tmp_path / "task"
    with zipfile.ZipFile(out / "notifier.zip") as archive:
        archive.extractall(task)
    for source in (
        "aws_lambda_powertools/__init__.py",
        "aws_lambda_powertools/logging/logger.py",
        "realtime_common/config.py",
        "realtime_common/logs.py",
        "typing_extensions.py",
    ):
        (task / source).write_text("raise SystemExit('compiled from source')\n")
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import json, sys\n"
        "sys.dont_write_bytecode = True\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "import aws_lambda_powertools, realtime_common.logs\n"
        "logger = realtime_common.logs.make_logger()\n"
        "print(json.dumps({'version': list(sys.version_info[:2]),\n"
        "  'logger': type(logger).__name__, 'cached': realtime_common.logs.__cached__}))\n"
    )
    compiler = bytecode.find_compiler("3.12", CACHE, "pyodide")
    # Fixed argv: node and the runner the build uses, files this test wrote.
    result = subprocess.run(  # noqa: S603
        [*compiler.command, str(probe), str(task)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["version"] == [3, 12]
    assert report["logger"] == "Logger"
    assert report["cached"].endswith("/realtime_common/__pycache__/logs.cpython-312.pyc")
