"""What is built: one zip per Lambda artifact, its handlers, its sources and its requirements.

The artifact list is the contract with the Terraform (``modules/function`` takes the zips by these
names). Each zip carries its handlers' modules, the project modules (``realtime_common``...) those
import when they run, followed transitively with ``ast`` (``tools.importgraph``), and the
third-party packages of its own requirements file. Nobody keeps a list of modules: a module a
handler starts importing is shipped with it, one nobody imports is shipped nowhere, and a change to
one function or to one function's dependencies leaves the other zips' hashes alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tools import importgraph
from tools.build.errors import BuildError

# Lambda architectures -> the manylinux platform tag pip installs wheels for. Lambda's runtimes are
# Amazon Linux 2023 (glibc 2.34); manylinux2014 (glibc 2.17) wheels are what every package ships.
PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}


@dataclass(frozen=True)
class Artifact:
    name: str
    handlers: tuple[str, ...]  # "module.function", as Lambda's handler setting

    @property
    def file_name(self) -> str:
        return f"{self.name}.zip"

    @property
    def requirements(self) -> str:
        """Its hash-pinned requirements, relative to the functions directory."""
        return f"requirements/{self.name}.txt"

    @property
    def handler_modules(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(handler.rsplit(".", 1)[0] for handler in self.handlers))

    def sources(self, source_dir: Path) -> tuple[str, ...]:
        """Its Python sources, relative to ``source_dir`` and sorted: the handlers' modules and
        every project module they import at run time (at module level or inside a function; not
        what is imported only under ``TYPE_CHECKING``), with the packages holding them."""
        modules = importgraph.scan(source_dir)
        for module in self.handler_modules:
            if module not in modules:
                raise BuildError(
                    f"{self.name}: handler module {module} has no source file "
                    f"{source_dir / (module.replace('.', '/') + '.py')}"
                )
        try:
            needed = importgraph.runtime_closure(self.handler_modules, modules)
        except importgraph.ImportGraphError as error:
            raise BuildError(f"{self.name}: {error}") from error
        return tuple(sorted(modules[m].path.relative_to(source_dir).as_posix() for m in needed))


ARTIFACTS = (
    Artifact(name="authorizer", handlers=("authorizer.handler",)),
    Artifact(
        name="connection_manager",
        handlers=("connection_manager.on_connect", "connection_manager.on_disconnect"),
    ),
    # The fan-out worker and the sync and subscribe functions ship in the broadcaster's zip: the
    # same engine and wire client (so the same aiohttp requirements), one artifact.
    Artifact(
        name="broadcaster",
        handlers=(
            "broadcaster.handler",
            "fanout_worker.handler",
            "sync.handler",
            "subscribe.handler",
        ),
    ),
    Artifact(name="notifier", handlers=("notifier.handler",)),
)


@dataclass(frozen=True)
class Target:
    """The Lambda platform a build is for: ``lambda_architecture`` and ``lambda_runtime``."""

    arch: str
    python: str  # "3.12"

    def __post_init__(self) -> None:
        if self.arch not in PLATFORMS:
            raise BuildError(f"LAMBDA_ARCH={self.arch!r}: expected one of {', '.join(PLATFORMS)}")
        if not re.fullmatch(r"3\.(1[1-9])", self.python):
            raise BuildError(
                f"LAMBDA_PYTHON={self.python!r}: expected 3.11 or newer, written like 3.12"
            )

    @property
    def platform(self) -> str:
        return PLATFORMS[self.arch]

    @property
    def cache_tag(self) -> str:
        """The tag of compiled modules for this Python (``cpython-312``)."""
        return "cpython-" + self.python.replace(".", "")
