"""One backfill pass: parallel Scan segments, a conditional write per incident, the counts."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from realtime_common.state import StateWriteError, Written, backfill_item, incident_id, now_ms
from tools.backfill import scan
from tools.backfill.write import Backoff, incident_of, put_with_backoff, state_exists

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from realtime_common.state import Item
    from tools.backfill.target import Target

MAX_REPORTED_FAILURES = 50


@dataclass
class Report:
    """What a pass did. ``failed`` lists (incident id, error) of every write that did not land;
    ``skipped`` counts incidents whose state was already there (a stream record or an earlier
    backfill: never overwritten)."""

    scanned: int = 0
    written: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    dry_run: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return not self.failed

    def counts(self) -> dict[str, int]:
        return {
            "scanned": self.scanned,
            "would write" if self.dry_run else "written": self.written,
            "skipped (state exists)": self.skipped,
            "failed": len(self.failed),
        }


@dataclass(frozen=True)
class Options:
    segments: int = 4
    writers: int = 16
    dry_run: bool = False
    backoff: Backoff = field(default_factory=Backoff)


def backfill(
    client: DynamoDBClient,
    target: Target,
    options: Options,
    progress: Callable[[Report], None] = lambda report: None,
) -> Report:
    """Scan ``target.incidents_table`` and write each incident's state where none exists."""
    run = _Pass(client, target, options, Report(dry_run=options.dry_run))
    run.keys = scan.key_names(client, target.incidents_table)
    with ThreadPoolExecutor(options.writers, thread_name_prefix="backfill-write") as writers:

        def one(incident: Item) -> None:
            run.write(incident)
            progress(run.report)

        def segment(number: int) -> None:
            pages = scan.segment_pages(client, target.incidents_table, number, options.segments)
            for page in pages:
                run.add(scanned=len(page))
                # Wait for the page's writes before reading the next: memory stays one page
                # per segment, and the writers set the pace.
                list(writers.map(one, page))

        with ThreadPoolExecutor(options.segments, thread_name_prefix="backfill-scan") as scans:
            list(scans.map(segment, range(options.segments)))
    return run.report


@dataclass
class _Pass:
    client: DynamoDBClient
    target: Target
    options: Options
    report: Report
    keys: list[str] = field(default_factory=list)
    started_ms: int = field(default_factory=now_ms)

    def add(self, *, scanned: int = 0, written: int = 0, skipped: int = 0) -> None:
        with self.report._lock:
            self.report.scanned += scanned
            self.report.written += written
            self.report.skipped += skipped

    def fail(self, incident: str, error: str) -> None:
        with self.report._lock:
            self.report.failed.append((incident, error))

    def write(self, incident: Item) -> None:
        try:
            key_values = {name: incident[name] for name in self.keys}
            event_id = f"backfill-{incident_id(key_values)}"  # unique: clients dedupe on it
            item = backfill_item(
                key_values, incident, self.target.settings, self.started_ms, event_id
            )
        except (KeyError, ValueError) as error:
            self.fail(str({k: incident.get(k) for k in self.keys}), f"not an incident: {error}")
            return
        table = self.target.settings.table
        try:
            if self.options.dry_run:
                exists = state_exists(self.client, table, item)
                outcome = Written.NEWER_EXISTS if exists else Written.STORED
            else:
                outcome = put_with_backoff(self.client, table, item, self.options.backoff)
        except StateWriteError as error:
            self.fail(incident_of(item), str(error))
            return
        if outcome is Written.STORED:
            self.add(written=1)
        else:
            self.add(skipped=1)
