"""The Incidents table, read in parallel Scan segments (each pages at 1 MB)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from realtime_common.state import Item


def key_names(client: DynamoDBClient, table: str) -> list[str]:
    """The table's key attributes (hash, then range): what makes an incident's id."""
    schema = client.describe_table(TableName=table)["Table"]["KeySchema"]
    return [key["AttributeName"] for key in schema]


def segment_pages(
    client: DynamoDBClient, table: str, segment: int, total: int
) -> Iterator[list[Item]]:
    """The items of one segment, a Scan page at a time."""
    paginator = client.get_paginator("scan")
    for page in paginator.paginate(TableName=table, Segment=segment, TotalSegments=total):
        yield list(page.get("Items", []))


def item_count(client: DynamoDBClient, table: str) -> int:
    """DescribeTable's ItemCount (refreshed about every six hours): the progress bar's total."""
    return int(client.describe_table(TableName=table)["Table"].get("ItemCount", 0))
