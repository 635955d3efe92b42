"""``python -m tools.backfill --env ENV [--table NAME] [--dry-run] [--segments N]``.

``--env local`` backfills the stack `make up` runs (its recorded outputs, its emulator); any other
environment reads ``terraform output -json`` of ``.terraform/<env>`` (tools.tfoutputs).

Exit status: 0 when every incident's state is stored (or already was), 1 when some could not be
written (each is listed), 2 on a usage or configuration error.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from tools import tfoutputs
from tools.backfill import local, scan, target
from tools.backfill.progress import Bar
from tools.backfill.run import MAX_REPORTED_FAILURES, Options, Report, backfill

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# A configuration error: exit status 2, with its message (tools.tfoutputs.refuse).
CONFIG_ERRORS: tuple[type[Exception], ...] = (
    *tfoutputs.CONFIG_ERRORS,
    target.TargetError,
    local.StackError,
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="backfill",
        description="Write each incident of the Incidents table into the state table where it has "
        "no state yet (a stream record always wins). Run it after the stream is bound.",
    )
    tfoutputs.add_arguments(parser, "the tables")
    parser.add_argument(
        "--table", help="the Incidents table (default: the table of the bound incidents stream)"
    )
    parser.add_argument("--dry-run", action="store_true", help="count what would be written")
    parser.add_argument(
        "--segments", type=int, default=4, help="parallel Scan segments (1-1000; default 4)"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.segments <= 1000:
        parser.error("--segments must be between 1 and 1000")
    return args


def default_client() -> DynamoDBClient:
    import boto3  # noqa: PLC0415 - a client (and credentials) only when a real run needs one
    from botocore.config import Config  # noqa: PLC0415

    return boto3.client(
        "dynamodb", config=Config(max_pool_connections=64, retries={"mode": "standard"})
    )


def summary(report: Report) -> str:
    lines = [f"{name}: {value:,}" for name, value in report.counts().items()]
    lines += [
        f"FAILED {incident}: {error}" for incident, error in report.failed[:MAX_REPORTED_FAILURES]
    ]
    if len(report.failed) > MAX_REPORTED_FAILURES:
        lines.append(f"... and {len(report.failed) - MAX_REPORTED_FAILURES} more failed")
    if report.failed:
        lines.append("run it again to retry them: what is already stored is skipped")
    return "\n".join(lines)


def main(
    argv: Sequence[str] | None = None,
    client: Callable[[], DynamoDBClient] = default_client,
    io: tfoutputs.Io | None = None,
) -> int:
    io = io or tfoutputs.Io()
    args = parse_args(argv)
    make_client = client
    try:
        if args.env == local.ENV_NAME:
            raw, emulator_client = local.running_stack(os.environ)
            make_client = lambda: emulator_client  # noqa: E731
        else:
            raw = tfoutputs.read(args, io.runner)
        chosen = target.from_outputs(raw, args.table)
    except CONFIG_ERRORS as error:
        return tfoutputs.refuse("backfill", error, io)
    dynamodb = make_client()
    print(
        f"backfill: {chosen.incidents_table} -> {chosen.settings.table}"
        + (" (dry run: nothing is written)" if args.dry_run else ""),
        file=io.err,
    )
    bar = Bar(io.err, scan.item_count(dynamodb, chosen.incidents_table))
    report = backfill(
        dynamodb,
        chosen,
        Options(segments=args.segments, dry_run=args.dry_run),
        progress=lambda current: bar.show(current.counts()),
    )
    bar.show(report.counts(), final=True)
    print(summary(report), file=io.out)
    return 0 if report.ok else 1
