"""Which tables a backfill reads and writes, and the state settings it writes with.

From ``terraform output -json`` (the same working directory tools.redrive reads): the state table
(``state_table_name``), its settings (``incident_state``) and the Incidents table, named by the
stream the stack is bound to (``incidents_stream_arn``) unless the operator names it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from realtime_common.state import IncidentState

# arn:<partition>:dynamodb:<region>:<account>:table/<name>/stream/<label>
_STREAM_ARN = re.compile(r"^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table/([^/]+)/stream/.+$")


class TargetError(RuntimeError):
    """The outputs (or the arguments) do not say which tables to backfill."""


@dataclass(frozen=True)
class Target:
    incidents_table: str
    settings: IncidentState  # its table is the state table


def table_of_stream(stream_arn: str) -> str:
    """The table name in a DynamoDB stream ARN."""
    match = _STREAM_ARN.match(stream_arn)
    if match is None:
        raise TargetError(
            f"{stream_arn!r} is not a DynamoDB stream ARN "
            "(arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>)"
        )
    return match.group(1)


def from_outputs(outputs: Mapping[str, Any], table: str | None = None) -> Target:
    """The target from ``terraform output -json`` (``{"name": {"value": ...}}``); ``table``
    names the Incidents table instead of the bound stream."""

    def value(name: str) -> Any:  # noqa: ANN401 (an output's JSON value)
        entry = outputs.get(name)
        return entry.get("value") if isinstance(entry, Mapping) else None

    state_table = value("state_table_name")
    settings = value("incident_state")
    if not isinstance(state_table, str) or not isinstance(settings, Mapping):
        raise TargetError(
            "the outputs have no state_table_name or incident_state: apply this version of the "
            "stack first (it creates the state table)"
        )
    if not table:
        stream = value("incidents_stream_arn")
        if not isinstance(stream, str) or not stream:
            raise TargetError(
                "incidents_stream_arn is not set in this deployment: bind the stream first "
                "(a stream record must win over a backfilled item), or name the table: TABLE=..."
            )
        table = table_of_stream(stream)
    try:
        retention = int(settings["retention_seconds"])
        closed = frozenset(str(s).lower() for s in settings["closed_statuses"])
    except (KeyError, TypeError, ValueError) as error:
        raise TargetError(f"incident_state output is not readable: {json.dumps(settings)}") from (
            error
        )
    return Target(incidents_table=table, settings=IncidentState(state_table, retention, closed))
