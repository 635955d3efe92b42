"""subscribe.handler against moto (the Connections table) and the fake management API on
127.0.0.1 (the answer is posted over the fan-out's wire client): the effective filter on the
row, narrowing reported, bad requests answered with bad_request and nothing stored, a row that
is gone gets nothing."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest

import subscribe
from realtime_common.config import ConfigError
from testing import terraform_defaults
from testing.connections import add_connection
from testing.events import load_event
from testing.fake_management_api import FakeManagementApi

pytestmark = pytest.mark.handler

EVENT = load_event("subscribe.json")
CONNECTION = EVENT["requestContext"]["connectionId"]


@pytest.fixture
def env(connections_table: Any, api: FakeManagementApi, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in {
        "WS_CALLBACK_URL": api.url,
        "POST_MAX_ATTEMPTS": terraform_defaults.BROADCASTER["POST_MAX_ATTEMPTS"],
        "POST_RATE": "1000",
    }.items():
        monkeypatch.setenv(name, value)
    return connections_table


def connect(table: Any, areas: str | None = '["north/*"]', **extra: Any) -> None:
    """The row ``on_connect`` stores for CONNECTION, with ``areas`` (None: a row written before
    subscriptions) and ``extra`` attributes."""
    if areas is not None:
        extra["areas"] = areas
    add_connection(table, CONNECTION, user="user-42", **extra)


def send(context: Any, body: Any) -> None:
    event = copy.deepcopy(EVENT)
    event["body"] = body if isinstance(body, str) else json.dumps(body)
    assert subscribe.handler(event, context) == {"statusCode": 200}


def answers(api: FakeManagementApi) -> list[dict[str, Any]]:
    out = []
    for post in api.posts_to(CONNECTION):
        assert post.status == 200, post
        out.append(json.loads(post.body))
    api.reset()
    return out


def row(table: Any) -> dict[str, Any]:
    item: dict[str, Any] = table.get_item(Key={"pk": f"CONN#{CONNECTION}", "sk": "META#"})["Item"]
    return item


def test_subscribe_stores_the_effective_filter_and_reports_narrowing(
    env: Any, api: FakeManagementApi, context: Any
) -> None:
    connect(env)
    assert subscribe.handler(copy.deepcopy(EVENT), context) == {"statusCode": 200}
    assert answers(api) == [
        {
            "version": 1,
            "type": "subscribed",
            "filter": {"area": ["north/east"], "urgency": ["critical", "high"]},
            "narrowed": True,
            "areas": ["north/*"],
        }
    ]
    assert row(env)["filter"] == '{"area":["north/east"],"urgency":["critical","high"]}'
    assert row(env)["role"] == "dispatcher"  # the rest of the row stays


@pytest.mark.parametrize(
    ("areas", "asked", "effective", "narrowed", "stored"),
    [
        pytest.param(
            '["north/*"]',
            {"area": ["north"]},
            {"area": ["north"]},
            False,
            '{"area":["north"]}',
            id="within the areas: not narrowed",
        ),
        pytest.param('["north/*"]', {}, {}, False, "{}", id="everything within the areas"),
        pytest.param(
            '["north"]',
            {"area": ["harbour"]},
            {"area": []},
            True,
            '{"area":[]}',
            id="only forbidden areas: narrowed to nothing",
        ),
    ],
)
def test_the_effective_filter_is_answered_and_replaces_the_last(
    env: Any,
    api: FakeManagementApi,
    context: Any,
    areas: str,
    asked: dict[str, Any],
    effective: dict[str, Any],
    narrowed: bool,
    stored: str,
) -> None:
    connect(env, areas=areas, filter='{"type":["fire"]}')
    send(context, {"action": "subscribe", "filter": asked})
    (answer,) = answers(api)
    assert (answer["filter"], answer["narrowed"]) == (effective, narrowed)
    assert answer["areas"] == json.loads(areas)
    assert row(env)["filter"] == stored


def test_a_row_without_areas_gets_the_terraform_default(
    env: Any, api: FakeManagementApi, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEFAULT_AREAS", "[]")
    connect(env, areas=None)  # written before subscriptions existed
    send(context, {"action": "subscribe", "filter": {"area": ["north"]}})
    (answer,) = answers(api)
    assert (answer["filter"], answer["narrowed"], answer["areas"]) == ({"area": []}, True, [])


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("not json", 'send {"action":"subscribe"'),
        ({"action": "subscribe"}, 'subscribe needs a "filter"'),
        ({"action": "subscribe", "filter": ["north"]}, "must be a JSON object"),
        ({"action": "subscribe", "filter": {"colour": ["red"]}}, "'colour' is not filterable"),
        ({"action": "subscribe", "filter": {"area": ["north/*"]}}, "not patterns"),
        ({"action": "subscribe", "filter": {"type": [f"t{n}" for n in range(21)]}}, "limit of 20"),
        ({"action": "subscribe", "filter": {"type": ["x" * 3000]}}, "limit of 2048"),
    ],
)
def test_bad_requests_get_bad_request_and_change_nothing(
    env: Any, api: FakeManagementApi, context: Any, body: Any, says: str
) -> None:
    connect(env, filter='{"type":["fire"]}')
    send(context, body)
    (answer,) = answers(api)
    assert (answer["version"], answer["type"], answer["code"]) == (1, "error", "bad_request")
    assert says in answer["message"], answer["message"]
    assert row(env)["filter"] == '{"type":["fire"]}'


@pytest.mark.parametrize("expired", [False, True])
def test_a_connection_whose_row_is_gone_gets_nothing(
    env: Any, api: FakeManagementApi, context: Any, expired: bool
) -> None:
    if expired:
        connect(env, expiresAt=int(time.time()) - 10)
    send(context, {"action": "subscribe", "filter": {}})
    assert answers(api) == []
    items = env.scan()["Items"]
    assert all("filter" not in item for item in items)  # never created nor written


def test_unreadable_areas_on_the_row_get_nothing(
    env: Any, api: FakeManagementApi, context: Any
) -> None:
    connect(env, areas="north")
    send(context, {"action": "subscribe", "filter": {}})
    assert answers(api) == []
    assert "filter" not in row(env)


def test_missing_settings_fail_naming_the_variable(
    env: Any, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POST_RATE")
    with pytest.raises(ConfigError, match="POST_RATE"):
        subscribe.handler(copy.deepcopy(EVENT), context)
