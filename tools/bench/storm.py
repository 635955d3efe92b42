"""Reconnect storm: every client sends a full sync against a state of about 1 KB per incident,
the sync handler (realtime_common.sync: cache refreshed by one Query per sync, frames built once
per state version, posts over blocking keep-alive sockets: sync/direct.py) against the naive
handler (read the whole state with a Query and post each frame with boto3 per sync), side by
side in one run; then the catch-up sync of a client that missed a few changes.

``python -m tools.bench.storm [--clients 5000] [--incidents 1000] [--processes N]``; ``make
bench`` runs it after the fan-out scenarios and writes docs/benchmarks/sync.md (and .json).

Each process is one execution environment (its own cache, as a Lambda execution environment
has), one per CPU but one by default: the fake management API, which stands for API Gateway,
gets a CPU of its own. More would measure the processes' contention for the CPUs (with each
other and with the fake API answering about 1 GB of posts), which Lambda environments, each
with its own share of a CPU and API Gateway elsewhere, do not have. DynamoDB is in memory
(testing/memory_dynamo.py, counting the items each call reads), so CPU is the handler's own:
parsing, the connection check's logic, the cache, encoding, framing, signing and posting. The
boto3 serialisation of the (one or two) DynamoDB calls per sync is not in either contender's
numbers. The fake management API runs in its own process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testing import terraform_defaults
from tools.bench import floor
from tools.bench.fakeapi import FakeApiProcess
from tools.paths import ROOT

STATE_TABLE = "bench-state"
CONNECTIONS_TABLE = "bench-connections"
OVERLAP_MS = 15_000
LATENCY = 0.002  # seconds the fake management API takes per post
CHANGED = 10  # incidents changed while the catch-up clients were away


@dataclass(frozen=True)
class Spec:
    contender: str  # "ours" or "naive"
    url: str
    incidents: int
    first: int  # this process's clients: first .. first + count - 1
    count: int
    catch_up: int = 0  # then this many since syncs after CHANGED changes (ours)


def _image(n: int) -> dict[str, Any]:
    return {
        "pk": f"INCIDENT#INC-{n:05d}",
        "sk": "META",
        "incidentId": f"INC-{n:05d}",
        "title": f"Structure fire, floor {n % 30}",
        "status": "open",
        "urgency": ("low", "medium", "high", "critical")[n % 4],
        "type": "fire",
        "area": "north",
        "reportedBy": "caller-555-0100",
        "location": {"lat": "40.4168", "lon": "-3.7038"},
        "units": ["AMB-3", "ENG-12"],
        "notes": "n" * 700,  # about 1 KB per incident as JSON
        "createdAt": "2026-12-06T20:00:00Z",
        "updatedAt": "2026-12-06T20:00:00Z",
    }


def _store(spec: Spec, now_ms: int) -> Any:  # noqa: ANN401
    from testing.memory_dynamo import MemoryDynamo  # noqa: PLC0415
    from testing.state_items import state_item  # noqa: PLC0415

    dynamo = MemoryDynamo(STATE_TABLE, CONNECTIONS_TABLE)
    for n in range(spec.incidents):
        dynamo.put_state(
            state_item(
                f"INC-{n:05d}", _image(n), sequence=1000 + n, changed_at_ms=now_ms - 3_600_000
            )
        )
    for n in range(spec.first, spec.first + spec.count + 2 * spec.catch_up):
        dynamo.put_connection(
            {
                "pk": {"S": f"CONN#c{n:06d}="},
                "sk": {"S": "META#"},
                # One connection in ten is a viewer: two views, two sets of frames.
                "role": {"S": "viewer" if n % 10 == 9 else "dispatcher"},
                "expiresAt": {"N": str(now_ms // 1000 + 7200)},
            }
        )
    return dynamo


def _env(url: str) -> dict[str, str]:
    return {
        "CONNECTIONS_TABLE": CONNECTIONS_TABLE,
        "WS_CALLBACK_URL": url,
        "STATE_TABLE": STATE_TABLE,
        "STATE_RETENTION_SECONDS": "86400",
        "CLOSED_STATUSES": '["closed", "resolved"]',
        "SYNC_FULL_INTERVAL_MS": "5000",
        "SYNC_CURSOR_OVERLAP_MS": str(OVERLAP_MS),
        # Unpaced here: the run measures CPU and latency; the rate's effect is computed.
        "SYNC_POST_RATE": "100000",
        "POST_MAX_ATTEMPTS": "4",
        "ROLE_VIEWS": terraform_defaults.ROLE_VIEWS,
        **terraform_defaults.FILTERS,
    }


def run_ours(spec: Spec) -> dict[str, Any]:
    from realtime_common.fanout.sigv4 import FrozenCredentials  # noqa: PLC0415
    from realtime_common.sync import cursor, post, reply  # noqa: PLC0415
    from realtime_common.sync.cache import Prepared, StateCache  # noqa: PLC0415
    from realtime_common.sync.config import SyncConfig  # noqa: PLC0415
    from realtime_common.sync.serve import serve  # noqa: PLC0415

    now_ms = int(time.time() * 1000)
    dynamo = _store(spec, now_ms)
    cfg = SyncConfig.from_env(_env(spec.url))
    cache = StateCache(
        cfg.views.audiences, overlap_ms=cfg.overlap_ms, retention_ms=cfg.retention_ms
    )
    frozen = FrozenCredentials("AKIDBENCH", "bench-secret", None)

    def credentials() -> FrozenCredentials:
        return frozen

    # The handlers' own sender (realtime_common.sync.reply), with an hour to go.
    send = reply.sender(cfg, 3600.0, credentials, lambda _m, _e: None)

    def unsent(_connection_id: str, prepared: Prepared) -> post.Delivery:
        return post.Delivery(len(prepared.frames), "delivered")

    def one(connection_id: str, body: str, poster: Any = send) -> tuple[float, Any]:  # noqa: ANN401
        began = time.process_time()
        result = serve(
            body,
            connection_id,
            cfg=cfg,
            cache=cache,
            dynamodb=dynamo,
            post=poster,
            now_ms=int(time.time() * 1000),
        )
        return (time.process_time() - began) * 1000, result

    out = _tally(
        "ours",
        spec,
        dynamo,
        [
            one(f"c{n:06d}=", '{"action":"sync"}')
            for n in range(spec.first, spec.first + spec.count)
        ],
    )
    if spec.catch_up:
        before = cursor.encode(int(time.time() * 1000))
        from testing.state_items import state_item  # noqa: PLC0415

        changed_at = int(time.time() * 1000) + 1
        for n in range(CHANGED):
            dynamo.put_state(
                state_item(
                    f"INC-{n:05d}",
                    _image(n) | {"status": "escalated"},
                    sequence=900_000 + n,
                    changed_at_ms=changed_at,
                )
            )
        dynamo.items_read = 0
        body = json.dumps({"action": "sync", "since": before})
        first = spec.first + spec.count
        # The same full syncs with the answer built but not posted: the sync's own work.
        start = first + spec.catch_up
        out["unsent"] = _tally(
            "ours",
            spec,
            dynamo,
            [
                one(f"c{n:06d}=", '{"action":"sync"}', unsent)
                for n in range(start, start + spec.catch_up)
            ],
        )
        dynamo.items_read = 0
        out["catch_up"] = _tally(
            "ours",
            spec,
            dynamo,
            [one(f"c{n:06d}=", body) for n in range(first, first + spec.catch_up)],
        )
        out["floor"] = _floor(spec, cache, cfg, send)
    return out


def _floor(spec: Spec, cache: Any, cfg: Any, send: Any) -> dict[str, Any]:  # noqa: ANN401
    """A full sync's frames (a dispatcher's) posted by the bare clients of tools/bench/floor.py
    and by ours (``send``, the handlers' sender), in alternating rounds in this one process, so
    all meet the same load."""
    from realtime_common.filters import ALL_AREAS, Filter, Permission, effective  # noqa: PLC0415
    from realtime_common.sync import messages, post  # noqa: PLC0415
    from realtime_common.sync.cache import ending_with  # noqa: PLC0415

    now_ms = int(time.time() * 1000)
    everything = effective(Filter(), Permission.of([ALL_AREAS]))
    full = cache.full(cfg.views.audience_of()["dispatcher"], now_ms, everything)
    tail = messages.complete("cursor", reset=True, count=full.count)
    answer = ending_with(full, tail)
    found: dict[str, list[float]] = {"ours": [], "polled": [], "blocking": [], "evented": []}
    rounds, per_round = 5, max(1, spec.catch_up // 5)
    for round_ in range(rounds):
        ids = [f"floor{round_}-{n:06d}=" for n in range(per_round)]
        for connection_id in ids:
            began = time.process_time()
            send(connection_id, answer)
            found["ours"].append((time.process_time() - began) * 1000)
        found["polled"] += floor.polled(spec.url, answer.frames, ids, post.IN_FLIGHT)
        found["blocking"] += floor.blocking(spec.url, answer.frames, ids)
        found["evented"] += floor.evented(spec.url, answer.frames, ids, post.IN_FLIGHT)
    return {
        "frames": len(answer.frames),
        "in_flight": post.IN_FLIGHT,
        **{f"{name}_cpu_ms": cpu for name, cpu in found.items()},
    }


def run_naive(spec: Spec) -> dict[str, Any]:
    import boto3  # noqa: PLC0415

    from realtime_common.connections import connection_key  # noqa: PLC0415
    from realtime_common.fanout.views import RoleViews  # noqa: PLC0415
    from realtime_common.sync import messages  # noqa: PLC0415
    from realtime_common.sync.store import changes_since, parse_item  # noqa: PLC0415

    now_ms = int(time.time() * 1000)
    dynamo = _store(spec, now_ms)
    views = RoleViews.parse(terraform_defaults.ROLE_VIEWS)
    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=spec.url,
        region_name="us-east-1",
        aws_access_key_id="AKIDBENCH",
        aws_secret_access_key="bench-secret",  # noqa: S106 (a fake endpoint)
    )

    def one(connection_id: str) -> tuple[float, Any]:
        began = time.process_time()
        row = dynamo.get_item(TableName=CONNECTIONS_TABLE, Key=connection_key(connection_id))[
            "Item"
        ]
        view = views.views[row["role"]["S"]]
        now_s = time.time()
        entries = [
            parse_item(i) for page in changes_since(dynamo, STATE_TABLE, None) for i in page.items
        ]
        encoded = [messages.snapshot(e, view) for e in entries if e.live(now_s)]
        frames = messages.frames(encoded, [e.sequence for e in entries])
        frames.append(messages.complete("", reset=True, count=len(encoded)))
        for frame in frames:
            client.post_to_connection(ConnectionId=connection_id, Data=frame)
        return (time.process_time() - began) * 1000, _NaiveResult(
            len(frames), sum(map(len, frames))
        )

    return _tally(
        "naive",
        spec,
        dynamo,
        [one(f"c{n:06d}=") for n in range(spec.first, spec.first + spec.count)],
    )


@dataclass(frozen=True)
class _NaiveResult:
    frames: int
    bytes: int
    status: str = "answered"
    count: int = 0


def _tally(name: str, spec: Spec, dynamo: Any, runs: list[tuple[float, Any]]) -> dict[str, Any]:  # noqa: ANN401
    cpu = [ms for ms, _ in runs]
    return {
        "contender": name,
        "syncs": len(runs),
        "answered": sum(1 for _, r in runs if r.status == "answered"),
        "cpu_ms": cpu,
        "items_read": dynamo.items_read,
        "posts": sum(r.frames for _, r in runs),
        "bytes": sum(r.bytes for _, r in runs),
        "ended": time.time(),
    }


def _run(spec: Spec) -> dict[str, Any]:
    return run_ours(spec) if spec.contender == "ours" else run_naive(spec)


def _summary(name: str, parts: list[dict[str, Any]], began: float) -> dict[str, Any]:
    cpu = [ms for p in parts for ms in p["cpu_ms"]]
    syncs = sum(p["syncs"] for p in parts)
    return {
        "contender": name,
        "syncs": syncs,
        "answered": sum(p["answered"] for p in parts),
        "items_per_sync": sum(p["items_read"] for p in parts) / syncs,
        "posts_per_sync": sum(p["posts"] for p in parts) / syncs,
        "bytes_per_sync": sum(p["bytes"] for p in parts) / syncs,
        "cpu_ms_mean": statistics.fmean(cpu),
        "cpu_ms_median": statistics.median(cpu),
        "cpu_ms_p99": sorted(cpu)[int(len(cpu) * 0.99) - 1],
        "wall_s": max(p["ended"] for p in parts) - began,
    }


def storm(clients: int, incidents: int, processes: int, naive_clients: int) -> dict[str, Any]:
    results: dict[str, Any] = {
        "clients": clients,
        "incidents": incidents,
        "processes": processes,
        "latency_ms": LATENCY * 1000,
    }
    with FakeApiProcess(latency=LATENCY) as api, ProcessPoolExecutor(processes) as pool:
        share = clients // processes
        specs = [
            Spec("ours", api.url, incidents, n * share, share, catch_up=500 if n == 0 else 0)
            for n in range(processes)
        ]
        began = time.time()
        parts = list(pool.map(_run, specs))
        results["ours"] = _summary("ours", parts, began)
        results["catch_up"] = _summary("ours", [parts[0]["catch_up"]], 0) | {"changed": CHANGED}
        results["catch_up"].pop("wall_s")
        results["unsent"] = _summary("ours", [parts[0]["unsent"]], 0)
        found = parts[0]["floor"]
        results["floor"] = {
            "frames": found["frames"],
            "in_flight": found["in_flight"],
            "polled_cpu_ms_median": statistics.median(found["polled_cpu_ms"]),
            "blocking_cpu_ms_median": statistics.median(found["blocking_cpu_ms"]),
            "evented_cpu_ms_median": statistics.median(found["evented_cpu_ms"]),
            "ours_cpu_ms_median": statistics.median(found["ours_cpu_ms"]),
        }
        per = max(1, naive_clients // processes)
        specs = [
            Spec("naive", api.url, incidents, 100_000 + n * per, per) for n in range(processes)
        ]
        began = time.time()
        naive = _summary("naive", list(pool.map(_run, specs)), began)
        # Time-boxed: its time for every client is projected from its measured rate.
        naive["wall_s_projected"] = naive["wall_s"] * clients / naive["syncs"]
        results["naive"] = naive
    return results


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def report(results: dict[str, Any], post_rate: int = 1000) -> str:
    ours, naive, catch = results["ours"], results["naive"], results["catch_up"]
    unsent, low = results["unsent"], results["floor"]
    items_ratio = naive["items_per_sync"] / ours["items_per_sync"]
    cpu_ratio = naive["cpu_ms_median"] / ours["cpu_ms_median"]
    posts_total = ours["posts_per_sync"] * results["clients"]
    n, i = results["clients"], results["incidents"]
    megabytes = ours["bytes_per_sync"] / 1e6
    return (
        "\n".join(
            [
                f"# Sync reconnect storm: {n:,} full syncs, {i:,} incidents of ~1 KB",
                "",
                f"{results['processes']} execution environment"
                f"{'' if results['processes'] == 1 else 's'} (processes, each its own cache; "
                "the fake management API has a CPU of its own); "
                f"the fake management API answers each post after {results['latency_ms']:g} ms; "
                "DynamoDB in memory, counting items read (an empty Query counts 1). CPU is per "
                f"sync, in the handler's process. The naive handler ran {naive['syncs']:,} syncs "
                "(time-boxed; its time for every client projected).",
                "",
                "| per sync | naive | ours | naive / ours |",
                "|---|---:|---:|---:|",
                f"| DynamoDB items read | {naive['items_per_sync']:,.1f} | "
                f"{ours['items_per_sync']:,.2f} | {items_ratio:,.0f}x |",
                f"| posts | {naive['posts_per_sync']:.2f} | {ours['posts_per_sync']:.2f} | |",
                f"| bytes | {naive['bytes_per_sync']:,.0f} | {ours['bytes_per_sync']:,.0f} | |",
                f"| handler CPU ms (median) | {naive['cpu_ms_median']:.2f} | "
                f"{ours['cpu_ms_median']:.3f} | {cpu_ratio:,.0f}x |",
                f"| handler CPU ms (mean / p99) | {naive['cpu_ms_mean']:.2f} / "
                f"{naive['cpu_ms_p99']:.2f} | "
                f"{ours['cpu_ms_mean']:.3f} / {ours['cpu_ms_p99']:.3f} | |",
                "| time until the last client holds the full state | "
                f"{naive['wall_s_projected']:.1f} s (projected) | {ours['wall_s']:.1f} s | |",
                "",
                f"Of ours' CPU per full sync, {unsent['cpu_ms_median']:.3f} ms (median) is the "
                "sync's own work (the connection check, the cache refresh, the answer's "
                "frames from the cache), measured with the answer built but not posted; "
                "the rest is posting "
                f"about {megabytes:.1f} MB in {ours['posts_per_sync']:.0f} posts "
                f"({low['in_flight']} at a time over blocking keep-alive sockets: signing, the "
                "HTTP exchange, the kernel's copy to the fake API).",
                "",
                "The machine's floor for posting those frames (a dispatcher's full sync, "
                f"{low['frames']} frames, the same fake API; tools/bench/floor.py), bare clients "
                "that neither sign, retry, pace nor time out, measured in alternating rounds in "
                "one process after the storm so that all meet the same load (CPU ms per answer, "
                "medians):",
                "",
                "| client | CPU ms | ours / it |",
                "|---|---:|---:|",
                *(
                    f"| {label} | {low[key + '_cpu_ms_median']:.3f} | "
                    f"{low['ours_cpu_ms_median'] / low[key + '_cpu_ms_median']:.2f} |"
                    for key, label in (
                        (
                            "polled",
                            f"bare, {low['in_flight']} at a time, blocking sockets (ours' shape)",
                        ),
                        ("blocking", "bare, one socket, one frame after another"),
                        (
                            "evented",
                            f"bare, {low['in_flight']} at a time, asyncio (the fan-out's shape)",
                        ),
                        ("ours", "ours (the handlers' sender)"),
                    )
                ),
                "",
                f"Catch-up: {catch['syncs']} since syncs after {catch['changed']} incidents "
                "changed: "
                f"{catch['items_per_sync']:.1f} items read, {catch['posts_per_sync']:.2f} posts, "
                f"{catch['bytes_per_sync']:,.0f} bytes and {catch['cpu_ms_median']:.3f} ms CPU "
                f"(median; mean {catch['cpu_ms_mean']:.3f}, "
                f"p99 {catch['cpu_ms_p99']:.3f}) per sync.",
                "",
                "Posting is paced in production "
                f"(`sync.post_rate`, default {post_rate:,}/s for the whole function): "
                f"this storm's {posts_total:,.0f} posts take at least "
                f"{posts_total / post_rate:.0f} s at that rate, the bound that decides the time to "
                "the last client in AWS (this run posts unpaced to measure CPU).",
                "",
                "Targets:",
                f"- items read: {items_ratio:,.0f}x fewer (target >= 20x): "
                f"{_met(items_ratio >= 20)}",
                f"- CPU per sync: {cpu_ratio:,.0f}x less (target >= 10x): {_met(cpu_ratio >= 10)}",
                f"- full sync of {i:,} incidents: {ours['cpu_ms_median']:.3f} ms CPU "
                f"(target <= 2 ms): {_met(ours['cpu_ms_median'] <= 2)}",
                f"- catch-up of {catch['changed']} incidents: {catch['cpu_ms_median']:.3f} ms CPU "
                f"(target <= 1 ms): {_met(catch['cpu_ms_median'] <= 1)}",
            ]
        )
        + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench.storm", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=max(1, (os.cpu_count() or 1) - 1))
    parser.add_argument("--naive-clients", type=int, default=200)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "sync.md")
    args = parser.parse_args(argv)
    print(
        f"sync storm: {args.clients:,} full syncs of {args.incidents:,} incidents ...",
        file=sys.stderr,
        flush=True,
    )
    results = storm(args.clients, args.incidents, args.processes, args.naive_clients)
    text = report(results)
    print(text)
    args.out.write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"results written to {args.out} and {args.out.with_suffix('.json')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
