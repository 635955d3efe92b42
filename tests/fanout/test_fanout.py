"""The broadcaster's fan-out against a misbehaving management API on 127.0.0.1.

Proves: rows of gone connections are deleted, throttled posts are retried, deliveries really
overlap (measured from the server's request intervals, not wall-clock totals) within the
configured bound, each connection receives one incident's updates in stream order (several
records sharing one batch frame), failures are reported per record, and the worker path (one
worker per parallel-Scan segment) reaches every connection exactly once.
"""

from __future__ import annotations

import copy
import itertools
import json
import logging
import math
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

import broadcaster
import fanout_worker
from broadcaster import BroadcastConfig, Clients
from realtime_common import aws, filters
from realtime_common.connections import connected_at
from realtime_common.fanout import delivery
from realtime_common.fanout.config import FanoutConfig
from realtime_common.fanout.engine import RetryPolicy
from realtime_common.fanout.views import RoleViews
from realtime_common.fanout.workers import WorkerJob
from testing import terraform_defaults
from testing.connections import connection_row
from testing.events import EVENTS
from testing.lambda_context import LambdaContext
from tools.bench import session

pytestmark = pytest.mark.fanout

TABLE = "realtime-connections"
FAST_RETRY = {"base_delay": 0.005, "max_delay": 0.02}


@pytest.fixture(autouse=True)
def _fresh_runtime() -> Iterator[None]:
    """Each test's posts go through its own event loop and pool (a cold execution environment),
    closed afterwards: nothing (an aiohttp session, a socket) outlives the test that opened it."""
    yield
    delivery.reset_runtime()


def template() -> dict[str, Any]:
    return json.loads((EVENTS / "stream-modify.json").read_text())["Records"][0]


def updates(*incidents: str, title: str | None = None) -> dict[str, Any]:
    """One MODIFY record per entry, in stream order (ascending sequence numbers)."""
    records = []
    for n, incident in enumerate(incidents):
        record = copy.deepcopy(template())
        record["eventID"] = uuid.uuid4().hex
        record["dynamodb"]["SequenceNumber"] = f"2000000000000000{n:05d}"
        key = {"S": f"INCIDENT#{incident}"}
        record["dynamodb"]["Keys"]["pk"] = key
        image = record["dynamodb"]["NewImage"]
        image["pk"] = key
        image["incidentId"] = {"S": incident}
        image["version"] = {"N": str(n + 1)}
        if title is not None:
            image["title"] = {"S": title}
        records.append(record)
    return {"Records": records}


def sequences(event: dict[str, Any]) -> list[str]:
    return [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]


def add_connections(
    table: Any, *ids: str, role: str = "viewer", stored_at: str = "2026-11-27T14:40:00Z"
) -> None:
    with table.batch_writer() as batch:
        for cid in ids:
            batch.put_item(Item=connection_row(cid, role=role, connected_at=stored_at))


def stored(table: Any) -> set[str]:
    return {item["pk"] for item in table.scan()["Items"]}


def messages(api: Any, connection_id: str) -> list[dict[str, Any]]:
    """Every message a connection received, batch frames unpacked, in arrival order."""
    out: list[dict[str, Any]] = []
    for frame in api.delivered(connection_id):
        out += frame["messages"] if frame["type"] == "batch" else [frame]
    return out


def config(url: str, concurrency: int = 8, max_attempts: int = 4, **kwargs: Any) -> BroadcastConfig:
    return BroadcastConfig(
        FanoutConfig(TABLE, url, concurrency=concurrency),
        views=RoleViews.parse(terraform_defaults.ROLE_VIEWS),  # variables.tf's default
        rate=kwargs.pop("rate", 100_000),
        max_attempts=max_attempts,
        worker_function=None,
        worker_threshold=kwargs.pop("worker_threshold", 10_000),
        max_workers=kwargs.pop("max_workers", 10),
        filter_fields=filters.FilterSettings.from_env(terraform_defaults.FILTERS).fields,
        default_areas=filters.default_areas(kwargs.pop("default_env", terraform_defaults.FILTERS)),
    )


def clients(**kwargs: Any) -> Clients:
    return Clients(
        dynamodb=aws.dynamodb_client(),
        credentials=aws.credentials_source(),
        region="us-east-1",
        **kwargs,
    )


def run(
    url: str,
    event: dict[str, Any],
    *,
    concurrency: int = 8,
    max_attempts: int = 4,
    deadline: float = math.inf,
) -> list[str]:
    response = broadcaster.broadcast(
        event,
        config(url, concurrency, max_attempts),
        clients(),
        deadline=deadline,
        policy=RetryPolicy(max_attempts=max_attempts, **FAST_RETRY),
    )
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


# One message of ~70 KB: two never share a 128 KB frame, so each record is its own post.
LARGE = "x" * 70_000


def test_gone_connections_lose_their_row_and_others_get_everything(table: Any, api: Any) -> None:
    add_connections(table, "live=", "gone=")
    api.behaviours["gone="] = "gone"
    event = updates("A", "A")
    assert run(api.url, event) == []
    assert [m["sequence"] for m in messages(api, "live=")] == sequences(event)
    assert [p.status for p in api.posts_to("gone=")] == [410]  # nothing after the 410
    assert stored(table) == {"CONN#live="}


def test_a_connection_still_connecting_keeps_its_row_and_gets_the_next_record(
    table: Any, api: Any
) -> None:
    # on_connect has stored the row; API Gateway has not finished the handshake, and answers
    # 410 to posts for it meanwhile (documented). A 410 then proves nothing: the row stays.
    add_connections(table, "old-gone=")
    add_connections(table, "young=", stored_at=connected_at(time.time()))
    api.behaviours["old-gone="] = "gone"
    api.connecting("young=")
    first = updates("A")
    assert run(api.url, first) == []
    assert [p.status for p in api.posts_to("young=")] == [410]
    assert stored(table) == {"CONN#young="}  # the old row's 410 still deletes it

    api.established("young=")
    second = updates("B")
    assert run(api.url, second) == []
    assert [m["sequence"] for m in messages(api, "young=")] == sequences(second)
    assert stored(table) == {"CONN#young="}


def test_throttled_posts_are_retried_until_delivered(table: Any, api: Any) -> None:
    add_connections(table, "slow")
    api.behaviours["slow"] = "throttle:2"
    event = updates("A", "A", title=LARGE)
    assert run(api.url, event) == []
    assert [p.status for p in api.posts_to("slow")] == [429, 429, 200, 200]
    assert [m["sequence"] for m in messages(api, "slow")] == sequences(event)


def max_overlap(api: Any) -> int:
    """Largest number of requests the server was handling at one instant."""
    edges = sorted(
        [(p.started, 1) for p in api.posts] + [(p.finished, -1) for p in api.posts],
        key=lambda edge: (edge[0], edge[1]),
    )
    level = peak = 0
    for _, step in edges:
        level += step
        peak = max(peak, level)
    return peak


def test_deliveries_overlap_up_to_the_configured_concurrency(table: Any, api: Any) -> None:
    ids = [f"c{n:02d}" for n in range(16)]
    add_connections(table, *ids)
    api.latency = 0.2  # long enough that eight workers overlap even on a busy machine
    assert run(api.url, updates("A"), concurrency=8) == []
    assert len(api.posts) == 16
    assert 4 <= api.max_in_flight <= 8
    assert 4 <= max_overlap(api) <= 8


def test_concurrency_one_is_strictly_sequential(table: Any, api: Any) -> None:
    add_connections(table, "a", "b", "c", "d")
    api.latency = 0.02
    assert run(api.url, updates("A"), concurrency=1) == []
    assert api.max_in_flight == 1
    assert max_overlap(api) == 1


def test_each_connection_gets_each_incidents_updates_in_stream_order(table: Any, api: Any) -> None:
    ids = [f"c{n}" for n in range(6)]
    add_connections(table, *ids)
    api.latency = 0.005
    api.behaviours["c1"] = "throttle:3"  # retries must not reorder anything
    event = updates("A", "B", "A", "A", "B", "A", "B", "A")
    assert run(api.url, event, concurrency=3) == []
    for cid in ids:
        delivered = messages(api, cid)
        assert [m["sequence"] for m in delivered] == sequences(event), cid
        for incident in ("A", "B"):
            versions = [
                m["incident"]["version"] for m in delivered if m["keys"]["pk"].endswith(incident)
            ]
            assert versions == sorted(versions)
        posts = api.posts_to(cid)
        assert all(b.started >= a.finished for a, b in itertools.pairwise(posts))


def test_a_batch_that_reaches_no_one_is_failed_from_the_first_record(table: Any, api: Any) -> None:
    add_connections(table, "a", "b", "c")
    api.default = "error"
    event = updates("A", "B", "A")
    assert run(api.url, event, max_attempts=3) == sequences(event)
    for cid in ("a", "b", "c"):
        assert [p.status for p in api.posts_to(cid)] == [500, 500, 500]  # first message only


def test_failure_midway_reports_that_record_and_everything_after_it(table: Any, api: Any) -> None:
    add_connections(table, "a", "b")
    api.default = "fail_after:1"
    event = updates("A", "B", "A", title=LARGE)
    assert run(api.url, event, max_attempts=2) == sequences(event)[1:]
    for cid in ("a", "b"):
        assert [p.status for p in api.posts_to(cid)] == [200, 500, 500]
        assert [m["sequence"] for m in messages(api, cid)] == sequences(event)[:1]


def test_one_misbehaving_client_is_logged_not_failed(table: Any, api: Any) -> None:
    add_connections(table, "bad", "good")
    api.behaviours["bad"] = "error"
    event = updates("A", "A")
    assert run(api.url, event, max_attempts=3) == []
    assert [p.status for p in api.posts_to("bad")] == [500, 500, 500]
    assert [m["sequence"] for m in messages(api, "good")] == sequences(event)


def test_payload_too_large_skips_the_message_not_the_connection(table: Any, api: Any) -> None:
    add_connections(table, "picky")
    api.behaviours["picky"] = "too_large"
    assert run(api.url, updates("A", "A", "A", title=LARGE)) == []
    assert [p.status for p in api.posts_to("picky")] == [413, 413, 413]  # no retries


def test_forbidden_everywhere_fails_the_batch_without_retrying(table: Any, api: Any) -> None:
    add_connections(table, "a", "b")
    api.default = "forbidden"
    event = updates("A")
    assert run(api.url, event) == sequences(event)
    assert len(api.posts) == 2


def test_malformed_record_is_failed_alone(table: Any, api: Any) -> None:
    add_connections(table, "a")
    event = updates("A", "B", "A")
    del event["Records"][1]["dynamodb"]["NewImage"]
    assert run(api.url, event) == [sequences(event)[1]]
    assert [m["sequence"] for m in messages(api, "a")] == [sequences(event)[0], sequences(event)[2]]


def failure_logs(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith("fan-out incomplete")]


def test_unreachable_endpoint_fails_every_record(
    table: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    add_connections(table, "a", "b")
    event = updates("A", "B")
    assert run(f"http://127.0.0.1:{port}/prod", event, max_attempts=2) == sequences(event)
    (log,) = failure_logs(caplog)
    assert log.reason == "unreachable"  # type: ignore[attr-defined]
    assert "could not be reached" in log.getMessage()


def test_oversize_update_arrives_as_the_slim_envelope(table: Any, api: Any) -> None:
    add_connections(table, "a")
    event = updates("A", title="x" * 200_000)
    assert run(api.url, event) == []
    (post,) = api.posts_to("a")
    assert len(post.body) <= 128 * 1024
    message = json.loads(post.body)
    assert message["truncated"] is True
    assert message["keys"]["pk"] == "INCIDENT#A"
    assert "incident" not in message


@pytest.fixture(params=["wire", "session"])
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """ "wire" is the lean client (production's); "session" the aiohttp ClientSession path the
    benchmark measures it against (tools/bench/session.py): both must behave the same."""
    if request.param == "session":
        monkeypatch.setattr(delivery, "runtime_factory", session.SessionRuntime)
    delivery.reset_runtime()


@pytest.mark.usefixtures("transport")
def test_running_out_of_time_fails_the_record_instead_of_hanging(
    table: Any, api: Any, caplog: pytest.LogCaptureFixture
) -> None:
    ids = [f"c{n}" for n in range(6)]
    add_connections(table, *ids)
    api.latency = 0.2
    event = updates("A")
    deadline = time.monotonic() + 0.5
    assert run(api.url, event, concurrency=1, deadline=deadline) == sequences(event)
    finished = time.monotonic()
    assert len(api.posts) < 6  # sequential posts of 0.2 s cannot all fit in 0.5 s
    assert all(p.started <= deadline for p in api.posts)  # nothing started after the deadline
    assert finished < deadline + 0.3  # the in-flight post was cut at the deadline, not waited for
    (log,) = failure_logs(caplog)
    assert log.reason == "time"  # type: ignore[attr-defined]  (not "API unreachable")
    assert "time ran out" in log.getMessage()


@pytest.mark.usefixtures("transport")
def test_handler_entry_point_against_the_fake(
    table: Any,
    api: Any,
    monkeypatch: pytest.MonkeyPatch,
    create_state_table: Callable[[str], Any],
) -> None:
    add_connections(table, "a", "gone")
    api.behaviours["gone"] = "gone"
    create_state_table("state")
    monkeypatch.setenv("CONNECTIONS_TABLE", TABLE)
    monkeypatch.setenv("WS_CALLBACK_URL", api.url)
    monkeypatch.setenv("STATE_TABLE", "state")
    monkeypatch.setenv("STATE_RETENTION_SECONDS", "86400")
    monkeypatch.setenv("CLOSED_STATUSES", "[]")
    for name, value in terraform_defaults.BROADCASTER.items():  # variables.tf's defaults
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FANOUT_WORKER_FUNCTION", "realtime-fanout-worker")

    context = LambdaContext(function_name="broadcaster", remaining_ms=30_000)
    event = updates("A", "A")
    assert broadcaster.handler(event, context) == {"batchItemFailures": []}
    assert len(messages(api, "a")) == 2
    assert stored(table) == {"CONN#a"}
    # Signed with the credentials botocore resolves, session token included.
    resolved = boto3.Session().get_credentials().get_frozen_credentials()
    (post,) = api.posts_to("a")
    assert post.headers["X-Amz-Security-Token"] == resolved.token == "testing"
    assert post.headers["Authorization"].startswith(
        f"AWS4-HMAC-SHA256 Credential={resolved.access_key}/"
    )


def test_small_records_share_one_batch_frame(table: Any, api: Any) -> None:
    add_connections(table, "a", "b")
    event = updates("A", "B", "A")
    assert run(api.url, event) == []
    for cid in ("a", "b"):
        (post,) = api.posts_to(cid)
        frame = json.loads(post.body)
        assert frame["version"] == 1
        assert frame["type"] == "batch"
        assert [m["sequence"] for m in frame["messages"]] == sequences(event)
        assert [m["type"] for m in frame["messages"]] == ["incident.updated"] * 3


def test_a_share_of_gone_connections_loses_exactly_those_rows(table: Any, api: Any) -> None:
    from testing.fake_management_api import gone_by_share  # noqa: PLC0415

    ids = [f"conn-{n:03d}=" for n in range(200)]
    add_connections(table, *ids)
    api.gone_share = 0.1
    api.throttle_share = 0.05
    gone = {cid for cid in ids if gone_by_share(cid, 0.1)}
    assert 5 < len(gone) < 40
    assert run(api.url, updates("A"), concurrency=16) == []
    assert stored(table) == {f"CONN#{cid}" for cid in ids if cid not in gone}
    assert api.stats()["statuses"]["429"] > 0  # throttled posts were retried and delivered
    assert all(len(messages(api, cid)) == 1 for cid in ids if cid not in gone)


def test_the_fake_answers_413_over_the_payload_limit(api: Any) -> None:
    import urllib.request  # noqa: PLC0415

    url = api.url + "/@connections/a"
    assert url.startswith("http://127.0.0.1:")
    request = urllib.request.Request(url, data=b"x" * (128 * 1024 + 1))  # noqa: S310
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=5)  # noqa: S310
    assert error.value.code == 413


def in_process_worker(
    url: str, jobs: list[WorkerJob] | None = None
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The broadcaster's worker invocation, run in this process (each job kept in ``jobs``)."""

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        job = WorkerJob.from_event(json.loads(json.dumps(event)))  # as Lambda would pass it
        if jobs is not None:
            jobs.append(job)
        return fanout_worker.work(
            job,
            FanoutConfig(TABLE, url, concurrency=8),
            dynamodb=aws.dynamodb_client(),
            credentials=aws.credentials_source(),
            region="us-east-1",
            deadline=time.monotonic() + 30,
        )

    return invoke


def run_through_workers(
    url: str,
    event: dict[str, Any],
    *,
    threshold: int,
    max_workers: int,
    item_count: int,
    jobs: list[WorkerJob] | None = None,
) -> None:
    """Broadcast ``event`` over a table of ``item_count`` connections through in-process
    workers (each job kept in ``jobs``); every record must be delivered."""
    response = broadcaster.broadcast(
        event,
        config(url, worker_threshold=threshold, max_workers=max_workers),
        clients(invoke_worker=in_process_worker(url, jobs), item_count=lambda: item_count),
        deadline=time.monotonic() + 30,
    )
    assert response == {"batchItemFailures": []}


def test_the_worker_path_reaches_every_connection_once_through_its_segments(
    table: Any, api: Any
) -> None:
    ids = [f"w{n:03d}" for n in range(120)]
    add_connections(table, *ids)
    jobs: list[WorkerJob] = []
    event = updates("A", "B")
    run_through_workers(api.url, event, threshold=50, max_workers=4, item_count=120, jobs=jobs)
    assert sorted(job.segment for job in jobs) == [0, 1, 2]  # ceil(120 / 50) segments
    assert {job.rate for job in jobs} == {100_000 / 3}  # the rate is shared, not multiplied
    for cid in ids:
        assert len(api.posts_to(cid)) == 1, cid
        assert [m["sequence"] for m in messages(api, cid)] == sequences(event)


def test_each_role_receives_its_view_in_order_and_a_role_without_one_nothing(
    table: Any, api: Any, caplog: pytest.LogCaptureFixture
) -> None:
    add_connections(table, "view-1", "view-2", role="viewer")
    add_connections(table, "disp-1", role="dispatcher")
    add_connections(table, "resp-1", role="responder")
    add_connections(table, "audit-1", role="auditor")  # connected under an older ALLOWED_ROLES
    event = updates("A", "B", "A")
    assert run(api.url, event) == []
    whole = messages(api, "disp-1")
    assert [m["sequence"] for m in whole] == sequences(event)
    assert whole[0]["incident"]["reportedBy"] == "user-42"
    assert whole[0]["incident"]["location"]["address"] == "Calle Mayor 1, Madrid"
    assert messages(api, "resp-1") == whole
    for cid in ("view-1", "view-2"):
        viewed = messages(api, cid)
        assert [m["sequence"] for m in viewed] == sequences(event)  # same records, same order
        assert [m["eventId"] for m in viewed] == [m["eventId"] for m in whole]
        assert set(viewed[0]["incident"]) == {
            "incidentId", "title", "status", "urgency", "type", "createdAt", "updatedAt", "version"
        }  # fmt: skip
    assert len(api.posts_to("view-1")) == 1  # still one batch frame per connection
    assert api.posts_to("audit-1") == []
    assert any("has no view" in r.getMessage() for r in caplog.records)


def test_the_worker_path_sends_each_role_its_view(table: Any, api: Any) -> None:
    add_connections(table, *[f"v{n:02d}" for n in range(20)], role="viewer")
    add_connections(table, *[f"d{n:02d}" for n in range(20)], role="supervisor")
    add_connections(table, "x", role="auditor")
    event = updates("A")
    run_through_workers(api.url, event, threshold=10, max_workers=3, item_count=41)
    for n in range(20):
        (viewed,) = messages(api, f"v{n:02d}")
        (whole,) = messages(api, f"d{n:02d}")
        assert "reportedBy" not in viewed["incident"] and "title" in viewed["incident"]
        assert whole["incident"]["reportedBy"] == "user-42"
    assert api.posts_to("x") == []


# --------------------------------------------------------------------------------------------
# Subscriptions (issue 17): each connection gets only what its effective filter matches
# --------------------------------------------------------------------------------------------
def moved(incident: str, old_area: str | None, new_area: str | None, n: int = 0) -> dict[str, Any]:
    """A MODIFY of ``incident`` from ``old_area`` to ``new_area`` (None: removed from the stream
    images; a REMOVE record when ``new_area`` is None and ``old_area`` is set)."""
    record = updates(incident)["Records"][0]
    record["dynamodb"]["SequenceNumber"] = f"3000000000000000{n:05d}"
    record["eventID"] = uuid.uuid4().hex
    data = record["dynamodb"]
    data["OldImage"] = copy.deepcopy(data["NewImage"])
    data["OldImage"]["area"] = {"S": old_area or "nowhere"}
    if new_area is None:
        record["eventName"] = "REMOVE"
        del data["NewImage"]
    else:
        data["NewImage"]["area"] = {"S": new_area}
    return record


SUBSCRIBERS = {
    # connection id -> (areas, filter) as on_connect / subscribe store them (None: absent)
    "north": ('["north"]', None),
    "harbour": ('["harbour"]', None),
    "everything": (None, None),  # a row written before subscriptions: DEFAULT_AREAS (["*"])
    "north-asks-harbour": ('["north"]', '{"area":["harbour"]}'),
    "high-only": ('["*"]', '{"urgency":["high"]}'),
    "critical-north": ('["*"]', '{"area":["north"],"urgency":["critical"]}'),
}


def add_subscribers(table: Any, role: str = "dispatcher", prefix: str = "") -> None:
    with table.batch_writer() as batch:
        for cid, (areas, filter_text) in SUBSCRIBERS.items():
            extra = {"areas": areas} if areas is not None else {}
            if filter_text is not None:
                extra["filter"] = filter_text
            batch.put_item(Item=connection_row(prefix + cid, role=role, **extra))


def received(api: Any, prefix: str = "") -> dict[str, list[tuple[str, str]]]:
    """Per subscriber: (type, area of the incident or "") of every message, in order."""
    return {
        cid: [
            (m["type"], (m.get("incident") or {}).get("area", ""))
            for m in messages(api, prefix + cid)
        ]
        for cid in SUBSCRIBERS
    }


def test_a_record_reaches_exactly_the_connections_whose_filter_matches(
    table: Any, api: Any
) -> None:
    add_subscribers(table)
    event = {"Records": [moved("A", "north", "north")]}  # urgency critical, type fire
    assert run(api.url, event) == []
    assert received(api) == {
        "north": [("incident.updated", "north")],
        "harbour": [],
        "everything": [("incident.updated", "north")],
        "north-asks-harbour": [],  # narrowed to no area: nothing, never harbour's incidents
        "high-only": [],
        "critical-north": [("incident.updated", "north")],
    }


def test_an_incident_that_moves_away_leaves_the_old_area_and_arrives_in_the_new_one(
    table: Any, api: Any
) -> None:
    add_subscribers(table)
    event = {"Records": [moved("A", "north", "north", 0), moved("A", "north", "harbour", 1)]}
    assert run(api.url, event) == []
    got = received(api)
    assert got["north"] == [("incident.updated", "north"), ("incident.left", "")]
    assert got["harbour"] == [("incident.updated", "harbour")]
    assert got["everything"] == [("incident.updated", "north"), ("incident.updated", "harbour")]
    assert got["critical-north"] == [("incident.updated", "north"), ("incident.left", "")]
    assert got["north-asks-harbour"] == got["high-only"] == []
    (left,) = [m for m in messages(api, "north") if m["type"] == "incident.left"]
    assert set(left) == {"version", "type", "keys", "eventId", "sequence"}  # the pinned envelope
    assert left["sequence"] == event["Records"][1]["dynamodb"]["SequenceNumber"]
    assert len(api.posts_to("north")) == 1  # both in one batch frame
    # A connection whose filter matches none of the batch's records gets no post at all.
    assert api.posts_to("high-only") == []


def test_a_removal_goes_only_where_the_removed_incident_matched(table: Any, api: Any) -> None:
    add_subscribers(table)
    event = {"Records": [moved("A", "north", "north", 0), moved("B", "harbour", None, 1)]}
    assert run(api.url, event) == []
    got = received(api)
    assert got["harbour"] == [("incident.removed", "")]
    assert got["everything"] == [("incident.updated", "north"), ("incident.removed", "")]
    assert got["north"] == [("incident.updated", "north")]  # frame 2 has nothing for north
    assert got["high-only"] == got["north-asks-harbour"] == []


def test_the_worker_path_routes_each_segment_by_filter_and_view(table: Any, api: Any) -> None:
    for n in range(4):
        add_subscribers(table, role="dispatcher", prefix=f"d{n}-")
        add_subscribers(table, role="viewer", prefix=f"v{n}-")
    jobs: list[WorkerJob] = []
    event = {"Records": [moved("A", "north", "north", 0), moved("A", "north", "harbour", 1)]}
    run_through_workers(api.url, event, threshold=10, max_workers=3, item_count=48, jobs=jobs)
    assert len(jobs) == 3
    # The job carries only what matching reads of each image (and each view's messages).
    assert all(set(change.new or {}) <= {"area", "urgency", "type", "status"}
               for change in jobs[0].changes)  # fmt: skip
    for n in range(4):
        for prefix in (f"d{n}-", f"v{n}-"):
            got = received(api, prefix)
            assert got["north"] == [("incident.updated", "north"), ("incident.left", "")]
            assert got["harbour"] == [("incident.updated", "harbour")]
            assert got["north-asks-harbour"] == got["high-only"] == []
        viewed = messages(api, f"v{n}-everything")[0]["incident"]
        assert "reportedBy" not in viewed and viewed["area"] == "north"


def test_a_stored_filter_this_stack_did_not_write_gets_nothing_and_is_logged(
    table: Any, api: Any, caplog: pytest.LogCaptureFixture
) -> None:
    table.put_item(Item=connection_row("broken", role="dispatcher", areas="north"))  # not JSON
    add_connections(table, "fine", role="dispatcher")
    assert run(api.url, {"Records": [moved("A", "north", "north")]}) == []
    assert api.posts_to("broken") == []
    assert len(api.posts_to("fine")) == 1
    assert any("malformed areas or filter" in r.getMessage() for r in caplog.records)
