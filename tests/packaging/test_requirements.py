"""Each zip's third-party packages: declared per artifact, hash-pinned, never the runtime's own
boto3 and never a development tool."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tools.build import ARTIFACTS, Artifact
from tools.paths import ROOT

pytestmark = pytest.mark.packaging

FUNCTIONS = ROOT / "functions"
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", re.MULTILINE)


def pins(path: Path) -> dict[str, str]:
    return {name.lower(): version for name, version in PIN.findall(path.read_text())}


@pytest.mark.parametrize("artifact", ARTIFACTS, ids=lambda a: a.name)
def test_requirements_are_hash_pinned_and_only_what_lambda_lacks(artifact: Artifact) -> None:
    path = FUNCTIONS / artifact.requirements
    text = path.read_text()
    requirements = [line for line in text.splitlines() if line and line[0].isalnum()]
    assert requirements
    assert all(PIN.match(line) for line in requirements), requirements  # name==version \
    # every pinned requirement is followed by at least one hash (pip --require-hashes)
    blocks = re.split(r"^(?=[A-Za-z0-9])", text, flags=re.MULTILINE)
    for block in blocks:
        if PIN.match(block):
            assert "--hash=sha256:" in block, block.splitlines()[0]
    names = set(pins(path))
    assert not names & {"boto3", "botocore", "s3transfer"}  # the runtime has them
    assert not {n for n in names if n.startswith(("mypy", "types-")) or "stubs" in n}


@pytest.mark.parametrize("artifact", ARTIFACTS, ids=lambda a: a.name)
def test_the_lock_holds_what_its_input_asks_for(artifact: Artifact) -> None:
    locked = FUNCTIONS / artifact.requirements
    wanted = locked.with_suffix(".in")
    asked = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", wanted.read_text(), re.MULTILINE))
    assert asked
    for name, version in asked.items():
        assert pins(locked)[name.lower()] == version, name


def test_powertools_is_the_version_the_tests_exercise() -> None:
    dev = pins_in_dev()
    for artifact in ARTIFACTS:
        assert (
            pins(FUNCTIONS / artifact.requirements)["aws-lambda-powertools"]
            == dev["aws-lambda-powertools"]
        ), artifact.name


def test_the_broadcaster_pins_aiohttp_and_covers_every_lambda_platform() -> None:
    path = FUNCTIONS / "requirements" / "broadcaster.txt"
    assert pins(path)["aiohttp"] == "3.14.5"
    # pip-compile --generate-hashes lists every file of each release, so the lock holds the
    # wheels pip picks for x86_64 and arm64, Python 3.12 and 3.13 alike (functions/README.md)
    text = path.read_text()
    block = text[text.index("aiohttp==3.14.5") :].split("\n    # via")[0]
    assert block.count("--hash=sha256:") >= 4


def pins_in_dev() -> dict[str, str]:
    text = (ROOT / "requirements-dev.txt").read_text()
    return {
        name.lower(): version
        for name, version in re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", text, re.MULTILINE)
    }
