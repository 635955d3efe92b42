"""Every alarm description links a section of docs/operations.md that exists."""

from __future__ import annotations

import re

import pytest

from tools.paths import ROOT

pytestmark = pytest.mark.unit


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower-cased, punctuation dropped, spaces to hyphens."""
    return {
        re.sub(r"[^a-z0-9 -]", "", heading.strip().lower()).replace(" ", "-")
        for heading in re.findall(r"^#{1,6} (.+)$", markdown, flags=re.MULTILINE)
    }


def test_every_alarm_links_an_existing_runbook_section() -> None:
    terraform = (ROOT / "monitoring.tf").read_text()
    linked = set(re.findall(r"\$\{local\.runbook\}#([a-z0-9-]+)", terraform))
    alarms = len(re.findall(r'resource "aws_cloudwatch_metric_alarm"', terraform))
    assert len(linked) >= alarms  # every alarm resource links its own section
    missing = linked - anchors((ROOT / "docs" / "operations.md").read_text())
    assert not missing, f"docs/operations.md has no section for {sorted(missing)}"
