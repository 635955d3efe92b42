"""Compile sources to ``.pyc``; run by the target Python itself, not imported by the build.

    python3.X compile_pyc.py <source root> <output root> <prefix> <names file>

The names file lists one source path a line, relative to the source root. Each ``<name>.py``
becomes ``<output root>/<dir>/__pycache__/<mod>.<tag>.pyc``.
The code objects record ``<prefix>/<name>`` as their file (Lambda's ``/var/task/...``, where the
runtime would have compiled them itself), and the ``.pyc`` are unchecked-hash based: no source
mtime in them, and the read-only code directory never needs them rewritten. This file is stdlib
only and runs on any Python 3, the way it runs inside the target interpreter.
"""

import importlib.util
import os
import py_compile
import sys


def main(argv: list[str]) -> int:
    source_root, output_root, prefix, names_file = argv
    with open(names_file, encoding="utf-8") as handle:
        names = handle.read().splitlines()
    for name in names:
        cfile = os.path.join(output_root, importlib.util.cache_from_source(name))
        py_compile.compile(
            os.path.join(source_root, name),
            cfile=cfile,
            dfile=prefix + "/" + name,
            doraise=True,
            optimize=0,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
