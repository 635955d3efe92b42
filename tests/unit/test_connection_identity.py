"""Connection manager pure logic: identity resolution and the stored row."""

from __future__ import annotations

import pytest

from connection_manager import (
    ConnectConfig,
    Identity,
    IdentityError,
    connection_item,
    resolve_identity,
)
from realtime_common import filters
from realtime_common.filters import Permission
from realtime_common.metrics import REFUSAL_REASONS
from testing import terraform_defaults

pytestmark = pytest.mark.unit

STRICT = ConnectConfig(
    table="conns",
    allowed_roles=frozenset({"dispatcher", "viewer"}),
    allow_query_identity=False,
    ttl_seconds=7200,
    filter_settings=filters.FilterSettings.from_env(terraform_defaults.FILTERS),
    default_areas=filters.default_areas(terraform_defaults.FILTERS),
)
ALL = Permission.of(["*"])
DEV = ConnectConfig(**{**STRICT.__dict__, "allow_query_identity": True})


def event(authorizer: dict | None = None, query: dict | None = None) -> dict:
    context: dict = {"connectionId": "abc="}
    if authorizer is not None:
        context["authorizer"] = authorizer
    return {"requestContext": context, "queryStringParameters": query}


def test_authorizer_identity() -> None:
    identity = resolve_identity(event({"userId": "u1", "role": "Dispatcher"}), STRICT)
    assert identity == Identity("u1", "dispatcher", "authorizer", ALL)


def test_query_identity_is_ignored_unless_allowed() -> None:
    ev = event(query={"userId": "dev", "role": "viewer"})
    with pytest.raises(IdentityError) as refused:
        resolve_identity(ev, STRICT)
    assert refused.value.status == 401
    assert resolve_identity(ev, DEV) == Identity("dev", "viewer", "query", ALL)


def test_authorizer_wins_over_query_string() -> None:
    ev = event({"userId": "real", "role": "viewer"}, {"userId": "spoof", "role": "dispatcher"})
    assert resolve_identity(ev, DEV) == Identity("real", "viewer", "authorizer", ALL)


@pytest.mark.parametrize(
    ("ev", "status", "code"),
    [
        (event(), 401, "no_identity"),
        (event({"principalId": "x"}), 401, "no_identity"),
        (event({"userId": "u1"}), 401, "no_role"),
        (event({"userId": "u1", "role": " "}), 401, "no_role"),
        (event({"userId": "u\n1", "role": "viewer"}), 401, "invalid_user_id"),
        (event({"userId": "u" * 257, "role": "viewer"}), 401, "invalid_user_id"),
        (event({"userId": "u1", "role": "admin"}), 403, "role_not_allowed"),
        # a default role, but not configured here
        (event({"userId": "u1", "role": "supervisor"}), 403, "role_not_allowed"),
    ],
)
def test_refusals(ev: dict, status: int, code: str) -> None:
    with pytest.raises(IdentityError) as refused:
        resolve_identity(ev, DEV)
    assert refused.value.status == status
    assert refused.value.code == code
    assert code in REFUSAL_REASONS  # the metric's reason dimension takes only these


def test_connection_item_shape_and_ttl() -> None:
    item = connection_item("abc=", Identity("u1", "viewer", "authorizer", ALL), 1795790400.7, 7200)
    assert item == {
        "pk": {"S": "CONN#abc="},
        "sk": {"S": "META#"},
        "userId": {"S": "u1"},
        "role": {"S": "viewer"},
        "connectedAt": {"S": "2026-11-27T14:40:00Z"},
        "expiresAt": {"N": str(1795790400 + 7200)},
        "areas": {"S": '["*"]'},
    }


def test_areas_come_with_the_identity_or_from_the_default() -> None:
    north = resolve_identity(
        event({"userId": "u1", "role": "viewer", "areas": '["north/*"]'}), STRICT
    )
    assert north.areas == Permission.of(["north/*"])
    nothing = ConnectConfig(**{**STRICT.__dict__, "default_areas": Permission.of([])})
    assert resolve_identity(event({"userId": "u1", "role": "viewer"}), nothing).areas == (
        Permission.of([])
    )
    # A dev query-string identity writes its areas as a token's claim would be.
    query = event(query={"userId": "dev", "role": "viewer", "areas": "north,harbour"})
    assert resolve_identity(query, DEV).areas == Permission.of(["harbour", "north"])


@pytest.mark.parametrize("areas", ['["no*rth"]', "[1]", '["x"'])
def test_unreadable_areas_refuse_the_connection(areas: str) -> None:
    with pytest.raises(IdentityError) as refused:
        resolve_identity(event({"userId": "u1", "role": "viewer", "areas": areas}), STRICT)
    assert (refused.value.status, refused.value.code) == (401, "no_identity")
    assert "areas are unusable" in refused.value.reason


def test_connect_time_filter_is_stored_as_the_effective_filter() -> None:
    identity = Identity("u1", "viewer", "authorizer", Permission.of(["north"]))
    asked = filters.Filter.of({"area": ["north", "harbour"], "urgency": ["high"]})
    item = connection_item("abc=", identity, 1795790400.0, 7200, asked)
    assert item["areas"] == {"S": '["north"]'}
    assert item["filter"] == {"S": '{"area":["north"],"urgency":["high"]}'}


@pytest.mark.parametrize(
    "user_id",
    [
        "u\x851",  # C1 NEL
        "u\x9b2J",  # C1 CSI
        "u\x00",
        "u\x7f",
        "u\u202e1",  # bidi override
        "u\u20661",  # bidi isolate
        "u\u200b1",  # zero-width space (Cf)
        "\ufeffu1",  # BOM
        "u\u20281",  # line separator
        "u\ud8001",  # lone surrogate
    ],
)
def test_user_id_refuses_controls_format_and_bidi_characters(user_id: str) -> None:
    with pytest.raises(IdentityError) as refused:
        resolve_identity(event({"userId": user_id, "role": "viewer"}), DEV)
    assert refused.value.status == 401
    # What the refusal logs is escaped, never the raw character.
    assert not any(ch in refused.value.reason for ch in user_id if not ch.isalnum())


def test_user_id_accepts_printable_unicode() -> None:
    identity = resolve_identity(event({"userId": "José Ñúñez 山田", "role": "viewer"}), STRICT)
    assert identity.user_id == "José Ñúñez 山田"
