"""Precompiled bytecode (``__pycache__/<mod>.cpython-3XX.pyc``) for the zips.

Lambda's code directory (``/var/task``) is read-only: Python cannot write ``__pycache__`` there,
so modules shipped without ``.pyc`` are compiled from source on every cold start. Bytecode is
specific to a Python minor version, so it must be compiled by the target's CPython, not by the
build host's. Two ways to get one:

- **Pyodide** (preferred when ``node`` and ``npm`` are on PATH): the ``pyodide`` npm package ships
  CPython compiled to WebAssembly; the release for each Python version is pinned below with the
  tarball's sha512, so every machine compiles with the same CPython and gets the same bytes.
  CPython's compiler does not depend on the machine: Pyodide's CPython 3.11.3 and a native
  CPython 3.11.7 compile every file of our zips to the same code objects (the packaging tests
  check this), byte for byte but for one file of 458, where ``marshal``'s reference flags differ
  between those two patch releases. Pinning the release is what keeps the zips' bytes equal on
  every machine.
- **A native interpreter**: the build's own Python when its version is the target's, else
  ``python3.X`` on PATH.

The ``.pyc`` are unchecked-hash based (PEP 552, no source mtime in them: reproducible) and record
``/var/task/<path>`` as their file, where Lambda would have compiled them itself. Compiled files
are cached under the build cache by compiler, path and source content.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tools.build.errors import BuildError
from tools.build.locks import exclusive

HERE = Path(__file__).resolve().parent
COMPILE_SCRIPT = HERE / "compile_pyc.py"
PYODIDE_RUNNER = HERE / "pyodide_run.mjs"
TASK_ROOT = "/var/task"  # Lambda's code directory: the file name recorded in the code objects


@dataclass(frozen=True)
class PyodideRelease:
    version: str  # of the npm package
    cpython: str  # the CPython it ships
    integrity: str  # npm's dist.integrity of the tarball


PYODIDE = {
    "3.11": PyodideRelease(
        "0.25.1",
        "3.11.3",
        "sha512-y0nJ/fLA3bxD2iZRzvVTbP2O+wp4Ewm2wThfV4HF0BytQ6hsoqTJFLNY4usLOcCVBrK8TTWqFqrmsVPzHe4rsw==",
    ),
    "3.12": PyodideRelease(
        "0.27.7",
        "3.12.7",
        "sha512-RUSVJlhQdfWfgO9hVHCiXoG+nVZQRS5D9FzgpLJ/VcgGBLSAKoPL8kTiOikxbHQm1kRISeWUBdulEgO26qpSRA==",
    ),
    "3.13": PyodideRelease(
        "0.29.5",
        "3.13.2",
        "sha512-TkYrUv9m8QmfImADKRmpwZulL48E0uUaBSO+dvRQKyAJc0qh9gu7jn8btyHPh3NZm1r2IH2YrJhIr7Q2B9urAw==",
    ),
}

COMPILERS = ("auto", "pyodide", "native")


@dataclass(frozen=True)
class Compiler:
    """A CPython of the target version; ``command`` runs a script in it: ``[*command, script,
    *args]``."""

    python: str
    command: tuple[str, ...]
    description: str

    def run(self, script: Path, args: Sequence[str]) -> None:
        command = [*self.command, str(script), *args]
        # Fixed argv: an interpreter (or node) this module found, a script shipped beside it.
        result = subprocess.run(command, check=False, capture_output=True, text=True)  # noqa: S603
        if result.returncode != 0:
            raise BuildError(
                f"compiling bytecode with {self.description} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}"
            )


Which = Callable[[str], str | None]


def find_compiler(
    python: str, cache: Path, kind: str = "auto", which: Which = shutil.which
) -> Compiler:
    """A compiler for Python ``python`` (``3.12``), or a :class:`BuildError` saying what to
    install. ``kind``: ``pyodide``, ``native`` or ``auto`` (Pyodide when node and npm are on PATH,
    else a native interpreter)."""
    if kind not in COMPILERS:
        raise BuildError(f"bytecode compiler {kind!r}: expected one of {', '.join(COMPILERS)}")
    node, npm = which("node"), which("npm")
    if kind in {"auto", "pyodide"} and python in PYODIDE and node and npm:
        release = PYODIDE[python]
        directory = install_pyodide(release, cache / "pyodide", npm)
        return Compiler(
            python,
            (node, str(PYODIDE_RUNNER), str(directory)),
            f"Pyodide {release.version} (CPython {release.cpython}) under node",
        )
    if kind in {"auto", "native"}:
        native = _native_interpreter(python, which)
        if native:
            return Compiler(python, (native, "-I"), f"{native} (CPython {python})")
    wanted = {
        "auto": f"python{python} on PATH, or node and npm (for Pyodide)",
        "native": f"python{python} on PATH",
        "pyodide": "node and npm on PATH"
        + ("" if python in PYODIDE else f", and a Pyodide release for Python {python}"),
    }[kind]
    raise BuildError(
        f"bytecode for Python {python} must be compiled by CPython {python}: install {wanted}, "
        "or build without bytecode (--no-bytecode, LAMBDA_BYTECODE=0)"
    )


def _native_interpreter(python: str, which: Which) -> str | None:
    if f"{sys.version_info.major}.{sys.version_info.minor}" == python:
        return sys.executable
    candidate = which(f"python{python}")
    if candidate is None:
        return None
    probe = "import sys; print('%d.%d' % sys.version_info[:2])"
    # Fixed argv: the interpreter PATH named python3.X, a constant probe.
    result = subprocess.run(  # noqa: S603
        [candidate, "-I", "-c", probe], check=False, capture_output=True, text=True
    )
    return candidate if result.returncode == 0 and result.stdout.strip() == python else None


def install_pyodide(release: PyodideRelease, cache: Path, npm: str) -> Path:
    """The unpacked npm package of ``release``, downloaded once and checked against its pin."""
    directory = cache / release.version
    if (directory / ".complete").is_file():
        return directory / "package"
    with exclusive(cache / f"{release.version}.lock"):  # one build at a time downloads it
        if not (directory / ".complete").is_file():
            _unpack_pyodide(release, cache, npm, directory)
    return directory / "package"


def _unpack_pyodide(release: PyodideRelease, cache: Path, npm: str, directory: Path) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pyodide-", dir=cache) as staging:
        # Fixed argv: npm from PATH, a pinned package version.
        result = subprocess.run(  # noqa: S603
            [npm, "pack", "--silent", f"pyodide@{release.version}"],
            cwd=staging,
            check=False,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise BuildError(f"npm pack pyodide@{release.version} failed:\n{result.stderr}")
        tarball = Path(staging) / result.stdout.strip().splitlines()[-1]
        digest = (
            "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
        )
        if digest != release.integrity:
            raise BuildError(
                f"pyodide@{release.version}: tarball sha512 {digest} is not the pinned "
                f"{release.integrity}"
            )
        unpacked = Path(staging) / "unpacked"
        with tarfile.open(tarball) as archive:
            archive.extractall(unpacked, filter="data")
        (unpacked / ".complete").write_text(f"{release.integrity}\n")
        if directory.exists():
            shutil.rmtree(directory)
        unpacked.rename(directory)


def compile_files(
    compiler: Compiler, files: Sequence[tuple[str, Path]], cache: Path
) -> list[tuple[str, bytes]]:
    """``(archive name, .pyc bytes)`` for every ``.py`` of ``files`` (archive name, path)."""
    tag = "cpython-" + compiler.python.replace(".", "")
    wanted: dict[str, tuple[Path, Path]] = {}  # source name -> (source, cached .pyc)
    for name, path in files:
        if not name.endswith(".py"):
            continue
        key = hashlib.sha256(
            f"{compiler.description}\0{name}\0".encode() + path.read_bytes()
        ).hexdigest()
        wanted[name] = (path, cache / "pyc" / key[:2] / f"{key}.pyc")
    missing = sorted(name for name, (_, cached) in wanted.items() if not cached.is_file())
    if missing:
        _compile_into_cache(compiler, {name: wanted[name] for name in missing}, cache, tag)
    return [
        (_pyc_name(name, tag), cached.read_bytes()) for name, (_, cached) in sorted(wanted.items())
    ]


def _compile_into_cache(
    compiler: Compiler, todo: dict[str, tuple[Path, Path]], cache: Path, tag: str
) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pyc-", dir=cache) as work:
        source_root, output_root = Path(work) / "src", Path(work) / "out"
        output_root.mkdir()
        for name, (path, _) in todo.items():
            (source_root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, source_root / name)
        names_file = Path(work) / "names.txt"
        names_file.write_text("".join(f"{name}\n" for name in todo))
        compiler.run(
            COMPILE_SCRIPT, [str(source_root), str(output_root), TASK_ROOT, str(names_file)]
        )
        for name, (_, cached) in todo.items():
            produced = output_root / _pyc_name(name, tag)
            if not produced.is_file():
                raise BuildError(
                    f"{compiler.description} did not write {_pyc_name(name, tag)}: "
                    f"is it CPython {compiler.python}?"
                )
            # Written beside and renamed into place: builds running at once share the cache.
            cached.parent.mkdir(parents=True, exist_ok=True)
            partial = cached.with_name(f"{cached.name}.{os.getpid()}.partial")
            shutil.copyfile(produced, partial)
            partial.replace(cached)


def _pyc_name(source_name: str, tag: str) -> str:
    """``a/b.py`` -> ``a/__pycache__/b.<tag>.pyc`` (what ``importlib.util.cache_from_source``
    gives under the target Python)."""
    directory, _, file_name = source_name.rpartition("/")
    pyc = f"__pycache__/{file_name.removesuffix('.py')}.{tag}.pyc"
    return f"{directory}/{pyc}" if directory else pyc
