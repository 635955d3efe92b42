"""tools.importgraph on small trees written for each test: which imports it sees, what a handler's
zip must carry, and which cycles it finds."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools import importgraph

pytestmark = pytest.mark.unit


def tree(root: Path, files: dict[str, str]) -> dict[str, importgraph.Module]:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return importgraph.scan(root)


def test_scan_names_modules_and_packages(tmp_path: Path) -> None:
    files = "handler.py pkg/__init__.py pkg/sub/__init__.py pkg/sub/leaf.py requirements/x.txt"
    modules = tree(tmp_path, dict.fromkeys([*files.split(), "not-a-module/x.py"], ""))
    assert sorted(modules) == ["handler", "pkg", "pkg.sub", "pkg.sub.leaf"]
    assert modules["pkg.sub"].is_package
    assert not modules["pkg.sub.leaf"].is_package


def test_every_kind_of_import_is_seen_with_its_absolute_name(tmp_path: Path) -> None:
    modules = tree(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/sub/__init__.py": "from . import leaf\n",
            "pkg/sub/leaf.py": (
                "from __future__ import annotations\n"
                "import os, pkg.other as other\n"
                "from typing import TYPE_CHECKING\n"
                "from ..other import thing\n"
                "from . import sibling\n"
                "if TYPE_CHECKING:\n"
                "    from pkg.typed import Shape\n"
                "else:\n"
                "    import pkg.untyped\n"
                "def later() -> None:\n"
                "    from pkg.lazy import run\n"
            ),
        },
    )
    seen = {(i.name, i.type_checking) for i in importgraph.imports(modules["pkg.sub.leaf"])}
    assert seen == {
        ("__future__.annotations", False),
        ("os", False),
        ("pkg.other", False),
        ("typing.TYPE_CHECKING", False),
        ("pkg.other.thing", False),
        ("pkg.sub.sibling", False),
        ("pkg.typed.Shape", True),
        ("pkg.untyped", False),
        ("pkg.lazy.run", False),
    }
    (package_import,) = importgraph.imports(modules["pkg.sub"])
    assert package_import.name == "pkg.sub.leaf"


def test_the_runtime_closure_follows_imports_transitively_with_their_packages(
    tmp_path: Path,
) -> None:
    modules = tree(
        tmp_path,
        {
            "handler.py": "from common import config\nfrom common.deep.leaf import value\n",
            "other.py": "import common.unused\n",
            "common/__init__.py": "",
            "common/config.py": "import json\nfrom common.logs import make\n",
            "common/logs.py": "",
            "common/unused.py": "",
            "common/deep/__init__.py": "",
            "common/deep/leaf.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from common import typed_only\n"
                "def f() -> None:\n    from . import lazy\n"
            ),
            "common/deep/lazy.py": "",
            "common/typed_only.py": "",
        },
    )
    assert importgraph.runtime_closure(["handler"], modules) == {
        "handler",
        "common",
        "common.config",
        "common.logs",
        "common.deep",
        "common.deep.leaf",
        "common.deep.lazy",  # imported inside a function: it runs
    }  # not common.unused (nobody of handler's imports it), not common.typed_only


def test_an_import_of_a_missing_project_module_is_an_error(tmp_path: Path) -> None:
    modules = tree(
        tmp_path,
        {
            "handler.py": "import json\nfrom common.config import missing_name\n",
            "common/__init__.py": "",
            "common/config.py": "from common.gone import x\n",
        },
    )
    with pytest.raises(importgraph.ImportGraphError, match=r"config\.py:1: imports common\.gone"):
        importgraph.runtime_closure(["handler"], modules)


def test_graph_edges_resolve_attributes_to_their_module_and_can_leave_out_type_checking(
    tmp_path: Path,
) -> None:
    modules = tree(
        tmp_path,
        {
            "a.py": "from b import name\nimport c\n",
            "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import a\n",
            "c.py": "import c\n",
        },
    )
    assert importgraph.graph(modules) == {"a": {"b", "c"}, "b": {"a"}, "c": set()}
    assert importgraph.graph(modules, type_checking=False) == {
        "a": {"b", "c"},
        "b": set(),
        "c": set(),
    }


def test_module_cycles_are_found_through_function_level_and_type_checking_imports(
    tmp_path: Path,
) -> None:
    modules = tree(
        tmp_path,
        {
            "p/__init__.py": "",
            "p/engine.py": "def f() -> None:\n    from p import wire\n",
            "p/wire.py": "from p.engine import Done\n",
            "p/x.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import p.y\n",
            "p/y.py": "import p.z\n",
            "p/z.py": "from p import x\n",
            "p/alone.py": "import p.engine\n",
        },
    )
    assert importgraph.module_cycles(importgraph.graph(modules)) == [
        ["p.engine", "p.wire"],
        ["p.x", "p.y", "p.z"],
    ]


def test_package_cycles_are_found_between_siblings_even_without_a_module_cycle(
    tmp_path: Path,
) -> None:
    modules = tree(
        tmp_path,
        {
            "tools/__init__.py": "",
            "tools/bench.py": "import testing.fake\n",
            "tools/env.py": "",
            "testing/__init__.py": "",
            "testing/fake.py": "",
            "testing/client.py": "from tools import env\n",
            "lib/__init__.py": "from lib import a\n",
            "lib/a.py": "from lib import helper\n",
        },
    )
    edges = importgraph.graph(modules)
    assert importgraph.module_cycles(edges) == [["lib", "lib.a"]]
    # between packages: tools and testing import each other; lib and its own module lib.a contain
    # one another, which is a module cycle but no cycle between packages
    assert importgraph.package_cycles(edges) == [("", ["testing", "tools"])]
