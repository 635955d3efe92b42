"""One stream batch on its way through the broadcaster, as values: what was parsed and encoded
(:class:`Batch`), what the fan-out did (:class:`Delivery`) and the outcome the handler answers,
logs and counts (:class:`BroadcastResult`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from realtime_common.fanout.engine import Stats
    from realtime_common.fanout.schedule import FrameTally
    from realtime_common.state import BatchStored
    from realtime_common.stream import StreamRecord


@dataclass
class Batch:
    """A stream batch parsed into what is delivered: each record's message for each audience."""

    sequences: list[str]  # per record of the batch ("" when a record has none)
    # The well-formed records in order: batch position, raw record, parsed record.
    records: list[tuple[int, Mapping[str, Any], StreamRecord]] = field(default_factory=list)
    failed: set[int] = field(default_factory=set)  # batch positions reported failed, not sent
    positions: list[int] = field(default_factory=list)  # batch position of each message
    event_ids: list[str] = field(default_factory=list)  # of each message
    messages: list[list[bytes]] = field(default_factory=list)  # per audience, one per message
    truncated: int = 0  # messages sent as a slim envelope


@dataclass
class Delivery:
    """What the fan-out of one batch did, in this invocation or through workers."""

    tallies: list[FrameTally]
    stats: Stats
    connections: int
    without_view: int | None = None  # in this invocation: connections whose role has no view
    workers: int | None = None  # through workers: how many, and how many failed
    failed_workers: int | None = None


@dataclass(frozen=True)
class BroadcastResult:
    """One batch's outcome: the partial batch response, the log line and the metrics."""

    batch: Batch
    views: int
    frames: int
    delivery: Delivery | None  # None: nothing to send
    duration_ms: float
    failed: tuple[int, ...]  # batch positions reported failed, in order
    stored: BatchStored | None = None  # the state writes (None: none made)

    def response(self) -> dict[str, list[dict[str, str]]]:
        return {
            "batchItemFailures": [
                {"itemIdentifier": self.batch.sequences[position]} for position in self.failed
            ]
        }

    def log_fields(self) -> dict[str, Any]:
        """The ``fan-out finished`` line's fields."""
        fields: dict[str, Any] = {
            "records": len(self.batch.sequences),
            "messages": len(self.batch.event_ids),
            "frames": self.frames,
            "views": self.views,
            "truncated": self.batch.truncated,
        }
        if self.stored is not None:
            fields["state"] = self.stored.as_dict()
        sent = self.delivery
        if sent is not None:
            fields["connections"] = sent.connections
            if sent.without_view is not None:
                fields["without_view"] = sent.without_view
            fields.update(sent.stats.as_dict())
            if sent.workers is not None:
                fields["workers"] = sent.workers
                fields["failed_workers"] = sent.failed_workers
        fields["duration_ms"] = self.duration_ms
        fields["failed_records"] = len(self.failed)
        return fields
