"""The suite list has one owner, pyproject.toml's markers: `make test` runs every suite and every
`pytest -m` of the Makefile names registered suites only."""

from __future__ import annotations

import re

import pytest

from testing.suites import suite_markers
from tools.paths import ROOT

pytestmark = pytest.mark.unit


def pytest_runs() -> list[tuple[str, set[str]]]:
    """(target, the markers its `pytest -m` names) for each pytest run of the Makefile; a recipe
    line is attributed to the target above it."""
    runs = []
    target = ""
    for line in (ROOT / "Makefile").read_text().splitlines():
        rule = re.match(r"^([\w/.-]+):", line)
        if rule:
            target = rule.group(1)
        found = re.search(r'pytest -m (?:"([^"]+)"|(\w+))', line)
        if found:
            expression = found.group(1) or found.group(2)
            runs.append((target, set(expression.split()) - {"and", "or", "not", "(", ")"}))
    return runs


def test_the_suites_are_read_from_pyproject() -> None:
    suites = suite_markers(ROOT / "pyproject.toml")
    assert {"unit", "packaging", "e2e"} <= suites
    assert not [s for s in suites if not s.isidentifier()]


def test_make_test_runs_every_suite_and_the_makefile_names_no_other() -> None:
    suites = suite_markers(ROOT / "pyproject.toml")
    runs = pytest_runs()
    assert runs, "no `pytest -m` found in the Makefile"
    assert [(target, names - suites) for target, names in runs if names - suites] == []
    # `make test`'s phases are the test/<phase> targets
    phases = set().union(*(names for target, names in runs if target.startswith("test/")))
    assert phases == suites
