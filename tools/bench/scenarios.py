"""The benchmark's scenarios and how one is run (every contender against a fresh fake)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

from tools.bench.fakeapi import FakeApiProcess
from tools.paths import ROOT

LATENCY = 0.02  # seconds the fake waits before answering each post (API Gateway-like)
STATE_LATENCY_MS = 5.0  # a DynamoDB PutItem from Lambda in the same Region: a few ms
# Every transport side by side, with ours over aiohttp's ClientSession (tools/bench/session.py).
EVERY_TRANSPORT = ("naive", "pool", "session", "ours")


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    connections: int
    records: int = 1
    contenders: tuple[str, ...] = ("naive", "pool", "ours")
    # "session": ours over aiohttp's ClientSession (tools/bench/session.py, the earlier path)
    title_bytes: int = 0  # pad each incident's title (records over ~64 KB never share a frame)
    gone_share: float = 0.0
    throttle_share: float = 0.0
    budget: float = 300.0  # the Lambda context's remaining time per invocation
    max_invocations: int = 1  # >1: re-send from the first failed record, as Lambda does
    env: dict[str, Any] = field(default_factory=dict)
    naive_box: float = 5.0
    pool_box: float = 10.0
    # Runs of "ours" (the median by CPU per post is reported, with the range): CPU time per post
    # moves with the shared machine's load from one second to the next.
    repeats: int = 1
    tls: bool = False  # the fake serves HTTPS, as the real endpoint does
    distinct: bool = False  # each record a different incident (one state write each)
    state_latency_ms: float = 0.0  # the state table's PutItem round trip
    areas: int = 0  # connections spread over this many areas (subscriptions); the record in one


def over_budget(
    name: str, title: str, connections: int, *, budget: float, max_invocations: int
) -> Scenario:
    """10 records of ~70 KB each, over the 64 KB a frame shares (one frame each), to
    ``connections`` with ``budget`` seconds per invocation, re-sent as Lambda does."""
    return Scenario(
        name,
        title,
        connections,
        records=10,
        contenders=("ours",),
        title_bytes=70_000,
        budget=budget,
        max_invocations=max_invocations,
    )


def through_workers(
    name: str, title: str, connections: int, *, threshold: int, **env: int
) -> Scenario:
    """1 record to ``connections`` handed to the in-process fan-out workers above ``threshold``
    connections (``env``: more of the broadcaster's settings)."""
    return Scenario(
        name,
        title,
        connections,
        contenders=("ours",),
        env={
            "FANOUT_WORKER_FUNCTION": "bench-fanout-worker",
            "FANOUT_WORKER_THRESHOLD": threshold,
            **env,
        },
    )


FULL = (
    Scenario("1x1k", "1 record to 1,000 connections", 1_000),
    Scenario(
        "1x10k",
        "1 record to 10,000 connections",
        10_000,
        contenders=EVERY_TRANSPORT,
        repeats=5,
    ),
    Scenario(
        "1x10k-tls",
        "1 record to 10,000 connections over HTTPS (TLS, as the real endpoint)",
        10_000,
        contenders=("ours",),
        repeats=3,
        tls=True,
    ),
    Scenario(
        "areas10k",
        "1 record in 1 of 20 areas, 10,000 connections spread over the 20 (subscriptions)",
        10_000,
        contenders=("ours",),
        areas=20,
        repeats=5,
    ),
    Scenario("1x50k", "1 record to 50,000 connections", 50_000),
    Scenario("100x1k", "100 records to 1,000 connections", 1_000, records=100),
    Scenario(
        "state100x1k",
        "100 records of 100 incidents to 1,000 connections: state writes (5 ms each) on and off",
        1_000,
        records=100,
        contenders=("nostate", "serialstate", "ours"),
        distinct=True,
        state_latency_ms=STATE_LATENCY_MS,
        repeats=3,
    ),
    Scenario(
        "gone5",
        "1 record to 10,000 connections, 5% gone (410), 2% of posts throttled (429)",
        10_000,
        contenders=("ours",),
        gone_share=0.05,
        throttle_share=0.02,
    ),
    over_budget(
        "overbudget",
        "10 records of ~70 KB (one frame each) to 2,000 connections, 6 s per invocation",
        2_000,
        budget=6.0,
        max_invocations=20,
    ),
    over_budget(
        "starved",
        "10 records of ~70 KB to 2,000 connections, 1.5 s per invocation (less than one frame)",
        2_000,
        budget=1.5,
        max_invocations=30,
    ),
    through_workers(
        "workers100k",
        "1 record to 100,000 connections through 4 worker processes (parallel Scan segments)",
        100_000,
        threshold=25_000,
        FANOUT_MAX_WORKERS=4,
        FANOUT_CONCURRENCY=128,
    ),
)

QUICK = (
    Scenario(
        "1x1k",
        "1 record to 1,000 connections",
        1_000,
        contenders=EVERY_TRANSPORT,
        naive_box=2.0,
        pool_box=3.0,
    ),
    over_budget(
        "overbudget",
        "10 records of ~70 KB (one frame each) to 300 connections, 0.4 s per invocation",
        300,
        budget=0.4,
        max_invocations=20,
    ),
    through_workers(
        "workers4k",
        "1 record to 4,000 connections through 2 worker processes",
        4_000,
        threshold=2_000,
    ),
)


def run_contender(scenario: Scenario, contender: str, fake: FakeApiProcess) -> dict[str, Any]:
    fake.reset()
    spec = {
        "contender": contender,
        "url": fake.url,
        "connections": scenario.connections,
        "records": scenario.records,
        "title_bytes": scenario.title_bytes,
        "gone_share": scenario.gone_share,
        "budget": scenario.budget,
        "max_invocations": scenario.max_invocations,
        "env": scenario.env,
        "time_box": scenario.naive_box if contender == "naive" else scenario.pool_box,
        "distinct": scenario.distinct,
        "state_latency_ms": scenario.state_latency_ms,
        "areas": scenario.areas,
    }
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "functions"), str(ROOT)]))
    if fake.ca_file:
        env["SSL_CERT_FILE"] = fake.ca_file  # OpenSSL's default trust store: the fake's CA
    child = subprocess.run(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", "tools.bench.contenders", json.dumps(spec)],
        capture_output=True,
        check=False,
        cwd=ROOT,
        env=env,
        timeout=1800,
    )
    if child.returncode != 0:
        raise RuntimeError(f"{scenario.name}/{contender} failed:\n{child.stderr.decode()[-3000:]}")
    result: dict[str, Any] = json.loads(child.stdout.decode().strip().splitlines()[-1])
    stats = fake.stats()
    if contender in ("ours", "session", "nostate", "serialstate"):
        posts = int(stats["posts"])
        # With areas, only the record's area's connections are owed it.
        owed = scenario.connections // max(1, scenario.areas)
        deliveries = owed * scenario.records
        result.update(
            {
                "posts": posts,
                "deliveries": deliveries,
                "posts_per_s": posts / result["seconds"],
                "deliveries_per_s": deliveries / result["seconds"],
                "time_to_last_client_s": (stats["last_finished"] or 0.0)
                - result["started_monotonic"],
                "time_to_first_client_s": (stats["first_started"] or 0.0)
                - result["started_monotonic"],
                "projected": False,
                "cpu_ms_per_post": result["cpu_s"] * 1000 / max(1, posts),
                "statuses": stats["statuses"],
            }
        )
    result["contender"] = contender
    return result


def run_scenario(scenario: Scenario) -> dict[str, Any]:
    with FakeApiProcess(
        latency=LATENCY,
        gone_share=scenario.gone_share,
        throttle_share=scenario.throttle_share,
        tls=scenario.tls,
    ) as fake:
        results = {}
        for contender in scenario.contenders:
            if contender in ("ours", "nostate", "serialstate") and scenario.repeats > 1:
                results[contender] = median_run(
                    [run_contender(scenario, contender, fake) for _ in range(scenario.repeats)]
                )
            else:
                results[contender] = run_contender(scenario, contender, fake)
    return {
        "scenario": scenario.name,
        "title": scenario.title,
        "connections": scenario.connections,
        "records": scenario.records,
        "areas": scenario.areas,
        "results": results,
    }


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median CPU per post, carrying every run's CPU per post and time."""
    ordered = sorted(runs, key=lambda r: r["cpu_ms_per_post"])
    median = dict(ordered[len(ordered) // 2])
    median["cpu_ms_per_post_runs"] = [r["cpu_ms_per_post"] for r in runs]
    median["time_to_last_client_s_runs"] = [r["time_to_last_client_s"] for r in runs]
    median["time_to_first_client_s_runs"] = [r.get("time_to_first_client_s") for r in runs]
    return median
