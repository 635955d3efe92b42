"""What is built: one zip per Lambda artifact, its sources, its handlers and its requirements.

The artifact list is the contract with the Terraform (``modules/function`` takes the zips by these
names). Each zip carries only its function's module, the ``realtime_common`` files that module
imports, and the third-party packages of its own requirements file, so a change to one function
or to one function's dependencies leaves the other zips' hashes alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tools.build.errors import BuildError

# Lambda architectures -> the manylinux platform tag pip installs wheels for. Lambda's runtimes are
# Amazon Linux 2023 (glibc 2.34); manylinux2014 (glibc 2.17) wheels are what every package ships.
PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}

_COMMON = (
    "realtime_common/__init__.py",
    "realtime_common/aws.py",
    "realtime_common/config.py",
    "realtime_common/logs.py",
    "realtime_common/metrics.py",
)
_CONNECTIONS = "realtime_common/connections.py"
_STREAM = "realtime_common/stream.py"
_FANOUT_MODULES = (
    "__init__",
    "audience",
    "config",
    "delivery",
    "engine",
    "frames",
    "ledger",
    "messages",
    "rate",
    "schedule",
    "sigv4",
    "table",
    "transport",
    "views",
    "wire",
)
_FANOUT = tuple(f"realtime_common/fanout/{m}.py" for m in (*_FANOUT_MODULES, "workers"))


@dataclass(frozen=True)
class Artifact:
    name: str
    sources: tuple[str, ...]  # paths relative to the functions directory
    handlers: tuple[str, ...]

    @property
    def file_name(self) -> str:
        return f"{self.name}.zip"

    @property
    def requirements(self) -> str:
        """Its hash-pinned requirements, relative to the functions directory."""
        return f"requirements/{self.name}.txt"


ARTIFACTS = (
    Artifact(
        name="authorizer",
        sources=(
            "authorizer.py",
            "realtime_common/__init__.py",
            "realtime_common/config.py",
            "realtime_common/logs.py",
            _CONNECTIONS,
        ),
        handlers=("authorizer.handler",),
    ),
    Artifact(
        name="connection_manager",
        sources=("connection_manager.py", *_COMMON, _CONNECTIONS),
        handlers=("connection_manager.on_connect", "connection_manager.on_disconnect"),
    ),
    Artifact(
        name="broadcaster",
        # The fan-out worker ships in the broadcaster's zip: the same engine, one artifact.
        sources=("broadcaster.py", "fanout_worker.py", *_COMMON, _CONNECTIONS, _STREAM, *_FANOUT),
        handlers=("broadcaster.handler", "fanout_worker.handler"),
    ),
    Artifact(
        name="notifier",
        sources=("notifier.py", *_COMMON, _STREAM),
        handlers=("notifier.handler",),
    ),
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
