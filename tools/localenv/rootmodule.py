"""A throwaway copy of the root module whose state stays local, for tests and fixture recordings.

The copy holds what ``terraform init`` and ``plan`` read: the root's ``*.tf`` files (not the
developer's own ``*_override.tf``), the lock file, ``modules/`` and ``envs/``; plus a
``backend_override.tf`` selecting the local backend, so the committed ``backend "s3" {}`` and the
checkout's ``.terraform/`` are never touched.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

BACKEND_OVERRIDE = (
    '# Copy only: local state instead of the S3 backend.\nterraform {\n  backend "local" {}\n}\n'
)
DIRECTORIES = ("modules", "envs")
LOCK_FILE = ".terraform.lock.hcl"


def copy_root_module(root: Path, dest: Path, extra_files: Mapping[str, str] | None = None) -> Path:
    """Copy the root module of ``root`` to ``dest`` (created) with the local-backend override.

    ``extra_files`` (name -> content) are written beside it: more overrides, fixture outputs.
    """
    dest.mkdir(parents=True)
    for path in sorted(root.glob("*.tf")):
        if not path.name.endswith("_override.tf"):
            shutil.copy2(path, dest / path.name)
    shutil.copy2(root / LOCK_FILE, dest / LOCK_FILE)
    for name in DIRECTORIES:
        shutil.copytree(root / name, dest / name)
    (dest / "backend_override.tf").write_text(BACKEND_OVERRIDE)
    for name, content in (extra_files or {}).items():
        (dest / name).write_text(content)
    return dest
