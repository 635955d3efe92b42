"""Every module under functions/ stays at most 450 lines, the limit the handlers' code holds
itself to: a module that grows past it is split by what its parts do, not let grow."""

from __future__ import annotations

import pytest

from tools.paths import ROOT

pytestmark = pytest.mark.unit

LIMIT = 450


def test_no_function_module_is_over_the_limit():
    sizes = {
        path.relative_to(ROOT).as_posix(): len(path.read_text().splitlines())
        for path in (ROOT / "functions").rglob("*.py")
    }
    assert sizes, "no modules found under functions/"
    assert {name: lines for name, lines in sizes.items() if lines > LIMIT} == {}
