"""The Lambda zips: one reproducible zip per function, vendored for the Lambda platform.

- ``artifacts``: what is built (sources, handlers, requirements per zip) and for which target;
- ``vendor``: third-party packages installed with pip for the Lambda platform;
- ``bytecode``: ``.pyc`` compiled by the target's CPython (``compile_pyc.py`` runs inside it);
- ``contents``: what goes into each zip, the zips and the manifest;
- ``cli``: ``python -m tools.build`` (``make build``).
"""

from tools.build.artifacts import ARTIFACTS, PLATFORMS, Artifact, Target
from tools.build.bytecode import Compiler, find_compiler
from tools.build.contents import BuildResult, build
from tools.build.errors import BuildError

__all__ = [
    "ARTIFACTS",
    "PLATFORMS",
    "Artifact",
    "BuildError",
    "BuildResult",
    "Compiler",
    "Target",
    "build",
    "find_compiler",
]
