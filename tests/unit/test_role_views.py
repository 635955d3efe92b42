"""Role-based views: ROLE_VIEWS parsing and validation, what each view lets through, and that the
broadcaster encodes a record once per view (not once per connection) and sends each connection
its role's frames, nothing to a role without a view."""

from __future__ import annotations

import json
import math
from typing import Any
from unittest import mock

import pytest

import broadcaster
from realtime_common.config import ConfigError
from realtime_common.fanout import delivery, engine, messages
from realtime_common.fanout.config import FanoutConfig
from realtime_common.fanout.schedule import FrameTally
from realtime_common.fanout.views import RoleViews, project
from testing import terraform_defaults
from testing.events import EVENTS

pytestmark = pytest.mark.unit

# What jsonencode(var.role_views) writes for the default (tests/unit/test_settings_from_terraform.py
# reads the real one from the Terraform and feeds it to the readers).
TERRAFORM_DEFAULT = terraform_defaults.ROLE_VIEWS
VIEWER_ATTRIBUTES = json.loads(TERRAFORM_DEFAULT)["viewer"]["attributes"]


def test_roles_with_the_same_view_share_one_audience() -> None:
    views = RoleViews.parse(TERRAFORM_DEFAULT)
    assert views.audiences == [None, frozenset(VIEWER_ATTRIBUTES)]  # whole first
    assert views.audience_of() == {"dispatcher": 0, "responder": 0, "supervisor": 0, "viewer": 1}


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("not json", "is not JSON"),
        ("[]", "non-empty JSON object"),
        ("{}", "non-empty JSON object"),
        ('{"Viewer": {"whole": true}}', "roles are lowercase"),
        ('{"viewer": ["title"]}', "must map to an object"),
        ('{"viewer": {}}', "either whole = true or a non-empty attributes list"),
        ('{"viewer": {"whole": true, "attributes": ["title"]}}', "either whole"),
        ('{"viewer": {"whole": "yes"}}', "whole is true/false"),
        ('{"viewer": {"attributes": ["ti tle"]}}', "has the attribute"),
        ('{"viewer": {"attributes": [3]}}', "has the attribute"),
    ],
)
def test_a_bad_role_views_variable_is_refused_naming_it(text: str, complaint: str) -> None:
    with pytest.raises(ConfigError, match="ROLE_VIEWS") as error:
        RoleViews.parse(text)
    assert complaint in str(error.value)


def test_the_broadcaster_validates_role_views_at_cold_start() -> None:
    env = {
        "CONNECTIONS_TABLE": "t",
        "WS_CALLBACK_URL": "https://x.example.com/prod",
        "FANOUT_WORKER_FUNCTION": "worker",
        **terraform_defaults.BROADCASTER,
    }
    views = broadcaster.BroadcastConfig.from_env(env).views
    assert views == RoleViews.parse(TERRAFORM_DEFAULT)
    with pytest.raises(ConfigError, match="ROLE_VIEWS"):
        broadcaster.BroadcastConfig.from_env({**env, "ROLE_VIEWS": '{"viewer": {}}'})
    with pytest.raises(ConfigError, match="ROLE_VIEWS"):  # Terraform always sets it
        broadcaster.BroadcastConfig.from_env({k: v for k, v in env.items() if k != "ROLE_VIEWS"})


def test_a_view_keeps_only_its_attributes() -> None:
    image = {"incidentId": "I-1", "title": "t", "reportedBy": "u-42", "location": {"lat": 1}}
    assert project(image, None) is image
    assert project(image, frozenset({"incidentId", "title", "area"})) == {
        "incidentId": "I-1",
        "title": "t",
    }


class FakeDynamo:
    """Scan pages of (id, role) rows; no deletes expected."""

    def __init__(self, rows: list[tuple[str, str | None]]) -> None:
        self.rows = rows

    def get_paginator(self, name: str) -> FakeDynamo:
        return self

    def paginate(self, **kwargs: Any) -> Any:
        items = []
        for cid, role in self.rows:
            item: dict[str, Any] = {"pk": {"S": f"CONN#{cid}"}}
            if role is not None:
                item["role"] = {"S": role}
            items.append(item)
        yield {"Items": items}


def test_each_record_is_encoded_once_per_view_and_each_connection_gets_its_roles_frames(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rows: list[tuple[str, str | None]] = [(f"d{n}", "dispatcher") for n in range(50)]
    rows += [(f"v{n}", "viewer") for n in range(50)]
    rows += [("s1", "supervisor"), ("a1", "auditor"), ("none", None)]
    cfg = broadcaster.BroadcastConfig(
        FanoutConfig("t", "https://x.example.com/prod", concurrency=4),
        rate=1000,
        max_attempts=1,
        worker_function=None,
        worker_threshold=10_000,
        max_workers=2,
        views=RoleViews.parse(TERRAFORM_DEFAULT),
    )
    clients = broadcaster.Clients(
        dynamodb=FakeDynamo(rows),  # type: ignore[arg-type]
        credentials=lambda: None,  # type: ignore[arg-type,return-value]
        region="us-east-1",
    )
    seen: dict[str, Any] = {}

    def fake_fan_out(ids: list[str], frames: Any, settings: Any, **kwargs: Any) -> engine.Result:
        seen.update(ids=ids, frames=frames, audiences=kwargs["audiences"])
        return engine.Result([FrameTally(0, len(ids)) for _ in frames[0]], engine.Stats())

    event = json.loads((EVENTS / "stream-batch.json").read_text())
    with (
        mock.patch.object(delivery, "fan_out", fake_fan_out),
        mock.patch.object(messages, "encode_message", wraps=messages.encode_message) as spy,
    ):
        response = broadcaster.broadcast(event, cfg, clients, deadline=math.inf)
    assert response == {"batchItemFailures": []}
    assert spy.call_count == 3 * 2  # three records x two distinct views, for 101 connections
    whole, viewer = seen["frames"]
    assert len(whole) == len(viewer) == 1  # the three records share one batch frame per view
    by_id = dict(zip(seen["ids"], seen["audiences"], strict=True))
    assert set(by_id) == {f"d{n}" for n in range(50)} | {f"v{n}" for n in range(50)} | {"s1"}
    assert {by_id["d0"], by_id["s1"]} == {0} and by_id["v0"] == 1
    removed = [m for m in json.loads(viewer[0])["messages"] if m["type"] == "incident.removed"]
    assert len(removed) == 1 and "incident" not in removed[0]  # the batch's REMOVE, no body
    for message in json.loads(viewer[0])["messages"]:
        if message["type"] == "incident.removed":
            continue
        assert set(message["incident"]) <= set(VIEWER_ATTRIBUTES)
        assert "reportedBy" not in message["incident"] and "location" not in message["incident"]
    assert any("location" in m.get("incident", {}) for m in json.loads(whole[0])["messages"])
    (warning,) = [r for r in caplog.records if "has no view" in r.getMessage()]
    assert warning.connections_by_role == {"auditor": 1, "": 1}  # type: ignore[attr-defined]
