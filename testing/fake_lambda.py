"""A stand-in for the Lambda client's ``invoke`` (moto runs functions only in Docker).

It hands the decoded event to a Python callable (a handler, or a scripted answer) and wraps the
result the way ``lambda.invoke`` does: ``Payload`` a readable stream, ``FunctionError`` set when
the callable raised.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FakeLambda:
    handler: Callable[[str, dict[str, Any]], Any]
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        assert InvocationType == "RequestResponse"
        event = json.loads(Payload)
        self.calls.append((FunctionName, event))
        try:
            answer = self.handler(FunctionName, event)
        except Exception as error:  # noqa: BLE001 - reported like Lambda does, as FunctionError
            body = json.dumps({"errorType": type(error).__name__, "errorMessage": str(error)})
            return {
                "StatusCode": 200,
                "FunctionError": "Unhandled",
                "Payload": io.BytesIO(body.encode()),
            }
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer).encode())}
