"""Session fixture: the local stack `make up` brings up, plus WebSocket, incident and alert helpers.

The stack comes from tools.localenv, the same code behind `make up`: when a stack recorded by
`make up` is already running the session converges it (a rebuild and a no-op apply when nothing
changed) and leaves it running; otherwise the session brings one up and takes down what it
started at the end.

Every wait is a bounded poll that fails with a message saying what did not happen in time.
Negative checks ("no alert", "exactly one alert") are made deterministic with a barrier: the
Notifier's stream mapping handles records in stream order, so once the alert of a later urgent
"sentinel" incident has arrived, every earlier record has been handled and its alert, if any,
published.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import boto3
import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from realtime_common.state import PK_PREFIX, SORT_KEY
from testing.browser import headless_chromium
from testing.waits import wait_until
from testing.websocket_client import WsClient
from tools.localenv import clients as aws
from tools.localenv import commands, emulator, process, tokens
from tools.localenv import stack as localenv
from tools.localenv.cli import ERRORS
from tools.localenv.config import DEFAULT_PORT, LocalEnv
from tools.localenv.resources import INCIDENTS_KEY
from tools.localenv.state import StackState
from tools.paths import ROOT

ALERT_TIMEOUT_S = 20.0
CLIENTS: dict[str, Callable[[str], Any]] = {
    "dynamodb": aws.dynamodb,
    "dynamodbstreams": aws.dynamodbstreams,
    "lambda": aws.lambda_,
    "sns": aws.sns,
    "sqs": aws.sqs,
    "ssm": aws.ssm,
    # CloudWatch Logs, for test_fanout_workers (the tooling itself never reads logs).
    "logs": lambda endpoint: boto3.client(
        "logs",
        endpoint_url=endpoint,
        region_name=emulator.REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ),
}

_BENCH_LINES: list[str] = []
_TIMINGS: dict[str, float] = {}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not (_BENCH_LINES or _TIMINGS):
        return
    terminalreporter.section("e2e timings and benchmark (informational, not asserted)")
    for name, seconds in _TIMINGS.items():
        terminalreporter.write_line(f"{name}: {seconds:.1f} s")
    for line in _BENCH_LINES:
        terminalreporter.write_line(line)


def record_benchmark(name: str, samples_s: list[float]) -> str:
    ordered = sorted(samples_s)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    line = (
        f"BENCHMARK {name}: n={len(ordered)} median={statistics.median(ordered) * 1000:.0f} ms "
        f"p95={p95 * 1000:.0f} ms min={ordered[0] * 1000:.0f} ms max={ordered[-1] * 1000:.0f} ms"
    )
    _BENCH_LINES.append(line)
    return line


# ---------------------------------------------------------------------------
# The stack
# ---------------------------------------------------------------------------
@dataclass
class Stack:
    state: StackState
    alerts_queue_url: str
    subscription_arn: str
    _alerts: list[dict[str, Any]] = field(default_factory=list)
    _alerts_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def outputs(self) -> dict[str, Any]:
        return self.state.outputs

    def client(self, service: str) -> Any:
        return CLIENTS[service](self.state.endpoint)

    def state_item(self, incident_id: str) -> dict[str, Any] | None:
        """The incident's item in the state table (realtime_common.state's key), or None."""
        found = self.client("dynamodb").get_item(
            TableName=self.outputs["state_table_name"],
            Key={"pk": {"S": PK_PREFIX + incident_id}, "sk": {"S": SORT_KEY}},
            ConsistentRead=True,
        )
        item: dict[str, Any] | None = found.get("Item")
        return item

    def drop_connection(self, connection_id: str) -> None:
        """Drop a client's socket from the API side, as API Gateway does (DeleteConnection)."""
        management = aws.management_api(self.outputs["websocket_management_url"])
        management.delete_connection(ConnectionId=connection_id)

    # -- WebSocket clients ------------------------------------------------------
    def connect(
        self,
        user: str,
        role: str,
        *,
        areas: Sequence[str] | None = None,
        subscription: Mapping[str, list[str]] | None = None,
    ) -> WsClient:
        """A client with a valid token for ``user`` in ``role`` (as `make listen` connects):
        ``areas`` in the token's areas claim (None: no claim, the stack's default areas), and
        ``subscription`` as the connect-time ``filter`` query parameter (None: none)."""
        return WsClient(
            commands.connect_url(self.state, user, role, areas=areas, subscription=subscription)
        )

    def connect_with(self, token: str | None) -> WsClient:
        """A client sending exactly ``token`` as ``?token=`` (None: no token at all)."""
        return WsClient(commands.with_token(self.state.ws_url, token))

    # -- The CLI a person runs through make ----------------------------------------
    cli_command: ClassVar[tuple[str, ...]] = (sys.executable, "-m", "tools.localenv")

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """``python -m tools.localenv <args>`` from the checkout, as `make` runs it; exit 0."""
        done = subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
            [*self.cli_command, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=ROOT,
        )
        assert done.returncode == 0, done.stderr
        return done

    # -- Dead-letter queues -------------------------------------------------------
    def dead_letters(self, function: str) -> tuple[str, str, int]:
        """(deployed name, dead-letter queue URL, maximum record age in s) of a stream consumer
        whose records a test parks: its mapping must give up within envs/local.tfvars' 60 s, or
        the test would wait for ever."""
        mapping = self.client("lambda").get_event_source_mapping(
            UUID=self.outputs["event_source_mapping_ids"][function]
        )
        max_age = mapping["MaximumRecordAgeInSeconds"]
        if max_age > 120:
            pytest.fail(
                f"maximum_record_age_in_seconds is {max_age}: envs/local.tfvars should keep it 60"
            )
        names, queues = self.outputs["function_names"], self.outputs["dead_letter_queue_urls"]
        return names[function], queues[function], max_age

    # -- Tokens -------------------------------------------------------------------
    @property
    def issuer(self) -> tokens.Issuer:
        issuer = tokens.Issuer.from_state(self.state.authorizer)
        assert issuer is not None, "the local stack runs without the $connect authorizer"
        return issuer

    def secret(self) -> str:
        return tokens.read_secret(aws.ssm(self.state.endpoint), self.issuer.secret_parameter)

    def mint(self, user: str, role: str, *, secret: str | None = None, **claims: Any) -> str:
        """A token signed with the stack's secret (or ``secret``); ``claims`` override claims."""
        return tokens.mint(
            self.issuer, secret or self.secret(), user, role, now=time.time(), **claims
        )

    # -- Incidents ----------------------------------------------------------------
    def write_incident(self, incident_id: str, **fields: Any) -> float:
        """Create/update an incident; returns the perf_counter time just before the write."""
        ddb = self.client("dynamodb")
        started = time.perf_counter()
        commands.set_incident_fields(ddb, self.state.incidents_table, incident_id, fields)
        return started

    def stream_records(self, incident_id: str) -> list[dict[str, Any]]:
        """The incident's records read back from the stream, shaped as Lambda receives them."""
        streams = self.client("dynamodbstreams")
        arn = self.state.incidents_stream_arn
        records: list[dict[str, Any]] = []
        for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
            iterator = streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            while iterator:
                page = streams.get_records(ShardIterator=iterator, Limit=1000)
                records.extend(page["Records"])
                if not page["Records"]:
                    break
                iterator = page.get("NextShardIterator")
        mine = [
            r
            for r in records
            if r["dynamodb"]["Keys"].get(INCIDENTS_KEY, {}).get("S") == incident_id
        ]
        return [_as_lambda_record(r, arn) for r in mine]

    # -- Connections table ----------------------------------------------------------
    def connection_rows(self, user: str) -> list[dict[str, Any]]:
        ddb = self.client("dynamodb")
        rows: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.outputs["connections_table_name"],
            "FilterExpression": "userId = :u",
            "ExpressionAttributeValues": {":u": {"S": user}},
            "ConsistentRead": True,
        }
        while True:
            page = ddb.scan(**kwargs)
            rows.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return rows
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # -- Alerts -----------------------------------------------------------------------
    def drain_alerts(self) -> None:
        sqs = aws.sqs(self.state.endpoint)
        for envelope in commands.read_alerts(sqs, self.alerts_queue_url, 0):
            with self._alerts_lock:
                self._alerts.append(json.loads(envelope["Message"]) | {"_sns": envelope})

    def alerts_for(self, incident_id: str) -> list[dict[str, Any]]:
        self.drain_alerts()
        with self._alerts_lock:
            return [a for a in self._alerts if a.get("keys", {}).get(INCIDENTS_KEY) == incident_id]

    def wait_alerts(self, incident_id: str, count: int = 1) -> list[dict[str, Any]]:
        return wait_until(
            lambda: (found := self.alerts_for(incident_id)) and len(found) >= count and found,
            ALERT_TIMEOUT_S,
            f"{count} alert(s) for incident {incident_id}",
            interval=0.2,
        )

    def only_alert(self, incident_id: str) -> dict[str, Any]:
        """The incident's alert, once every record written before this call has been through
        the Notifier and it is still the only one."""
        [alert] = self.wait_alerts(incident_id)
        self.alert_barrier()
        assert len(self.alerts_for(incident_id)) == 1, self.alerts_for(incident_id)
        return alert

    # -- Helpers the tests reach through the fixture (conftest modules are not importable) ------
    def new_id(self, prefix: str = "E2E") -> str:
        return new_id(prefix)

    def wait_until(self, condition: Callable[[], Any], timeout: float, what: str) -> Any:
        return wait_until(condition, timeout, what)

    def record_benchmark(self, name: str, samples_s: list[float]) -> str:
        return record_benchmark(name, samples_s)

    def alert_barrier(self) -> None:
        """Return once every record written before this call has been through the Notifier."""
        sentinel = new_id("SENTINEL")
        self.write_incident(sentinel, urgency="critical", status="open", title="barrier")
        self.wait_alerts(sentinel)
        self.drain_alerts()


def _as_lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record as the event source mapping hands it to Lambda (JSON, not datetimes)."""
    body = dict(record["dynamodb"])
    created = body.get("ApproximateCreationDateTime")
    if hasattr(created, "timestamp"):
        body["ApproximateCreationDateTime"] = int(created.timestamp())
    out = {k: v for k, v in record.items() if k != "dynamodb"}
    out["dynamodb"] = body
    out["eventSourceARN"] = stream_arn
    return json.loads(json.dumps(out, default=str))


def new_id(prefix: str = "E2E") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------
def _session_port(config: LocalEnv) -> int:
    """EMULATOR_PORT when set; else the default port, or a free one when something else holds it.

    A machine may run another emulator (another checkout's `make up`) on the default port; the
    suite then brings its own stack up beside it rather than failing.
    """
    current = emulator.running(config.state_dir)
    if current is not None:  # this checkout's emulator, up without a stack: use it
        return current.port
    if config.port is not None:
        return config.port
    if not process.port_open(DEFAULT_PORT):
        return DEFAULT_PORT
    return process.free_port()


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    config = LocalEnv.from_environ(os.environ)  # LOCAL_STATE_DIR, EMULATOR_PORT as for `make up`
    try:
        localenv.require_stack(config)  # the same test `make listen` and friends make
        was_up = True
    except localenv.StackError:
        was_up = False
    if not was_up:
        config = dataclasses.replace(config, port=_session_port(config))
    started = time.monotonic()
    try:
        state = localenv.up(config)
    except ERRORS as exc:
        if not was_up:
            localenv.down(config)  # whatever the failed attempt started (the emulator, say)
        pytest.fail(f"could not bring the local stack up: {exc}")
    _TIMINGS["stack up (localenv.up: build, emulator, terraform apply)"] = (
        time.monotonic() - started
    )

    # A queue of our own on the alerts topic, so the session neither reads nor eats the alerts a
    # person's `make alerts` would show.
    sqs = aws.sqs(state.endpoint)
    sns = aws.sns(state.endpoint)
    queue_url = sqs.create_queue(QueueName=f"e2e-alerts-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    subscription = sns.subscribe(
        TopicArn=state.outputs["alerts_topic_arn"],
        Protocol="sqs",
        Endpoint=queue_arn,
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    session = Stack(state=state, alerts_queue_url=queue_url, subscription_arn=subscription)
    try:
        yield session
    finally:
        with contextlib.suppress(Exception):
            sns.unsubscribe(SubscriptionArn=subscription)
            sqs.delete_queue(QueueUrl=queue_url)
        if not was_up and not os.environ.get("E2E_KEEP_STACK"):
            started = time.monotonic()
            localenv.down(config)
            _TIMINGS["stack down"] = time.monotonic() - started


@pytest.fixture
def clients(stack: Stack) -> Iterator[Callable[..., WsClient]]:
    """Open WebSocket clients for a test (``Stack.connect``'s arguments); all closed at its end."""
    opened: list[WsClient] = []

    def open_client(user: str, role: str = "dispatcher", **options: Any) -> WsClient:
        client = stack.connect(user, role, **options)
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        client.close()


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """Headless Chromium (testing.browser): fails with what to install when missing."""
    with headless_chromium(tmp_path_factory.mktemp("chromium-profile")) as driver:
        yield driver
