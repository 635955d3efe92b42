"""Fixtures shared by every suite."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest


@pytest.fixture
def create_connections_table() -> Callable[[str], Any]:
    """Create a Connections table with the stack's key schema (pk/sk, on demand).

    It lands wherever the test's environment points boto3 (moto under ``mock_aws``); the
    callable returns the boto3 ``Table`` resource.
    """

    def create(name: str) -> Any:
        boto3.client("dynamodb").create_table(
            TableName=name,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        return boto3.resource("dynamodb").Table(name)

    return create
