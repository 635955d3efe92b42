"""Print broadcaster fan-out throughput against the fake management API (make bench-fanout).

Runs the real delivery code (shared pooled boto3 client, thread pool, SigV4 signing) against
testing/fake_management_api.py on 127.0.0.1, for a few connection counts, concurrencies and
API latencies. The Connections table is an in-memory stand-in so only the fan-out is measured.
Numbers are printed, never asserted: they depend on the machine.

    python scripts/bench_fanout.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "functions"), str(ROOT)]
# Fake credentials: requests are signed as for AWS but only ever reach 127.0.0.1.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "LOG_LEVEL": "WARNING",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)

import broadcaster  # noqa: E402
from realtime_common import aws  # noqa: E402
from testing.fake_management_api import FakeManagementApi  # noqa: E402

SCENARIOS = [
    # connections, messages per batch, concurrency, API latency (s)
    (200, 1, 1, 0.0),
    (200, 1, 8, 0.0),
    (200, 1, 32, 0.0),
    (500, 1, 8, 0.02),
    (500, 1, 32, 0.02),
    (500, 1, 64, 0.02),
    (100, 10, 32, 0.02),
    (1000, 1, 32, 0.05),
]
QUICK = [(100, 1, 8, 0.0), (200, 1, 32, 0.02)]


class MemoryConnections:
    """Just enough of the DynamoDB client for list_connections and the 410 clean-up."""

    def __init__(self, count: int) -> None:
        self.items = [
            {"pk": {"S": f"CONN#bench-{n:05d}="}, "expiresAt": {"N": "9999999999"}}
            for n in range(count)
        ]

    def get_paginator(self, name: str) -> MemoryConnections:
        return self

    def paginate(self, **kwargs: object) -> Iterator[dict[str, Any]]:
        for start in range(0, len(self.items), 1000):
            yield {"Items": self.items[start : start + 1000]}

    def delete_item(self, **kwargs: object) -> dict[str, Any]:
        return {}


def event(messages: int) -> dict[str, Any]:
    record = json.loads((ROOT / "events" / "stream-modify.json").read_text())["Records"][0]
    records = []
    for n in range(messages):
        copy = json.loads(json.dumps(record))
        copy["eventID"] = f"bench-{n}"
        copy["dynamodb"]["SequenceNumber"] = f"3000000000000000{n:05d}"
        records.append(copy)
    return {"Records": records}


def run(connections: int, messages: int, concurrency: int, latency: float) -> dict[str, Any]:
    aws.reset_clients()
    with FakeManagementApi(latency=latency) as api:
        cfg = broadcaster.BroadcastConfig("bench", api.url, concurrency, max_attempts=4)
        management = aws.management_api_client(api.url, concurrency)
        batch = event(messages)  # read and copied before the clock starts
        started = time.perf_counter()
        response = broadcaster.broadcast(
            batch,
            cfg,
            management=management,
            dynamodb=MemoryConnections(connections),
            deadline=math.inf,
        )
        elapsed = time.perf_counter() - started
        posts = len(api.posts)
        peak = api.max_in_flight
    return {
        "connections": connections,
        "messages": messages,
        "concurrency": concurrency,
        "latency_ms": latency * 1000,
        "posts": posts,
        "seconds": elapsed,
        "posts_per_s": posts / elapsed if elapsed else float("inf"),
        "peak_in_flight": peak,
        "failed": len(response["batchItemFailures"]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two small scenarios only")
    args = parser.parse_args()
    print(f"fan-out benchmark (python {sys.version.split()[0]}, {os.cpu_count()} CPUs)")
    header = (
        f"{'connections':>11} {'msgs':>4} {'conc':>4} {'latency':>8} {'posts':>6} "
        f"{'seconds':>8} {'posts/s':>8} {'peak':>5} {'failed':>6}"
    )
    print(header)
    for scenario in QUICK if args.quick else SCENARIOS:
        r = run(*scenario)
        print(
            f"{r['connections']:>11} {r['messages']:>4} {r['concurrency']:>4} "
            f"{r['latency_ms']:>6.0f}ms {r['posts']:>6} {r['seconds']:>8.2f} "
            f"{r['posts_per_s']:>8.0f} {r['peak_in_flight']:>5} {r['failed']:>6}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
