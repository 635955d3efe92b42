"""Where to redrive from: the dead-letter queue URLs and function names in terraform outputs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tools.redrive.run import Target
from tools.tfoutputs import OutputsError

CONSUMERS = ("broadcaster", "notifier")
__all__ = ["CONSUMERS", "OutputsError", "targets"]


def targets(outputs: Mapping[str, Any], only: str | None = None) -> list[Target]:
    """The consumers to redrive, from ``terraform output -json`` (``{"name": {"value": ...}}``)."""

    def value(name: str) -> dict[str, str]:
        entry = outputs.get(name)
        found = entry.get("value") if isinstance(entry, Mapping) else None
        return {str(k): str(v) for k, v in found.items()} if isinstance(found, Mapping) else {}

    queues = value("dead_letter_queue_urls")
    functions = value("function_names")
    if not queues:
        raise OutputsError(
            "dead_letter_queue_urls is empty: this deployment has no stream mappings "
            "(incidents_stream_arn unset), so there is nothing to redrive"
        )
    chosen = [only] if only else list(CONSUMERS)
    found = []
    for name in chosen:
        if name not in queues or name not in functions:
            raise OutputsError(f"the outputs name no dead-letter queue or function for {name!r}")
        found.append(Target(name=name, queue_url=queues[name], function_name=functions[name]))
    return found
