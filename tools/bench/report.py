"""The comparison table (printed) and the committed results file (Markdown + JSON)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

NAMES = {
    "naive": "naive loop",
    "pool": "boto3 pool (32)",
    "session": "ours, aiohttp ClientSession (before)",
    "ours": "ours",
    "nostate": "ours, state writes off",
    "serialstate": "ours, state writes one at a time",
}


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "host": platform.node(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "load_average_1m": round(load[0], 2),
        "python": platform.python_version(),
        "commit": _commit(),
    }


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def rows(scenario: dict[str, Any]) -> list[str]:
    results = scenario["results"]
    lines = [
        f"### {scenario['scenario']}: {scenario['title']}",
        "",
        "| contender | posts | deliveries/s | posts/s | time to last client | CPU ms/post "
        "| peak RSS MB | vs naive | vs pool |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        ratios = []
        for base in ("naive", "pool"):
            other = results.get(base)
            if other is None or base == name:
                ratios.append("")
            else:
                ratios.append(f"{r['deliveries_per_s'] / other['deliveries_per_s']:.1f}x")
        last = f"{r['time_to_last_client_s']:.2f} s" + (" (projected)" if r["projected"] else "")
        lines.append(
            f"| {NAMES[name]} | {r['posts']:,} | {r['deliveries_per_s']:,.0f} "
            f"| {r['posts_per_s']:,.0f} | {last} | {r['cpu_ms_per_post']:.3f} "
            f"| {r['peak_rss_mb']:.0f} | {ratios[0]} | {ratios[1]} |"
        )
    ours = results.get("ours")
    if ours is not None:
        notes = [
            f"failed records {ours['failed_records']}, invocations {ours['invocations']}",
            f"rows deleted {ours['rows_deleted']}"
            + (" (exactly the gone ones)" if ours["rows_deleted_exactly_the_gone"] else ""),
            f"statuses {ours.get('statuses')}",
        ]
        if ours["checkpoints"]:
            notes.append(f"checkpoint after each timed-out invocation: {ours['checkpoints']}")
        if "cpu_ms_per_post_runs" in ours:
            notes.append(_runs_note(ours))
        if ours["workers"]:
            notes.append(
                f"{ours['workers']} workers, their CPU {ours['worker_cpu_s']:.1f} s "
                f"({ours['worker_cpu_s'] * 1000 / max(1, ours['posts']):.3f} ms/post); "
                "the handler row's CPU is the stream consumer's alone"
            )
        before = results.get("session")
        if before is not None:
            notes.append(
                "against the earlier ClientSession path in this run: "
                f"{ours['deliveries_per_s'] / before['deliveries_per_s']:.1f}x the rate, "
                f"{before['cpu_ms_per_post'] / ours['cpu_ms_per_post']:.1f}x less CPU per post"
            )
        lines += ["", "Ours: " + "; ".join(notes) + "."]
        off = results.get("nostate")
        if off is not None:
            lines += ["", state_note(ours, off, results.get("serialstate"))]
    return [*lines, ""]


def state_note(on: dict[str, Any], off: dict[str, Any], serial: dict[str, Any] | None) -> str:
    """What the state table's writes add before the first post (issue 16), side by side."""
    first_on, first_off = on["time_to_first_client_s"], off["time_to_first_client_s"]
    last_on, last_off = on["time_to_last_client_s"], off["time_to_last_client_s"]
    note = (
        f"State writes: {on['state_writes']} conditional writes before the fan-out; time to the "
        f"first client {first_on * 1000:.0f} ms with them against {first_off * 1000:.0f} ms "
        f"without (+{(first_on - first_off) * 1000:.0f} ms, {first_on / first_off:.2f}x); "
        f"to the last client {last_on:.2f} s against {last_off:.2f} s "
        f"({last_on / last_off:.2f}x)."
    )
    if serial is not None:
        added = serial["time_to_first_client_s"] - first_off
        note += (
            f" One write after another instead: first client after "
            f"{serial['time_to_first_client_s'] * 1000:.0f} ms (+{added * 1000:.0f} ms; the "
            f"concurrent writes add {added / max(first_on - first_off, 1e-6):.1f}x less)."
        )
    return note


def _runs_note(ours: dict[str, Any]) -> str:
    cpu = ", ".join(f"{value:.3f}" for value in ours["cpu_ms_per_post_runs"])
    last = ", ".join(f"{value:.2f}" for value in ours["time_to_last_client_s_runs"])
    return (
        f"{len(ours['cpu_ms_per_post_runs'])} runs, the median by CPU shown; CPU ms/post of each: "
        f"{cpu}; time to the last client of each: {last} s"
    )


# The fan-out's targets (2-core machine, 1 record to 10,000 connections, 20 ms per post).
TARGET_SCENARIO = "1x10k"
TARGET_SECONDS = 2.0
TARGET_VS_NAIVE = 100.0
TARGET_VS_POOL = 5.0
TARGET_CPU_MS = 0.06


def targets(run: dict[str, Any]) -> list[str]:
    """Whether this run met the targets, one line each (empty when 1x10k did not run)."""
    found = [s for s in run["scenarios"] if s["scenario"] == TARGET_SCENARIO]
    if not found:
        return []
    results = found[0]["results"]
    ours = results["ours"]
    checks = [
        (
            f"all delivered in {ours['time_to_last_client_s']:.2f} s",
            ours["time_to_last_client_s"] <= TARGET_SECONDS,
            f"at most {TARGET_SECONDS:.0f} s",
        ),
        (
            f"CPU per post {ours['cpu_ms_per_post']:.3f} ms",
            ours["cpu_ms_per_post"] <= TARGET_CPU_MS,
            f"at most {TARGET_CPU_MS} ms",
        ),
    ]
    for base, target in (("naive", TARGET_VS_NAIVE), ("pool", TARGET_VS_POOL)):
        if base in results:
            ratio = ours["deliveries_per_s"] / results[base]["deliveries_per_s"]
            checks.append(
                (f"{ratio:.1f}x the {NAMES[base]}", ratio >= target, f"at least {target:.0f}x")
            )
    return [f"- {'met' if ok else 'NOT MET'}: {what} ({goal})" for what, ok, goal in checks]


def areas_note(run: dict[str, Any], scenario: dict[str, Any]) -> str:
    """What a subscriptions scenario (connections spread over areas, the record in one) saved
    against the broadcast of the same record to every connection in this run (issue 17):
    posts, time to the last matching client, CPU per record; "" for other scenarios."""
    areas = scenario.get("areas", 0)
    ours = scenario["results"].get("ours")
    if not areas or ours is None:
        return ""
    records = scenario.get("records", 1)
    cpu_ms = ours["cpu_s"] * 1000 / records
    note = (
        f"Subscriptions: {scenario['connections']:,} connections over {areas} areas, the "
        f"record in one: {ours['posts']:,} posts (that area holds "
        f"{scenario['connections'] // areas:,} connections), the last matching client after "
        f"{ours['time_to_last_client_s']:.2f} s, CPU per record {cpu_ms:.0f} ms "
        f"({ours['cpu_ms_per_post']:.3f} ms per post made"
    )
    broadcast = next(
        (
            s
            for s in run["scenarios"]
            if s["scenario"] == TARGET_SCENARIO and "ours" in s["results"]
        ),
        None,
    )
    if broadcast is None:
        return note + ")."
    everyone = broadcast["results"]["ours"]
    everyone_ms = everyone["cpu_s"] * 1000 / broadcast.get("records", 1)
    return note + (
        f": every one of the {scenario['connections']:,} rows is still read and routed). "
        f"The same record to all {broadcast['connections']:,} ({TARGET_SCENARIO}, "
        f"this run): {everyone['posts']:,} posts, the last client after "
        f"{everyone['time_to_last_client_s']:.2f} s, CPU per record {everyone_ms:.0f} ms "
        f"({everyone['cpu_ms_per_post']:.3f} ms per post): {everyone_ms / cpu_ms:.1f}x the CPU "
        f"and {everyone['posts'] / max(1, ours['posts']):.0f}x the posts of the area's record."
    )


def _pace(run: dict[str, Any]) -> list[str]:
    """The header's line on the rate every invocation of ours was paced at (FANOUT_RATE)."""
    if "fanout_rate" not in run:
        return []
    return [
        f"Ours is paced at {run['fanout_rate']:,} posts/s per invocation (FANOUT_RATE; Terraform "
        "sets each invocation's share of fanout.rate, lower by default: see the README)."
    ]


def _quick(run: dict[str, Any]) -> str:
    return " (quick mode)" if run["quick"] else ""


def _targets(run: dict[str, Any], detail: str = "") -> list[str]:
    """The targets block (heading, one line per target, a blank line); none without targets."""
    met = targets(run)
    return [f"Targets (1 record to 10,000 connections{detail}):", *met, ""] if met else []


def markdown(run: dict[str, Any]) -> str:
    m = run["machine"]
    head = [
        "# Fan-out benchmark",
        "",
        "Written by `make bench` (tools/bench); do not edit by hand. The fake management API runs",
        f"in its own process with {run['latency_ms']:.0f} ms latency per post; CPU and peak RSS",
        "are the handler process's own. The two boto3 contenders are time-boxed and their time",
        "to the last client projected from their rate; deliveries are record x connection pairs",
        '(ours packs several records into one post). "ours, aiohttp ClientSession (before)" is',
        "the same handler posting through aiohttp's ClientSession (tools/bench/session.py), the",
        "client path the wire client replaced. One connection in ten is a viewer (two role views",
        "per record). Compare",
        "ratios: absolute numbers follow the machine's load.",
        *_pace(run),
        "",
        f"Machine: {m['cpu']} x {m['cpus']} CPUs, load average {m['load_average_1m']} at the",
        f"start, Python {m['python']}, {m['date']}, commit {m['commit']}{_quick(run)}.",
        "",
        *_targets(run, f", {run['latency_ms']:.0f} ms per post"),
    ]
    body = []
    for scenario in run["scenarios"]:
        body += rows(scenario)
        note = areas_note(run, scenario)
        if note:
            body += [note, ""]
    return "\n".join(head + body)


def write(run: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(run, indent=2, sort_keys=True) + "\n")
    out.with_suffix(".md").write_text(markdown(run))


README_START = "<!-- bench:start (make bench rewrites this block) -->"
README_END = "<!-- bench:end -->"


def summary(run: dict[str, Any]) -> str:
    """The README's performance table: ours against both baselines, per scenario."""
    m = run["machine"]
    lines = [
        f"Last run: {m['date']}, {m['cpus']} CPUs ({m['cpu']}), load average "
        f"{m['load_average_1m']} at the start, commit {m['commit']}{_quick(run)}. Ratios are "
        "within that one run.",
        "",
        *_targets(run),
    ]
    lines += [
        "| scenario | ours: deliveries/s | time to last client | CPU ms/post (ours / pool / naive) "
        "| vs naive | vs pool | notes |",
        "|---|---:|---:|---|---:|---:|---|",
    ]
    for scenario in run["scenarios"]:
        results = scenario["results"]
        ours = results["ours"]
        cpu = " / ".join(
            (
                f"{results[c]['cpu_ms_per_post']:.3f}"
                if c == "ours"
                else f"{results[c]['cpu_ms_per_post']:.2f}"
            )
            if c in results
            else "-"
            for c in ("ours", "pool", "naive")
        )
        ratio = {
            base: f"{ours['deliveries_per_s'] / results[base]['deliveries_per_s']:.1f}x"
            if base in results
            else "-"
            for base in ("naive", "pool")
        }
        notes = []
        if ours["rows_deleted"]:
            exact = "exactly the gone rows" if ours["rows_deleted_exactly_the_gone"] else "WRONG"
            notes.append(f"{ours['rows_deleted']} rows deleted ({exact})")
        if ours["checkpoints"]:
            notes.append(f"checkpoints {ours['checkpoints']}")
        if ours["workers"]:
            per_post = ours["worker_cpu_s"] * 1000 / max(1, ours["posts"])
            notes.append(
                f"{ours['workers']} worker processes, {per_post:.2f} ms CPU/post in the workers "
                "(the CPU column is the stream consumer's)"
            )
        off = results.get("nostate")
        if off is not None:
            added = ours["time_to_first_client_s"] - off["time_to_first_client_s"]
            notes.append(
                f"{ours['state_writes']} state writes add {added * 1000:.0f} ms before the first "
                f"client ({ours['time_to_first_client_s'] / off['time_to_first_client_s']:.2f}x)"
            )
        before = results.get("session")
        if before is not None:
            notes.append(
                f"the earlier ClientSession path: {before['cpu_ms_per_post']:.2f} ms/post, "
                f"{before['deliveries_per_s']:,.0f}/s (ours "
                f"{before['cpu_ms_per_post'] / ours['cpu_ms_per_post']:.1f}x less CPU)"
            )
        if "cpu_ms_per_post_runs" in ours:
            runs = ours["cpu_ms_per_post_runs"]
            notes.append(
                f"median of {len(runs)} runs (CPU ms/post {min(runs):.3f}-{max(runs):.3f})"
            )
        if scenario.get("areas"):
            notes.append(_areas_summary(run, scenario))
        if ours["failed_records"]:
            notes.append(f"{ours['failed_records']} records failed")
        lines.append(
            f"| {scenario['title']} | {ours['deliveries_per_s']:,.0f} "
            f"| {ours['time_to_last_client_s']:.2f} s | {cpu} | {ratio['naive']} "
            f"| {ratio['pool']} | {'; '.join(notes)} |"
        )
    return "\n".join(lines)


def _areas_summary(run: dict[str, Any], scenario: dict[str, Any]) -> str:
    """The README's note for a subscriptions scenario: posts, CPU per record against 1x10k."""
    ours = scenario["results"]["ours"]
    cpu_ms = ours["cpu_s"] * 1000 / scenario.get("records", 1)
    text = (
        f"{ours['posts']:,} posts (one area of {scenario['areas']}), {cpu_ms:.0f} ms CPU per record"
    )
    for broadcast in run["scenarios"]:
        if broadcast["scenario"] == TARGET_SCENARIO and "ours" in broadcast["results"]:
            everyone = broadcast["results"]["ours"]["cpu_s"] * 1000 / broadcast.get("records", 1)
            text += f" against {everyone:.0f} ms to all ({everyone / cpu_ms:.1f}x less)"
    return text


def update_readme(run: dict[str, Any], readme: Path) -> bool:
    """Rewrite the README's bench block; False when the README has no such block."""
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        return False
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    readme.write_text(head + README_START + "\n" + summary(run) + "\n" + README_END + tail)
    return True
