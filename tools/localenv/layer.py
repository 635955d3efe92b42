"""The boto3 layer: the emulator's Lambdas get boto3 as the Lambda runtime gives it, locally only.

What the Lambda Python runtime ships (https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html)
and the emulator's interpreter lacks: boto3 and s3transfer. botocore and its own dependencies
(jmespath, python-dateutil, six, urllib3) are there already: ministack requires botocore, pinned
to the same version as our boto3. Shipping a second botocore (31 MB unpacked) would only slow
every cold start, since the emulator unpacks each function's layers anew.
"""

from __future__ import annotations

import base64
import hashlib
from importlib import util as importlib_util
from pathlib import Path
from typing import TYPE_CHECKING

from tools.localenv.log import log
from tools.reprozip import write_zip

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_lambda.literals import RuntimeType

LAYER_NAME = "local-boto3"
LAYER_PACKAGES = ("boto3", "s3transfer")
COMPATIBLE_RUNTIMES: list[RuntimeType] = ["python3.11", "python3.12", "python3.13"]


class LayerError(RuntimeError):
    """The layer cannot be built from this interpreter; the message names what is missing."""


def package_paths(name: str) -> list[Path]:
    """Where an installed package lives: its directory, or its single module file."""
    spec = importlib_util.find_spec(name)
    if spec is None or spec.origin is None:
        raise LayerError(f"cannot build the boto3 layer: package {name!r} is not installed here")
    origin = Path(spec.origin)
    return [origin.parent] if origin.name == "__init__.py" else [origin]


def layer_entries(packages: tuple[str, ...] = LAYER_PACKAGES) -> list[tuple[str, Path]]:
    """``(python/<path>, file)`` for every file of ``packages``, sorted, without bytecode."""
    entries: list[tuple[str, Path]] = []
    for name in packages:
        for path in package_paths(name):
            if path.is_file():
                entries.append((f"python/{path.name}", path))
                continue
            for file in sorted(path.rglob("*")):
                if file.is_file() and "__pycache__" not in file.parts and file.suffix != ".pyc":
                    entries.append((f"python/{file.relative_to(path.parent).as_posix()}", file))
    return sorted(entries)


def build_layer_zip(layer_dir: Path) -> Path:
    """A reproducible zip of boto3 and s3transfer under ``python/``, from this interpreter.

    Named after its content, so an unchanged layer is built once.
    """
    entries = layer_entries()
    digest = hashlib.sha256()
    for arcname, path in entries:
        digest.update(arcname.encode())
        digest.update(path.read_bytes())
    target = layer_dir / f"{LAYER_NAME}-{digest.hexdigest()[:16]}.zip"
    if not target.exists():
        write_zip(target, entries)
    return target


def ensure_layer(lam: LambdaClient, archive: Path, created: list[str]) -> str:
    """Publish ``archive`` unless a version with the same content exists; its version ARN.

    A version it publishes is added to ``created`` as ``layer:<arn>``.
    """
    data = archive.read_bytes()
    sha = base64.b64encode(hashlib.sha256(data).digest()).decode()
    for version in lam.list_layer_versions(LayerName=LAYER_NAME).get("LayerVersions", []):
        if version.get("Description", "").endswith(sha):
            return version["LayerVersionArn"]
    published = lam.publish_layer_version(
        LayerName=LAYER_NAME,
        Description=f"boto3 for the local emulator only; sha256 {sha}",
        Content={"ZipFile": data},
        CompatibleRuntimes=COMPATIBLE_RUNTIMES,
    )
    log(f"published layer {published['LayerVersionArn']} ({len(data) / 1e6:.1f} MB)")
    created.append(f"layer:{published['LayerVersionArn']}")
    return published["LayerVersionArn"]
