"""The test suites: the pytest markers pyproject.toml registers, read from there (their one list).

`make test` runs one pytest per group of them (tests/unit/test_suites.py checks it runs every
one), and the collection check (tests/conftest.py) refuses a test that carries none.
"""

from __future__ import annotations

import tomllib
from pathlib import Path


def suite_markers(pyproject: Path) -> frozenset[str]:
    """The names of ``[tool.pytest.ini_options].markers`` ("name: description" each)."""
    with pyproject.open("rb") as handle:
        markers = tomllib.load(handle)["tool"]["pytest"]["ini_options"]["markers"]
    return frozenset(str(line).split(":", 1)[0].strip() for line in markers)
