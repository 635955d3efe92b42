"""One contender of one scenario, run in a child process (``python -m tools.bench.contenders
SPEC``); prints one JSON line. Its CPU time and peak RSS are this process's alone: the fake
management API runs in another process.

Contenders:
  naive   the sequential loop of the public samples: one boto3 post_to_connection at a time
  pool    the previous broadcaster: a 32-thread pool sharing one pooled boto3 client, one task
          per connection posting the batch's messages in order
  ours    broadcaster.handler, the real entry point, with FANOUT_* from the scenario
  session ours through aiohttp's ClientSession (tools/bench/session.py), the earlier path
  nostate ours with the state-table write step off (what the writes add, side by side)
  serialstate  ours with the state writes one after another (what their concurrency saves)
The two boto3 contenders are time-boxed (they would take minutes at 50,000 connections); their
time to the last client is projected from their measured rate and marked so.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import io
import json
import os
import resource
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import TYPE_CHECKING, Any

from testing import terraform_defaults
from testing.events import load_event
from tools.paths import ROOT

if TYPE_CHECKING:
    from tools.bench.table import MemoryConnections


def rss_kb() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def peak_rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def stream_event(
    records: int, title_bytes: int = 0, *, distinct: bool = False, area: str | None = None
) -> dict[str, Any]:
    """``records`` MODIFY records of one incident (``distinct``: of as many incidents), in
    stream order; ``area``: the incident's area, before and after (subscriptions)."""
    template = load_event("stream-modify.json")["Records"][0]
    out = []
    for n in range(records):
        record = copy.deepcopy(template)
        record["eventID"] = uuid.UUID(int=n).hex
        record["dynamodb"]["SequenceNumber"] = f"3{n:020d}"
        record["dynamodb"]["NewImage"]["version"] = {"N": str(n + 1)}
        if title_bytes:
            record["dynamodb"]["NewImage"]["title"] = {"S": "x" * title_bytes}
        if distinct:
            key = {"S": f"INCIDENT#BENCH-{n:05d}"}
            record["dynamodb"]["Keys"]["pk"] = record["dynamodb"]["NewImage"]["pk"] = key
        if area is not None:
            record["dynamodb"]["NewImage"]["area"] = {"S": area}
            record["dynamodb"]["OldImage"]["area"] = {"S": area}
        out.append(record)
    return {"Records": out}


def area_name(n: int) -> str:
    """The benchmark's areas (tools/bench/table.py spreads connections over them)."""
    from tools.bench.table import area_name as name  # noqa: PLC0415

    return name(n)


class Context:
    function_name = "bench-broadcaster"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench-broadcaster"
    aws_request_id = "bench"

    def __init__(self, budget: float) -> None:
        self.end = time.monotonic() + budget

    def get_remaining_time_in_millis(self) -> int:
        return int((self.end - time.monotonic()) * 1000)


def lambda_context(budget: float) -> Any:  # noqa: ANN401 (stands in for LambdaContext)
    return Context(budget)


def reset_fake(url: str) -> None:
    import urllib.request  # noqa: PLC0415

    origin = "/".join(url.split("/", 3)[:3])
    request = urllib.request.Request(origin + "/_fake/reset", method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310
        pass


# Each Broadcaster invocation's pace (FANOUT_RATE) in every scenario. The benchmark measures the
# engine, so it runs at the per-invocation rate its results have always been measured at (a
# deployment that wants 10,000 clients in 2 s sets fanout.rate for it), not at Terraform's
# default share: since issue 18 that is 1,000/s per invocation with 4 shards, at which 10,000
# posts take 10 s whatever the code and the pacing's timer wake-ups dominate the CPU per post.
FANOUT_RATE = 8000


def set_environment(spec: dict[str, Any]) -> None:
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "AKIDBENCH",
            "AWS_SECRET_ACCESS_KEY": "bench-secret",
            "AWS_SESSION_TOKEN": "bench-session-token",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "LOG_LEVEL": "ERROR",
            "POWERTOOLS_SERVICE_NAME": "bench",
            "POWERTOOLS_METRICS_NAMESPACE": "bench",
            "ENVIRONMENT": "bench",
            "CONNECTIONS_TABLE": "bench-connections",
            "WS_CALLBACK_URL": spec["url"],
            "STATE_TABLE": "bench-state",
            "STATE_RETENTION_SECONDS": "86400",
            "CLOSED_STATUSES": '["closed","resolved"]',
            # What Terraform sets with its defaults; the whole audience in one invocation
            # unless the scenario sets a worker threshold.
            **terraform_defaults.BROADCASTER,
            "FANOUT_RATE": str(FANOUT_RATE),
            "FANOUT_WORKER_FUNCTION": "bench-fanout-worker",
            "FANOUT_WORKER_THRESHOLD": str(spec["connections"]),
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    for name, value in spec.get("env", {}).items():
        os.environ[name] = str(value)


# --------------------------------------------------------------------------------------------
# boto3 baselines
# --------------------------------------------------------------------------------------------
def boto3_messages(records: int, title_bytes: int) -> list[bytes]:
    import broadcaster  # noqa: PLC0415
    from realtime_common.stream import parse_record  # noqa: PLC0415

    event = stream_event(records, title_bytes)
    return [broadcaster.encode_message(parse_record(r))[0] for r in event["Records"]]


def run_boto3(spec: dict[str, Any], threads: int) -> dict[str, Any]:
    import boto3  # noqa: PLC0415
    from botocore.config import Config  # noqa: PLC0415
    from botocore.exceptions import ClientError  # noqa: PLC0415

    from tools.bench.table import connection_ids  # noqa: PLC0415

    ids = connection_ids(spec["connections"])
    messages = boto3_messages(spec["records"], spec.get("title_bytes", 0))
    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=spec["url"],
        config=Config(max_pool_connections=max(10, threads), retries={"total_max_attempts": 1}),
    )
    client.post_to_connection(ConnectionId="warm-up", Data=b"{}")
    posts = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + spec["time_box"]

    def to_connection(connection_id: str) -> None:
        nonlocal posts
        for data in messages:
            if time.monotonic() >= stop_at:
                return
            with contextlib.suppress(ClientError):  # 410/429 count as posts made, like ours
                client.post_to_connection(ConnectionId=connection_id, Data=data)
            with lock:
                posts += 1

    base = rss_kb()
    started, cpu = time.monotonic(), time.process_time()
    if threads == 1:
        for connection_id in ids:
            if time.monotonic() >= stop_at:
                break
            to_connection(connection_id)
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(to_connection, ids))
    elapsed = time.monotonic() - started
    cpu = time.process_time() - cpu
    total = spec["connections"] * spec["records"]
    rate = posts / elapsed
    return {
        "posts": posts,
        "deliveries": posts,
        "seconds": elapsed,
        "posts_per_s": rate,
        "deliveries_per_s": rate,
        "time_to_last_client_s": total / rate,
        "projected": posts < total,
        "cpu_ms_per_post": cpu * 1000 / max(1, posts),
        "peak_rss_mb": peak_rss_kb() / 1024,
        "rss_growth_mb": (peak_rss_kb() - base) / 1024,
        "started_monotonic": started,
    }


# --------------------------------------------------------------------------------------------
# Ours: the handler entry point
# --------------------------------------------------------------------------------------------
class SubprocessLambda:
    """The Lambda client the broadcaster invokes workers with: each invocation runs
    ``fanout_worker.handler`` in its own process (a Lambda execution environment)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.worker_cpu_s: list[float] = []

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        child = subprocess.run(  # noqa: S603 (our own interpreter and module)
            [sys.executable, "-m", "tools.bench.contenders", "--worker", json.dumps(self.spec)],
            input=Payload,
            capture_output=True,
            check=False,
            cwd=ROOT,
            env=os.environ.copy(),
        )
        if child.returncode != 0:
            return {"FunctionError": "Unhandled", "Payload": io.BytesIO(child.stderr[-2000:])}
        answer = json.loads(child.stdout.decode().strip().splitlines()[-1])
        self.worker_cpu_s.append(answer.pop("_cpu_s"))
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer).encode())}


def use_table(connections: int, spec: dict[str, Any]) -> MemoryConnections:
    """An in-memory Connections table of ``connections`` rows, as the handlers' DynamoDB client
    (its PutItem, the state table's, takes the spec's ``state_latency_ms``)."""
    from realtime_common import aws  # noqa: PLC0415
    from tools.bench.table import MemoryConnections  # noqa: PLC0415

    table = MemoryConnections(
        connections, spec.get("state_latency_ms", 0) / 1000, areas=spec.get("areas", 0)
    )
    aws.dynamodb_client = lambda *args: table  # type: ignore[assignment]
    aws.state_client = lambda *args: table  # type: ignore[assignment]
    return table


def use_transport(spec: dict[str, Any]) -> None:
    """The ``session`` contender: the handlers post through aiohttp's ClientSession."""
    if spec.get("contender") == "session":
        from tools.bench import session  # noqa: PLC0415

        session.install()


def warm_broadcaster(spec: dict[str, Any]) -> ModuleType:
    """``broadcaster``, imported under the spec's environment and invoked once (50 connections):
    a warm execution environment, imports done and the HTTP pool open, as on Lambda's second
    invocation. (The first, cold one is reported by the packaging benchmark, not here.)"""
    set_environment(spec)
    use_transport(spec)
    import broadcaster  # noqa: PLC0415 (after the environment is set)

    use_table(50, spec)
    broadcaster.handler(stream_event(1), lambda_context(30))
    contender = spec.get("contender")
    if contender == "nostate":  # the same handler with the state write step off
        broadcaster.get_state_writer = lambda: None  # type: ignore[assignment]
    elif contender == "serialstate":  # the writes one after another (a pool of one thread)
        serial = dataclasses.replace(broadcaster.get_state_writer(), executor=ThreadPoolExecutor(1))
        broadcaster.get_state_writer = lambda: serial  # type: ignore[assignment]
    return broadcaster


def run_worker(spec: dict[str, Any]) -> None:
    """A worker invocation in this process (called by SubprocessLambda)."""
    set_environment(spec)
    use_transport(spec)
    import fanout_worker  # noqa: PLC0415

    use_table(spec["connections"], spec)
    event = json.loads(sys.stdin.buffer.read())
    cpu = time.process_time()
    answer = fanout_worker.handler(event, lambda_context(spec.get("budget", 300)))
    answer["_cpu_s"] = time.process_time() - cpu
    sys.stdout.write(json.dumps(answer) + "\n")


def run_ours(spec: dict[str, Any]) -> dict[str, Any]:
    broadcaster = warm_broadcaster(spec)
    from realtime_common import aws  # noqa: PLC0415
    from testing.fake_management_api import gone_by_share  # noqa: PLC0415

    lambda_client = SubprocessLambda(spec)
    aws.lambda_client = lambda *args: lambda_client  # type: ignore[assignment]
    reset_fake(spec["url"])  # the warm-up's posts are not the scenario's
    from tools.bench.table import MemoryConnections  # noqa: PLC0415

    table = use_table(spec["connections"], spec)
    writes_before = MemoryConnections.writes
    event = stream_event(
        spec["records"],
        spec.get("title_bytes", 0),
        distinct=spec.get("distinct", False),
        area=area_name(0) if spec.get("areas") else None,
    )
    base = rss_kb()
    started, cpu = time.monotonic(), time.process_time()
    checkpoints: list[int] = []
    invocations = 0
    while True:
        invocations += 1
        response = broadcaster.handler(event, lambda_context(spec.get("budget", 300)))
        failures = [f["itemIdentifier"] for f in response["batchItemFailures"]]
        if not failures or invocations >= spec.get("max_invocations", 1):
            break
        # Lambda re-sends the batch from the lowest failed sequence number.
        sequences = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
        first = sequences.index(min(failures))
        checkpoints.append(spec["records"] - len(sequences) + first)
        event = {"Records": event["Records"][first:]}
    elapsed = time.monotonic() - started
    cpu = time.process_time() - cpu
    gone = {cid for cid in table.ids if gone_by_share(cid, spec.get("gone_share", 0.0))}
    return {
        "seconds": elapsed,
        "cpu_s": cpu,
        "peak_rss_mb": peak_rss_kb() / 1024,
        "rss_growth_mb": (peak_rss_kb() - base) / 1024,
        "started_monotonic": started,
        "failed_records": len(failures),
        "invocations": invocations,
        "checkpoints": checkpoints,
        "rows_deleted": len(table.deleted),
        "rows_deleted_exactly_the_gone": table.deleted == gone,
        "worker_cpu_s": sum(lambda_client.worker_cpu_s),
        "workers": len(lambda_client.worker_cpu_s),
        "state_writes": MemoryConnections.writes - writes_before,
    }


def main(argv: list[str]) -> int:
    if argv[0] == "--worker":
        run_worker(json.loads(argv[1]))
        return 0
    spec = json.loads(argv[0])
    contender = spec["contender"]
    # session: the same handler over aiohttp; nostate: no state writes
    if contender in ("ours", "session", "nostate", "serialstate"):
        result = run_ours(spec)
    else:
        set_environment(spec)
        result = run_boto3(spec, 1 if contender == "naive" else 32)
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
