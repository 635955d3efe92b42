"""broadcaster.handler end to end with the Connections table in moto: scan (all pages), posts
received by the fake management API on 127.0.0.1 (the fan-out posts over aiohttp, which moto's
management API stub cannot intercept), partial batch responses, and the worker path through
moto's Lambda client. Failure modes (410, 429, 5xx, concurrency) are in tests/fanout."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

import boto3
import pytest

import broadcaster
from realtime_common.config import ConfigError
from testing.connections import add_connection
from testing.events import load_event
from testing.fake_management_api import FakeManagementApi

pytestmark = pytest.mark.handler


def received(api: FakeManagementApi) -> dict[str, list[dict[str, Any]]]:
    """Messages the management API received, per connection id (batch frames unpacked)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for post in api.posts:
        if post.status != 200:
            continue
        frame = json.loads(post.body)
        out.setdefault(post.connection_id, []).extend(
            frame["messages"] if frame["type"] == "batch" else [frame]
        )
    return out


def test_insert_reaches_every_live_connection(
    env: Any, context: Any, api: FakeManagementApi
) -> None:
    add_connection(env, "live-1=")
    add_connection(env, "live-2=")
    add_connection(env, "expired=", expires_in=-10)  # TTL not yet applied by DynamoDB
    response = broadcaster.handler(load_event("stream-insert.json"), context)
    assert response == {"batchItemFailures": []}
    got = received(api)
    assert set(got) == {"live-1=", "live-2="}
    (message,) = got["live-1="]
    assert message["type"] == "incident.created"
    assert message["eventId"] == "7de3041b4a9ab3c4e4b1a5e4c9d2a1f0"
    assert message["sequence"] == "100000000000000000001"
    assert message["keys"] == {"pk": "INCIDENT#INC-2026-0042", "sk": "META"}
    assert message["incident"]["urgency"] == "high"
    assert message["incident"]["location"]["lat"] == 40.4168
    assert message["incident"]["units"] == ["AMB-3", "ENG-12"]
    assert got["live-2="] == got["live-1="]


def test_modify_is_an_update(env: Any, context: Any, api: FakeManagementApi) -> None:
    add_connection(env, "c1")
    broadcaster.handler(load_event("stream-modify.json"), context)
    (message,) = received(api)["c1"]
    assert message["type"] == "incident.updated"
    assert message["incident"]["urgency"] == "critical"


def test_batch_is_delivered_in_stream_order(env: Any, context: Any, api: FakeManagementApi) -> None:
    add_connection(env, "c1")
    assert broadcaster.handler(load_event("stream-batch.json"), context) == {
        "batchItemFailures": []
    }
    got = received(api)["c1"]
    assert [m["sequence"] for m in got] == [
        "100000000000000000010",
        "100000000000000000011",
        "100000000000000000012",
        "100000000000000000013",
    ]
    assert got[-1]["type"] == "incident.removed"  # the REMOVE, in its place


def test_every_type_arrives_as_plain_json(env: Any, context: Any, api: FakeManagementApi) -> None:
    add_connection(env, "c1")
    broadcaster.handler(load_event("stream-all-types.json"), context)
    (message,) = received(api)["c1"]
    incident = message["incident"]
    assert incident["bigCount"] == 12345678901234567890
    assert incident["severityScore"] == 7.25
    assert incident["attachment"] == "iVBORw0KGgo="
    assert incident["sectors"] == [3, 7.5, 12]
    assert incident["verified"] is True
    assert incident["assignee"] is None
    assert incident["title"] == "Incendio en almacén \u2013 nivel ⚠"


def test_malformed_records_are_reported_and_the_rest_delivered(
    env: Any, context: Any, api: FakeManagementApi
) -> None:
    add_connection(env, "c1")
    response = broadcaster.handler(load_event("stream-malformed.json"), context)
    assert response == {
        "batchItemFailures": [
            {"itemIdentifier": "100000000000000000021"},
            {"itemIdentifier": "100000000000000000022"},
        ]
    }
    assert [m["sequence"] for m in received(api)["c1"]] == [
        "100000000000000000020",
        "100000000000000000023",
    ]


def test_connections_past_the_first_scan_page_are_reached(
    env: Any, context: Any, api: FakeManagementApi
) -> None:
    # ~1.2 MB of rows: DynamoDB (and moto) cut a Scan page at 1 MB.
    padding = "p" * 10_000
    for n in range(120):
        add_connection(env, f"conn-{n:03d}", padding=padding)
    first_page = boto3.client("dynamodb").scan(TableName=env.name)
    assert "LastEvaluatedKey" in first_page  # the table really spans pages
    assert broadcaster.handler(load_event("stream-insert.json"), context) == {
        "batchItemFailures": []
    }
    got = received(api)
    assert len(got) == 120
    assert all(len(messages) == 1 for messages in got.values())


def test_no_connections_is_a_success(env: Any, context: Any, api: FakeManagementApi) -> None:
    assert broadcaster.handler(load_event("stream-batch.json"), context) == {
        "batchItemFailures": []
    }


def test_event_without_records_fails_the_invocation(
    env: Any, context: Any, api: FakeManagementApi
) -> None:
    with pytest.raises(ValueError, match="Records"):
        broadcaster.handler({"records": []}, context)


def test_missing_callback_url_fails_naming_it(
    connections_table: Any, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WS_CALLBACK_URL", raising=False)
    with pytest.raises(ConfigError, match="WS_CALLBACK_URL"):
        broadcaster.handler(load_event("stream-insert.json"), context)


class InProcessLambda:
    """Just enough of the Lambda client for the broadcaster's worker invocations: runs
    ``fanout_worker.handler`` in this process (moto runs Lambdas only in Docker)."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self.events: list[dict[str, Any]] = []

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        import io  # noqa: PLC0415

        import fanout_worker  # noqa: PLC0415

        assert FunctionName == "realtime-fanout-worker"
        assert InvocationType == "RequestResponse"
        event = json.loads(Payload)
        self.events.append(event)
        answer = fanout_worker.handler(event, self.context)
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer).encode())}


def test_a_large_audience_goes_through_one_worker_per_scan_segment(
    env: Any, context: Any, api: FakeManagementApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    from realtime_common import aws  # noqa: PLC0415

    for n in range(30):
        add_connection(env, f"conn-{n:02d}")
    add_connection(env, "expired", expires_in=-10)
    monkeypatch.setenv("FANOUT_WORKER_FUNCTION", "realtime-fanout-worker")
    monkeypatch.setenv("FANOUT_WORKER_THRESHOLD", "8")
    monkeypatch.setenv("FANOUT_MAX_WORKERS", "3")
    fake_lambda = InProcessLambda(context)
    with mock.patch.object(aws, "lambda_client", lambda pool: fake_lambda):
        response = broadcaster.handler(load_event("stream-batch.json"), context)
    assert response == {"batchItemFailures": []}
    jobs = [event["fanoutWorker"] for event in fake_lambda.events]
    assert sorted(job["segment"] for job in jobs) == [0, 1, 2]  # capped by FANOUT_MAX_WORKERS
    assert {job["totalSegments"] for job in jobs} == {3}
    got = received(api)
    assert set(got) == {f"conn-{n:02d}" for n in range(30)}  # every live row once, none expired
    for messages in got.values():
        assert [m["sequence"] for m in messages] == [
            "100000000000000000010",
            "100000000000000000011",
            "100000000000000000012",
            "100000000000000000013",  # the REMOVE: incident.removed
        ]
    assert len(api.posts) == 30  # one batch frame per connection, no segment overlap


def test_a_failed_worker_fails_the_records_it_carried(
    env: Any, context: Any, api: FakeManagementApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    from realtime_common import aws  # noqa: PLC0415

    for n in range(12):
        add_connection(env, f"conn-{n:02d}")
    monkeypatch.setenv("FANOUT_WORKER_FUNCTION", "realtime-fanout-worker")
    monkeypatch.setenv("FANOUT_WORKER_THRESHOLD", "5")

    class Crashing:
        def invoke(self, **kwargs: Any) -> dict[str, Any]:
            import io  # noqa: PLC0415

            body = b'{"errorMessage": "Task timed out after 60.00 seconds"}'
            return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": io.BytesIO(body)}

    with mock.patch.object(aws, "lambda_client", lambda pool: Crashing()):
        response = broadcaster.handler(load_event("stream-insert.json"), context)
    assert response == {"batchItemFailures": [{"itemIdentifier": "100000000000000000001"}]}


def test_the_worker_refuses_an_event_that_is_not_a_job(
    env: Any, context: Any, api: FakeManagementApi
) -> None:
    import fanout_worker  # noqa: PLC0415

    with pytest.raises(ValueError, match="not a fan-out worker event"):
        fanout_worker.handler(load_event("stream-insert.json"), context)


def test_role_views_from_the_environment_shape_what_each_role_receives(
    env: Any, context: Any, api: FakeManagementApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "ROLE_VIEWS",
        json.dumps(
            {
                "dispatcher": {"whole": True, "attributes": []},
                "viewer": {"whole": False, "attributes": ["incidentId", "status"]},
            }
        ),
    )
    add_connection(env, "disp", role="dispatcher")
    add_connection(env, "view", role="viewer")
    add_connection(env, "resp", role="responder")  # no view in this ROLE_VIEWS
    assert broadcaster.handler(load_event("stream-insert.json"), context) == {
        "batchItemFailures": []
    }
    got = received(api)
    assert set(got) == {"disp", "view"}
    assert got["view"][0]["incident"] == {"incidentId": "INC-2026-0042", "status": "open"}
    assert got["view"][0]["keys"] == got["disp"][0]["keys"]
    assert got["disp"][0]["incident"]["units"] == ["AMB-3", "ENG-12"]


def test_an_invalid_role_views_fails_the_cold_start_naming_it(
    env: Any, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROLE_VIEWS", '{"viewer": {"attributes": []}}')
    with pytest.raises(ConfigError, match="ROLE_VIEWS"):
        broadcaster.handler(load_event("stream-insert.json"), context)


def test_the_fan_out_is_counted_once_per_invocation_in_emf(
    env: Any, context: Any, api: FakeManagementApi, capsys: pytest.CaptureFixture[str]
) -> None:
    from testing import emf  # noqa: PLC0415

    add_connection(env, "ok")
    add_connection(env, "gone")
    add_connection(env, "busy")
    api.behaviours["gone"] = "gone"
    api.behaviours["busy"] = "throttle:1"  # 429 once, then 200
    capsys.readouterr()
    assert broadcaster.handler(load_event("stream-insert.json"), context) == {
        "batchItemFailures": []
    }
    (document,) = emf.documents(capsys.readouterr().out)
    assert emf.namespace(document) == "realtime-test"
    assert emf.dimensions(document) == {"environment": "test", "function": "broadcaster"}
    values = emf.metrics(document)
    assert values.pop("FanoutDuration") > 0
    assert values == {
        "PostsDelivered": 2.0,
        "ConnectionsGone": 1.0,
        "ConnectionsRemoved": 1.0,
        "PostsThrottled": 1.0,
        "PostsRetried": 1.0,
        "ConnectionsPerBatch": 3.0,
        "RecordsFailed": 0.0,
    }
    assert emf.units(document)["FanoutDuration"] == "Milliseconds"
    assert emf.units(document)["PostsDelivered"] == "Count"


def test_a_batch_with_nothing_to_send_still_emits_zeros(
    env: Any, context: Any, api: FakeManagementApi, capsys: pytest.CaptureFixture[str]
) -> None:
    from testing import emf  # noqa: PLC0415

    add_connection(env, "ok")
    capsys.readouterr()
    broadcaster.handler({"Records": []}, context)
    (document,) = emf.documents(capsys.readouterr().out)
    assert set(emf.metrics(document).values()) == {0.0}
    assert len(emf.metrics(document)) == 8  # the seven fan-out metrics and RecordsFailed
    assert api.posts == []


def test_failed_records_are_counted(
    env: Any, context: Any, api: FakeManagementApi, capsys: pytest.CaptureFixture[str]
) -> None:
    from testing import emf  # noqa: PLC0415

    add_connection(env, "ok")
    capsys.readouterr()
    response = broadcaster.handler(load_event("stream-malformed.json"), context)
    (document,) = emf.documents(capsys.readouterr().out)
    failed = len(response["batchItemFailures"])
    assert failed > 0
    assert emf.metrics(document)["RecordsFailed"] == failed
