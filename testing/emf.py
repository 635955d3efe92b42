"""Read CloudWatch embedded-metric-format documents back out of what a handler printed.

A handler's stdout mixes Powertools' JSON log lines and EMF documents; an EMF document is the
JSON object with an ``_aws`` key. Tests assert on these, which is exactly what CloudWatch Logs
would turn into metrics.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def documents(output: str) -> list[dict[str, Any]]:
    """Every EMF document in ``output`` (one JSON object per line), in print order."""
    found = []
    for line in output.splitlines():
        if not line.startswith("{"):
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict) and "_aws" in value:
            found.append(value)
    return found


def dimensions(document: Mapping[str, Any]) -> dict[str, str]:
    """The dimension name -> value pairs of ``document`` (every dimension set, merged)."""
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    names = {name for dimension_set in directive["Dimensions"] for name in dimension_set}
    return {name: document[name] for name in sorted(names)}


def metrics(document: Mapping[str, Any]) -> dict[str, float]:
    """Metric name -> the sum of its values in ``document`` (what CloudWatch's Sum would read).

    Powertools writes a metric added several times in one invocation as a list of values.
    """
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    totals = {}
    for entry in directive["Metrics"]:
        value = document[entry["Name"]]
        totals[entry["Name"]] = float(sum(value) if isinstance(value, list) else value)
    return totals


def units(document: Mapping[str, Any]) -> dict[str, str]:
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    return {entry["Name"]: entry["Unit"] for entry in directive["Metrics"]}


def namespace(document: Mapping[str, Any]) -> str:
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    return str(directive["Namespace"])
