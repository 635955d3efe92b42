"""``python -m tools.build``: build one reproducible zip per Lambda function into build/.

    python -m tools.build [--out build] [--arch x86_64|arm64] [--python 3.12] [--no-bytecode]
                          [--no-reuse]

``LAMBDA_ARCH`` (default x86_64), ``LAMBDA_PYTHON`` (default 3.12) and ``LAMBDA_BYTECODE``
(default 1) give the defaults for ``--arch``, ``--python`` and ``--bytecode``; arch and Python must
match the Terraform variables ``lambda_architecture`` and ``lambda_runtime``. It prints each
artifact with its size and sha256 and writes ``build/manifest.json``. A zip whose entries did not
change since it was last built is copied from the build cache (``--no-reuse`` compresses afresh).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from tools.build import bytecode
from tools.build.artifacts import Target
from tools.build.contents import build
from tools.build.errors import BuildError
from tools.paths import ROOT


def parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tools.build",
        description="Build one reproducible zip per Lambda function.",
    )
    p.add_argument("--out", type=Path, default=ROOT / "build", help="output directory")
    p.add_argument("--functions", type=Path, default=ROOT / "functions", help="Lambda sources")
    p.add_argument("--cache", type=Path, default=ROOT / ".cache" / "build", help="build cache")
    p.add_argument(
        "--arch",
        default=environ.get("LAMBDA_ARCH") or "x86_64",
        help="Lambda architecture: x86_64 or arm64 (LAMBDA_ARCH)",
    )
    p.add_argument(
        "--python",
        default=environ.get("LAMBDA_PYTHON") or "3.12",
        help="Lambda Python version, like 3.12 (LAMBDA_PYTHON)",
    )
    p.add_argument(
        "--bytecode",
        action=argparse.BooleanOptionalAction,
        default=environ.get("LAMBDA_BYTECODE", "1") not in {"0", "false", "no", ""},
        help="ship .pyc compiled by the target Python (default; LAMBDA_BYTECODE=0 turns it off)",
    )
    p.add_argument(
        "--reuse",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="copy a zip whose entries are unchanged from the build cache (default)",
    )
    p.add_argument(
        "--compiler",
        choices=bytecode.COMPILERS,
        default="auto",
        help="what compiles the bytecode: Pyodide's CPython (pinned), a native python3.X, or "
        "auto (Pyodide when node and npm are on PATH)",
    )
    return p


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = parser(os.environ if environ is None else environ).parse_args(argv)
    try:
        target = Target(args.arch, args.python)
        compiler = (
            bytecode.find_compiler(target.python, args.cache, args.compiler)
            if args.bytecode
            else None
        )
        results = build(
            args.out,
            source_dir=args.functions,
            target=target,
            cache=args.cache,
            compiler=compiler,
            reuse=args.reuse,
        )
    except BuildError as error:
        print(f"build failed: {error}", file=sys.stderr)
        return 1
    compiled = f", bytecode by {compiler.description}" if compiler else ", no bytecode"
    print(f"Lambda artifacts ({target.arch}, Python {target.python}{compiled}):")
    for r in results:
        reused = "  (unchanged: from the build cache)" if r.reused else ""
        print(f"  {_display(r.path):<32} {r.size:>9} bytes  sha256 {r.sha256}{reused}")
    return 0


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
