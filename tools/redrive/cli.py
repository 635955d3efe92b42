"""``python -m tools.redrive --env ENV [--function broadcaster|notifier] [--dry-run]``.

Exit status: 0 when every parked batch was replayed and its message deleted (or, with
``--dry-run``, could be), 1 when records were lost or a replay failed (the report says which),
2 on a usage or configuration error.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from tools import tfoutputs
from tools.redrive import outputs
from tools.redrive.run import DEFAULT_VISIBILITY_TIMEOUT, Clients, Report, redrive


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="redrive",
        description="Replay the Incidents stream records parked in the consumers' dead-letter "
        "queues, while the stream still retains them (24 h).",
    )
    tfoutputs.add_arguments(parser, "the queues")
    parser.add_argument("--function", choices=outputs.CONSUMERS, help="only this consumer")
    parser.add_argument(
        "--dry-run", action="store_true", help="list what would be replayed; change nothing"
    )
    parser.add_argument(
        "--discard-lost",
        action="store_true",
        help="delete a message even when some of its records were past retention (reported)",
    )
    parser.add_argument("--limit", type=int, help="at most this many messages per queue")
    parser.add_argument(
        "--visibility-timeout", type=int, default=DEFAULT_VISIBILITY_TIMEOUT, help=argparse.SUPPRESS
    )
    return parser.parse_args(argv)


def default_clients() -> Clients:
    import boto3  # noqa: PLC0415 - clients (and credentials) only when a real run needs them

    return Clients(
        sqs=boto3.client("sqs"),
        streams=boto3.client("dynamodbstreams"),
        lambda_=boto3.client("lambda"),
    )


def summary(report: Report, dry_run: bool) -> str:
    lines = [
        f"would replay: {len(report.would_replay)} batch(es)"
        if dry_run
        else f"replayed: {len(report.replayed)} batch(es), {report.records_replayed} record(s)"
    ]
    for label, entries in (
        ("LOST (past retention)", report.lost),
        ("FAILED", report.failed),
        ("UNREADABLE", report.unreadable),
    ):
        lines += [f"{label}: {entry}" for entry in entries]
    return "\n".join(lines)


def main(
    argv: Sequence[str] | None = None,
    clients: Callable[[], Clients] = default_clients,
    io: tfoutputs.Io | None = None,
) -> int:
    io = io or tfoutputs.Io()
    args = parse_args(argv)
    try:
        chosen = outputs.targets(tfoutputs.read(args, io.runner), args.function)
    except tfoutputs.CONFIG_ERRORS as error:
        return tfoutputs.refuse("redrive", error, io)

    def progress(line: str) -> None:
        print(line, file=io.err, flush=True)

    progress(
        "redrive: reading the Incidents stream beside the Broadcaster and the Notifier makes this "
        "a third reader of its shards (DynamoDB Streams allows two; one for a global table): "
        "throttled reads are retried with backoff and reported"
    )

    report = redrive(
        clients(),
        chosen,
        dry_run=args.dry_run,
        progress=progress,
        discard_lost=args.discard_lost,
        limit=args.limit,
        visibility_timeout=args.visibility_timeout,
    )
    print(summary(report, args.dry_run), file=io.out)
    return 0 if report.ok else 1
