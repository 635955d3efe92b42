"""The committed .terraform.lock.hcl lets `terraform init` verify hashicorp/aws on every platform.

A lock file written from the linux_amd64-only offline mirror holds one `h1:` hash, and
`terraform init` elsewhere (a Mac, an ARM runner) then refuses the registry's package. The `zh:`
hashes are the SHA-256 of each platform's release zip from the release's SHA256SUMS.

Nothing here restates the lock: the tests read it, and check it against what owns each part of
it: the `required_providers` constraints of every versions.tf, the platforms `make providers-lock`
records, and the provider package installed on this machine (its `h1:` hash, computed here).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from tools.paths import ROOT

pytestmark = pytest.mark.unit

LOCK_FILE = ROOT / ".terraform.lock.hcl"


@dataclass(frozen=True)
class Locked:
    source: str
    version: str
    constraints: frozenset[str]
    hashes: tuple[str, ...]


def locked_providers(text: str) -> dict[str, Locked]:
    """Every provider block of a lock file, by source address."""
    found = {}
    for block in re.finditer(r'^provider "([^"]+)" \{(.*?)\n\}', text, re.DOTALL | re.MULTILINE):
        source, body = block.groups()
        version = re.search(r'^\s*version\s*=\s*"([^"]+)"', body, re.MULTILINE)
        constraints = re.search(r'^\s*constraints\s*=\s*"([^"]+)"', body, re.MULTILINE)
        hashes = re.search(r"^\s*hashes\s*=\s*\[(.*?)\]", body, re.MULTILINE | re.DOTALL)
        if version is None or hashes is None:
            raise AssertionError(f"{source} has no version or no hashes in the lock file")
        found[source] = Locked(
            source,
            version.group(1),
            frozenset(constraints.group(1).split(", ")) if constraints else frozenset(),
            tuple(re.findall(r'"([^"]+)"', hashes.group(1))),
        )
    return found


def normalised(constraint: str) -> str:
    """A version constraint as Terraform writes it into the lock: `>= 5.70` -> `>= 5.70.0`
    (the pessimistic `~>` keeps its precision)."""
    operator, version = constraint.split()
    if operator != "~>":
        version = ".".join([*version.split("."), "0", "0"][:3])
    return f"{operator} {version}"


def required_constraints() -> dict[str, set[str]]:
    """Source address -> the version constraints the root module and its modules declare."""
    found: dict[str, set[str]] = {}
    for versions in [ROOT / "versions.tf", *sorted((ROOT / "modules").glob("*/versions.tf"))]:
        text = versions.read_text()
        for entry in re.finditer(r'source\s*=\s*"([^"]+)"\s*\n\s*version\s*=\s*"([^"]+)"', text):
            source = entry.group(1)
            address = source if source.count("/") == 2 else f"registry.terraform.io/{source}"
            found.setdefault(address, set()).add(normalised(entry.group(2)))
    return found


def lock_platforms() -> list[str]:
    """The platforms `make providers-lock` records hashes for."""
    line = next(
        line for line in (ROOT / "Makefile").read_text().splitlines() if "providers lock" in line
    )
    return re.findall(r"-platform=(\S+)", line)


def h1(package: Path) -> str:
    """Terraform's `h1:` hash of an unpacked provider package (Go's dirhash Hash1)."""
    summary = hashlib.sha256()
    for path in sorted(p for p in package.rglob("*") if p.is_file()):
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        summary.update(f"{digest.hexdigest()}  {path.relative_to(package).as_posix()}\n".encode())
    return "h1:" + base64.b64encode(summary.digest()).decode()


def installed_packages(source: str, version: str) -> list[Path]:
    """The linux_amd64 packages of this provider version on this machine: the offline mirror
    (TF_PLUGIN_DIR) and what `terraform init` installed under .terraform/."""
    tail = Path(source, version, "linux_amd64")
    roots = [Path(d) for d in [os.environ.get("TF_PLUGIN_DIR")] if d]
    roots += sorted(p for p in (ROOT / ".terraform").glob("*/providers") if p.is_dir())
    return [root / tail for root in roots if (root / tail).is_dir()]


def test_the_lock_records_every_provider_the_configuration_requires_with_its_constraints() -> None:
    locked = locked_providers(LOCK_FILE.read_text())
    required = required_constraints()
    assert set(locked) == set(required)
    for source, entry in locked.items():
        assert entry.constraints == required[source], (
            f"{source}: the lock's constraints are not those of the versions.tf files: run "
            "terraform init (and make providers-lock, online) again"
        )


def test_the_lock_holds_hashes_for_every_platform_of_providers_lock() -> None:
    platforms = lock_platforms()
    assert {"linux_amd64", "darwin_arm64", "windows_amd64"} <= set(platforms)
    for source, entry in locked_providers(LOCK_FILE.read_text()).items():
        assert len(entry.hashes) == len(set(entry.hashes)), f"{source}: a hash recorded twice"
        h1s = [h for h in entry.hashes if h.startswith("h1:")]
        zhs = [h for h in entry.hashes if h.startswith("zh:")]
        assert len(h1s) + len(zhs) == len(entry.hashes), entry.hashes
        assert all(re.fullmatch(r"h1:[A-Za-z0-9+/]{43}=", h) for h in h1s), h1s
        assert all(re.fullmatch(r"zh:[0-9a-f]{64}", h) for h in zhs), zhs
        # one zh: per platform of the release, which has at least the platforms we lock for
        assert h1s, f"{source}: no h1: hash"
        assert len(zhs) >= len(platforms), (
            f"{source}: {len(zhs)} zh: hashes for {len(platforms)} platforms: a lock written from "
            "the offline mirror alone; run make providers-lock online"
        )


def test_the_installed_package_matches_the_locks_h1_hash() -> None:
    checked = 0
    for source, entry in locked_providers(LOCK_FILE.read_text()).items():
        for package in installed_packages(source, entry.version):
            assert h1(package) in entry.hashes, f"{package} is not the package the lock records"
            checked += 1
    if not checked:
        pytest.skip("no installed provider package: set TF_PLUGIN_DIR or run make validate first")


def test_the_reader_sees_a_mirror_only_lock_as_short_of_platforms() -> None:
    source = "registry.terraform.io/hashicorp/aws"
    lines = [f'provider "{source}" {{', '  version = "1.0.0"', '  hashes = ["h1:x"]', "}"]
    (entry,) = locked_providers("\n".join(lines) + "\n").values()
    assert entry.hashes == ("h1:x",)
    assert entry.constraints == frozenset()
    assert not [h for h in entry.hashes if h.startswith("zh:")]
