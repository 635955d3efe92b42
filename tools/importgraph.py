"""The project's import graph, read with ``ast`` (nothing is imported or run).

Two users: ``tools.build`` ships in each Lambda zip the project modules its handlers import
(``runtime_closure``), and the import-cycle check (``tests/unit/test_import_cycles.py``) finds
cycles between modules and between packages (``module_cycles``, ``package_cycles``).

A module's imports are every ``import``/``from ... import`` statement in it, wherever it is: at
module level, inside a function, or under ``if TYPE_CHECKING:`` (those are marked, because they do
not run). ``from X import y`` is an import of the module ``X.y`` when there is one, else of ``X``
(grimp's and import-linter's convention). Imports of modules outside the scanned trees (the
standard library, third-party packages) are not edges.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path


class ImportGraphError(Exception):
    """A project import that names no module of the tree, or a module that does not parse."""


@dataclass(frozen=True)
class Import:
    """One imported name, as an absolute dotted name.

    ``import a.b``: ``module`` and ``name`` are ``a.b``. ``from a import b``: ``module`` is ``a``
    (it must be a module) and ``name`` is ``a.b`` (a module, or an attribute of ``a``).
    """

    importer: str
    module: str
    name: str
    line: int
    type_checking: bool  # only under `if TYPE_CHECKING:`: never runs


@dataclass(frozen=True)
class Module:
    name: str  # dotted: "realtime_common.fanout.engine"; a package is its __init__.py
    path: Path
    is_package: bool


def scan(root: Path, packages: Iterable[str] | None = None) -> dict[str, Module]:
    """The modules under ``root`` (a source root, like ``sys.path`` holds), by dotted name.

    ``packages``: only these top-level names (``["tools", "testing"]``); all ``.py`` files and
    packages under ``root`` when ``None``. ``__pycache__`` and non-identifier directories are
    skipped.
    """
    wanted = None if packages is None else set(packages)
    modules: dict[str, Module] = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if not all(part.isidentifier() for part in parts):
            continue
        if wanted is not None and parts[0] not in wanted:
            continue
        is_package = parts[-1] == "__init__"
        dotted = ".".join(parts[:-1] if is_package else parts)
        if dotted:
            modules[dotted] = Module(dotted, path, is_package)
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, type_checking: bool) -> Iterator[tuple[ast.AST, bool]]:
    """Every node under ``node``, with whether it sits in an ``if TYPE_CHECKING:`` body."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            yield child, type_checking
            for statement in child.body:
                yield statement, True
                yield from _walk(statement, True)
            for statement in child.orelse:
                yield statement, type_checking
                yield from _walk(statement, type_checking)
        else:
            yield child, type_checking
            yield from _walk(child, type_checking)


def _base(module: Module, level: int, target: str | None) -> str:
    """The absolute name of ``from <dots><target> import ...`` inside ``module``."""
    if level == 0:
        return target or ""
    package = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
    if level > len(package):
        raise ImportGraphError(f"{module.path}: relative import beyond the top-level package")
    anchor = package[: len(package) - level + 1]
    return ".".join([*anchor, target] if target else anchor)


def imports(module: Module) -> list[Import]:
    """Every name ``module`` imports: ``import a.b`` gives ``a.b``; ``from a import b, c`` gives
    ``a.b`` and ``a.c`` (and ``a`` itself, see ``resolve``)."""
    try:
        tree = ast.parse(module.path.read_text(), filename=str(module.path))
    except SyntaxError as error:
        raise ImportGraphError(f"{module.path}: does not parse: {error}") from error
    found = []
    for node, type_checking in _walk(tree, False):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(
                    Import(module.name, alias.name, alias.name, node.lineno, type_checking)
                )
        elif isinstance(node, ast.ImportFrom):
            base = _base(module, node.level, node.module)
            for alias in node.names:
                name = base if alias.name == "*" else f"{base}.{alias.name}"
                found.append(Import(module.name, base, name, node.lineno, type_checking))
    return found


def resolve(name: str, modules: Mapping[str, Module]) -> str | None:
    """The module an imported name stands for: itself when it is a module, else (``from a import
    attribute``) its longest prefix that is one; ``None`` outside the tree."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def graph(modules: Mapping[str, Module], *, type_checking: bool = True) -> dict[str, set[str]]:
    """importer -> the modules of the tree it imports (self-imports dropped). Without
    ``type_checking``, imports under ``if TYPE_CHECKING:`` are left out (what runs)."""
    edges: dict[str, set[str]] = {name: set() for name in modules}
    for module in modules.values():
        for item in imports(module):
            if item.type_checking and not type_checking:
                continue
            target = resolve(item.name, modules)
            if target is not None and target != module.name:
                edges[module.name].add(target)
    return edges


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:end]) for end in range(1, len(parts))]


def runtime_closure(roots: Iterable[str], modules: Mapping[str, Module]) -> set[str]:
    """The modules that importing ``roots`` can run: their imports at module level and inside
    functions (not under ``TYPE_CHECKING``), transitively, with the packages (``__init__``) each
    one lives in. An import whose top-level package is in the tree but whose module is not there
    is an error (it would fail on Lambda)."""
    tops = {name.split(".")[0] for name in modules}
    seen: set[str] = set()
    pending = list(roots)
    for root in pending:
        if root not in modules:
            raise ImportGraphError(f"module {root} is not in the tree")
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        pending.extend(a for a in _ancestors(name) if a in modules)
        for item in imports(modules[name]):
            if item.type_checking:
                continue
            # `import pkg.missing` / `from pkg.missing import x`: the module part must exist.
            if item.module.split(".")[0] in tops and item.module not in modules:
                raise ImportGraphError(
                    f"{modules[name].path}:{item.line}: imports {item.module}, "
                    "which is not a module of the tree"
                )
            target = resolve(item.name, modules)
            if target is not None:
                pending.append(target)
    return seen


def _strongly_connected(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively: the components of more than one node, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def module_cycles(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Groups of modules that import each other, directly or through others."""
    return _strongly_connected(edges)


def package_cycles(edges: Mapping[str, Iterable[str]]) -> list[tuple[str, list[str]]]:
    """Cycles between the children of one package: (package, the children in the cycle).

    For every package (and the top level, ``""``), each import ``a -> b`` between two of its
    different children (sub-packages or modules) is an edge between those children: so
    ``testing.x -> tools.y`` and ``tools.z -> testing.w`` are a cycle between ``testing`` and
    ``tools`` although no module imports itself back. A package importing its own sub-modules
    (or a sub-module its parent) is no edge: one contains the other.
    """
    levels: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for importer, targets in edges.items():
        for target in targets:
            a, b = importer.split("."), target.split(".")
            common = 0
            while common < min(len(a), len(b)) and a[common] == b[common]:
                common += 1
            if common == len(a) or common == len(b):
                continue  # one is a package holding the other
            parent = ".".join(a[:common])
            levels[parent][".".join(a[: common + 1])].add(".".join(b[: common + 1]))
    return [
        (parent, cycle)
        for parent in sorted(levels)
        for cycle in _strongly_connected(levels[parent])
    ]
