"""Backfill: fill the state table from the Incidents table on day one.

The state table is written by the Broadcaster as changes arrive on the stream, so incidents that
existed before the stream was bound (and that may not change for days) are missing from it. This
tool scans the Incidents table with the operator's own credentials (parallel Scan segments) and
writes each incident's state where none exists: backfill items carry sequence ``"0"`` and
eventName ``BACKFILL``, and every write is the state table's own conditional write
(``realtime_common.state.put_if_newer``), so a stream record always wins and running it twice
changes nothing. Run it after the stream is bound (docs/operations.md, "Day one").

Modules: ``target`` (which tables, from terraform outputs or the command line), ``scan`` (the
parallel Scan), ``write`` (one conditional write with backoff on throttling), ``run`` (the pass
and its counts), ``progress`` (the bar on stderr) and ``cli`` (``python -m tools.backfill``,
``make backfill``).
"""
