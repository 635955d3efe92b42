"""``--env local``: the stack `make up` runs, its outputs as recorded and its emulator's endpoint
(no ``terraform init`` against a backend on another port)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tools.localenv import clients
from tools.localenv import stack as localenv
from tools.localenv.config import ENV_NAME, LocalEnv

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["ENV_NAME", "StackError", "running_stack"]

StackError = localenv.StackError


def running_stack(environ: Mapping[str, str]) -> tuple[dict[str, Any], DynamoDBClient]:
    """The local stack's outputs (shaped as ``terraform output -json``) and a DynamoDB client on
    its emulator; StackError when it is not up."""
    state = localenv.require_stack(LocalEnv.from_environ(environ))
    outputs = {name: {"value": value} for name, value in state.outputs.items()}
    return outputs, clients.dynamodb(state.endpoint)
