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
    # The alarm map's entries name their section (runbook = "..."); the metric-math alarm
    # links its own.
    definitions = terraform.split("alarm_definitions = merge(", 1)[1].split("\nresource ", 1)[0]
    sections = re.findall(r'^\s+runbook\s+= "([a-z0-9-]+)"$', definitions, flags=re.MULTILINE)
    # The per-function alarms name theirs by kind: runbook = "function-${kind}", one section per
    # key of function_alarms.
    templated = re.findall(r'^\s+runbook\s+= "([a-z0-9-]*)\$\{kind\}"$', definitions, re.MULTILINE)
    kinds_block = terraform.split("function_alarms = {", 1)[1].split("\n  }\n", 1)[0]
    kinds = re.findall(r"^    ([a-z_]+) = \{$", kinds_block, flags=re.MULTILINE)
    assert kinds, "monitoring.tf's function_alarms has no kinds"
    metrics = re.findall(r"^\s+metric_name\s+= ", definitions, flags=re.MULTILINE)
    # Every definition names a section.
    assert sections and len(sections) + len(templated) == len(metrics)
    sections += [prefix + kind for prefix in templated for kind in kinds]
    linked = set(sections) | set(re.findall(r"\$\{local\.runbook\}#([a-z0-9-]+)", terraform))
    alarms = len(re.findall(r'resource "aws_cloudwatch_metric_alarm"', terraform))
    assert len(linked) >= alarms
    missing = linked - anchors((ROOT / "docs" / "operations.md").read_text())
    assert not missing, f"docs/operations.md has no section for {sorted(missing)}"
