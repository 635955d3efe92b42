"""Profile the fan-out's warm path, for docs/benchmarks/fanout-profile.md (``make bench-profile``).

``python -m tools.bench.profile run [--connections N] [--runs K]`` invokes the real
``broadcaster.handler`` K times (one record to N connections, after a warm-up invocation)
against the fake management API in another process, so a sampling profiler pointed at this
process sees only the warm path (``make bench-profile`` runs, with ``PYTHONPATH=functions:.``):

    py-spy record -r 1000 -f raw -o .cache/fanout-profile.txt -- \\
        .venv/bin/python -m tools.bench.profile run
    .venv/bin/python -m tools.bench.profile summarize .cache/fanout-profile.txt

``summarize`` reads py-spy's raw (collapsed-stack) output and prints each part's share of the
busy samples (waiting in epoll and imports left out) as the Markdown table the document shows.
py-spy is not a project dependency (``pip install py-spy`` into any environment): cProfile
charges every Python call and would misstate the shares.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import sys
from collections import Counter
from pathlib import Path

from tools.bench import contenders
from tools.bench.fakeapi import FakeApiProcess
from tools.bench.scenarios import LATENCY

# (what the table calls it, substrings of the sampled leaf frame that put a sample there), first
# match wins. A C function's time shows on the Python frame that called it.
PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "socket `send` (asyncio's transport write; on 127.0.0.1 the system call includes the "
        "receiving side)",
        ("_SelectorSocketTransport.write (",),
    ),
    (
        "`data_received`: aiohttp's C response parser (llhttp) and handing the answer on",
        ("_Connection.data_received (",),
    ),
    ("socket `recv` and asyncio's read path", ("_read_ready__data_received (", "_read_ready (")),
    ("SigV4 signing (`sigv4.py`: one SHA-256, one HMAC from prepared states)", ("sigv4.py",)),
    ("the engine (`engine.py`, `schedule.py`, `rate.py`)", ("engine.py", "schedule.py", "rate.py")),
    ("the wire client's pool and connections (`wire.py`)", ("wire.py",)),
    ("OpenSSL: TLS records and handshakes (`ssl.SSLObject`)", ("(ssl.py:",)),
    ("asyncio's TLS layer (`sslproto.py`)", ("sslproto.py",)),
    ("asyncio's event loop (epoll, handles, timers)", ("asyncio/", "selectors.py")),
    (
        "the handler: Scan, encoding, logs, metrics",
        ("broadcaster.py", "table.py", "frames.py", "views.py", "connections.py", "metrics.py"),
    ),
)


def run(connections: int, runs: int, *, https: bool = False) -> None:
    with FakeApiProcess(latency=LATENCY, tls=https) as fake:
        spec = {"url": fake.url, "connections": connections, "records": 1, "env": {}}
        if fake.ca_file:
            os.environ["SSL_CERT_FILE"] = fake.ca_file  # trusted by the pool's default context
        logging.disable(logging.CRITICAL)
        with contextlib.redirect_stdout(io.StringIO()):  # the metrics' EMF lines
            broadcaster = contenders.warm_broadcaster(spec)
            contenders.use_table(connections, spec)
            event = contenders.stream_event(1)
            for _ in range(runs):
                broadcaster.handler(event, contenders.lambda_context(300))


def part_of(leaf: str) -> str:
    for name, markers in PARTS:
        if any(marker in leaf for marker in markers):
            return name
    return "other"


def summarize(raw: Path) -> list[str]:
    shares: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if (
            "handler (broadcaster.py" not in stack
            or "EpollSelector.select" in frames[-1]
            or any("importlib" in frame for frame in frames)
        ):
            continue  # waiting for answers, imports, or not the handler at all
        shares[part_of(frames[-1])] += int(count)
    total = sum(shares.values()) or 1
    return [
        f"busy samples: {total:,}",
        "",
        "| where | share of the busy samples |",
        "|---|---:|",
        *(f"| {name} | {100 * n / total:.0f} % |" for name, n in shares.most_common()),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.profile", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    warm = commands.add_parser("run", help="invoke the warm handler (under a profiler)")
    warm.add_argument("--connections", type=int, default=10_000)
    warm.add_argument("--runs", type=int, default=10)
    warm.add_argument("--https", action="store_true", help="the fake serves HTTPS (TLS)")
    table = commands.add_parser("summarize", help="shares from py-spy's raw output")
    table.add_argument("raw", type=Path)
    args = parser.parse_args(argv)
    if args.command == "run":
        run(args.connections, args.runs, https=args.https)
    else:
        print("\n".join(summarize(args.raw)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
