"""No import cycle between modules or packages of functions/, tools/ and testing/, and the layers
point one way: the Lambda code imports none of the tooling, and the test doubles (``testing``)
import nothing of ``tools``.

Every import statement counts, read with ``ast`` (``tools.importgraph``): at module level, inside
a function and under ``if TYPE_CHECKING:`` (a cycle hidden there is still a cycle of the design).
"""

from __future__ import annotations

import pytest

from tools import importgraph
from tools.paths import ROOT

pytestmark = pytest.mark.unit


# Cycles that exist on main and are being removed, each with the change that removes it. An entry
# that no longer matches a cycle fails the test too, so the list cannot outlive its reason.
ALLOWED: dict[tuple[str, ...], str] = {}


def modules() -> dict[str, importgraph.Module]:
    # functions/ is a source root of its own (Lambda's /var/task); tools and testing are packages
    # under the repository root.
    return {**importgraph.scan(ROOT / "functions"), **importgraph.scan(ROOT, ["tools", "testing"])}


def test_the_scan_covers_the_three_trees() -> None:
    tops = {name.split(".")[0] for name in modules()}
    assert {"realtime_common", "broadcaster", "tools", "testing"} <= tops


def test_no_import_cycle_between_modules() -> None:
    cycles = {tuple(c) for c in importgraph.module_cycles(importgraph.graph(modules()))}
    assert sorted(cycles - set(ALLOWED)) == []
    assert sorted(set(ALLOWED) - cycles) == [], "an allowed cycle is gone: remove its entry"


def test_no_import_cycle_between_packages() -> None:
    cycles = importgraph.package_cycles(importgraph.graph(modules()))
    # an allowed module cycle shows again between its modules, as siblings of their package
    assert [(p, c) for p, c in cycles if tuple(c) not in ALLOWED] == []


def test_layers_point_one_way() -> None:
    edges = importgraph.graph(modules())
    wrong = sorted(
        (importer, target)
        for importer, targets in edges.items()
        for target in targets
        if (
            not importer.startswith(("tools", "testing"))
            and target.startswith(("tools", "testing"))
        )
        or (importer.startswith("testing") and target.startswith("tools"))
    )
    assert wrong == []
