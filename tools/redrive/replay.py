"""Invoke a consumer with exactly the fetched records, and judge the answer.

The invocation is synchronous (``RequestResponse``): the consumer's partial batch response says
which records it failed. A batch counts as processed only when the function neither raised nor
reported any record failed, so its dead-letter message is deleted only then.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

# Lambda's synchronous invocation payload limit is 6 MB; a larger batch is sent in parts.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024 - 64 * 1024


@dataclass(frozen=True)
class Outcome:
    processed: bool
    failed_sequences: tuple[str, ...] = ()
    error: str | None = None


def invoke(lambda_client: LambdaClient, function_name: str, event: dict[str, Any]) -> Outcome:
    response = lambda_client.invoke(
        FunctionName=function_name,
        InvocationType="RequestResponse",
        Payload=json.dumps(event, default=str).encode(),
    )
    raw = response["Payload"].read()
    if response.get("FunctionError"):
        return Outcome(False, error=f"{response['FunctionError']}: {raw[:500]!r}")
    try:
        answer = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        return Outcome(False, error=f"the function answered with no JSON: {raw[:200]!r}")
    failures = answer.get("batchItemFailures") if isinstance(answer, dict) else None
    failed = tuple(str(item.get("itemIdentifier")) for item in failures or [])
    if failed:
        return Outcome(False, failed_sequences=failed, error="records reported failed")
    return Outcome(True)


def split(
    records: list[dict[str, Any]], limit: int = MAX_PAYLOAD_BYTES
) -> list[list[dict[str, Any]]]:
    """The records in stream order, cut into invocations under Lambda's payload limit."""
    parts: list[list[dict[str, Any]]] = [[]]
    size = 0
    for record in records:
        record_size = len(json.dumps(record, default=str)) + 2
        if parts[-1] and size + record_size > limit:
            parts.append([])
            size = 0
        parts[-1].append(record)
        size += record_size
    return [part for part in parts if part]
