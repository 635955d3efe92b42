"""An in-memory Connections table: just enough of the DynamoDB client for the fan-out (paged and
segmented Scan, DeleteItem, DescribeTable), so the benchmark measures posting, not DynamoDB; and
the state table's PutItem, with a simulated round trip (DynamoDB answers a single-item write in a
few milliseconds from inside its Region)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

from realtime_common.connections import connection_id_from_pk

PAGE = 1000


def area_name(n: int) -> str:
    return f"district-{n:02d}"


def connection_ids(count: int) -> list[str]:
    """The benchmark's connection ids (API Gateway-like: base64 text ending in '=')."""
    return [f"bench{n:07d}Aw=" for n in range(count)]


class MemoryConnections:
    writes = 0  # state writes made by every instance (the handler keeps its first client)
    _lock = threading.Lock()

    def __init__(self, count: int, put_latency: float = 0.0, areas: int = 0) -> None:
        """``areas``: spread the connections over that many areas, one permission each
        (connection n sees ``area_name(n % areas)``); 0: rows without subscriptions."""
        self.ids = connection_ids(count)
        self.areas = (
            {cid: {"S": json.dumps([area_name(n % areas)])} for n, cid in enumerate(self.ids)}
            if areas
            else {}
        )
        self.deleted: set[str] = set()
        self.put_latency = put_latency

    def put_item(self, **kwargs: Any) -> dict[str, Any]:  # noqa: ANN401
        """A state write: one round trip of ``put_latency`` (the thread sleeps, as it would
        waiting for DynamoDB's answer); every condition holds."""
        time.sleep(self.put_latency)
        with MemoryConnections._lock:
            MemoryConnections.writes += 1
        return {}

    def get_paginator(self, name: str) -> MemoryConnections:
        if name != "scan":
            raise NotImplementedError(name)
        return self

    def paginate(self, **kwargs: Any) -> Iterator[dict[str, Any]]:  # noqa: ANN401
        segment = int(kwargs.get("Segment", 0))
        total = int(kwargs.get("TotalSegments", 1))
        mine = self.ids[segment::total]
        for start in range(0, len(mine), PAGE):
            yield {
                "Items": [
                    {
                        "pk": {"S": "CONN#" + cid},
                        "expiresAt": {"N": "9999999999"},
                        # One connection in ten is a viewer: two views, two encodings per record.
                        "role": {"S": "viewer" if cid[-5] == "9" else "dispatcher"},
                        **({"areas": self.areas[cid]} if cid in self.areas else {}),
                    }
                    for cid in mine[start : start + PAGE]
                    if cid not in self.deleted
                ]
            }

    def delete_item(self, **kwargs: Any) -> dict[str, Any]:  # noqa: ANN401
        connection_id = connection_id_from_pk(kwargs["Key"]["pk"]["S"])
        if connection_id is None:
            raise ValueError(f"not a connection key: {kwargs['Key']}")
        self.deleted.add(connection_id)
        return {}

    def describe_table(self, **kwargs: Any) -> dict[str, Any]:  # noqa: ANN401
        return {"Table": {"ItemCount": len(self.ids) - len(self.deleted)}}
