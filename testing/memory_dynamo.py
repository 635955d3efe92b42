"""An in-memory DynamoDB for the sync (the benchmark's storm, the property test of its
guarantee): the state table (Query on ``byChange``) and the Connections table (GetItem, the
sync's conditional UpdateItem), with a count of the items every call read, so the benchmark
measures the sync's own work and reports what DynamoDB would bill.

Only what the sync and the naive handler send is understood; anything else raises.
"""

from __future__ import annotations

import bisect
import copy
from typing import Any

from botocore.exceptions import ClientError

PAGE_BYTES = 1024 * 1024  # a Query page stops at 1 MB


class ConditionalCheckFailedException(ClientError):
    pass


class _Exceptions:
    ConditionalCheckFailedException = ConditionalCheckFailedException


class MemoryDynamo:
    exceptions = _Exceptions

    def __init__(self, state_table: str, connections_table: str) -> None:
        self.state_table = state_table
        self.connections_table = connections_table
        self.state: dict[str, dict[str, Any]] = {}
        self.sizes: dict[str, int] = {}
        self._feed: list[tuple[int, str]] = []  # (changedAt, pk), sorted
        self.connections: dict[str, dict[str, Any]] = {}
        self.items_read = 0
        self.calls = 0

    # -------------------------------------------------------------------------------------
    def put_state(self, item: dict[str, Any]) -> None:
        pk = item["pk"]["S"]
        old = self.state.get(pk)
        if old is not None:
            self._feed.remove((int(old["changedAt"]["N"]), pk))
        self.state[pk] = item
        self.sizes[pk] = len(repr(item))
        bisect.insort(self._feed, (int(item["changedAt"]["N"]), pk))

    def put_connection(self, item: dict[str, Any]) -> None:
        self.connections[item["pk"]["S"]] = item

    # -------------------------------------------------------------------------------------
    def query(self, **kwargs: Any) -> dict[str, Any]:  # noqa: ANN401
        self.calls += 1
        if kwargs.get("TableName") != self.state_table or kwargs.get("IndexName") != "byChange":
            raise NotImplementedError(kwargs)
        values = kwargs["ExpressionAttributeValues"]
        since = int(values[":since"]["N"]) if ":since" in values else -1
        start = kwargs.get("ExclusiveStartKey")
        position = bisect.bisect_left(self._feed, (since, ""))
        if start is not None:
            position = bisect.bisect_right(
                self._feed, (int(start["changedAt"]["N"]), start["pk"]["S"])
            )
        items = []
        size = 0
        last = None
        while position < len(self._feed) and size < PAGE_BYTES:
            changed, pk = self._feed[position]
            items.append(self.state[pk])
            size += self.sizes[pk]
            last = {
                "pk": {"S": pk},
                "sk": {"S": "STATE#"},
                "feed": {"S": "F#0"},
                "changedAt": {"N": str(changed)},
            }
            position += 1
        self.items_read += max(1, len(items))  # an empty Query still costs a read
        page: dict[str, Any] = {"Items": items, "Count": len(items), "ScannedCount": len(items)}
        if position < len(self._feed) and last is not None:
            page["LastEvaluatedKey"] = last
        return page

    def get_item(self, **kwargs: Any) -> dict[str, Any]:  # noqa: ANN401
        self.calls += 1
        self.items_read += 1
        item = self.connections.get(kwargs["Key"]["pk"]["S"])
        return {} if item is None else {"Item": copy.copy(item)}

    def update_item(self, **kwargs: Any) -> dict[str, Any]:  # noqa: ANN401
        """The sync's conditional write of lastFullSyncAt (realtime_common.sync.connection)."""
        self.calls += 1
        self.items_read += 1
        values = kwargs["ExpressionAttributeValues"]
        item = self.connections.get(kwargs["Key"]["pk"]["S"])
        last = None if item is None else item.get("lastFullSyncAt")
        ok = (
            item is not None
            and int(item["expiresAt"]["N"]) > int(values[":seconds"]["N"])
            and (last is None or int(last["N"]) <= int(values[":cutoff"]["N"]))
        )
        if not ok or item is None:
            response: Any = {
                "Error": {"Code": "ConditionalCheckFailedException"},
                "Item": item or {},
            }
            raise ConditionalCheckFailedException(response, "UpdateItem")
        item["lastFullSyncAt"] = values[":now"]
        return {"Attributes": copy.copy(item)}
