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
from realtime_common.metrics import REFUSAL_REASONS

pytestmark = pytest.mark.unit

STRICT = ConnectConfig(
    table="conns",
    allowed_roles=frozenset({"dispatcher", "viewer"}),
    allow_query_identity=False,
    ttl_seconds=7200,
)
DEV = ConnectConfig(**{**STRICT.__dict__, "allow_query_identity": True})


def event(authorizer: dict | None = None, query: dict | None = None) -> dict:
    context: dict = {"connectionId": "abc="}
    if authorizer is not None:
        context["authorizer"] = authorizer
    return {"requestContext": context, "queryStringParameters": query}


def test_authorizer_identity() -> None:
    identity = resolve_identity(event({"userId": "u1", "role": "Dispatcher"}), STRICT)
    assert identity == Identity("u1", "dispatcher", "authorizer")


def test_query_identity_is_ignored_unless_allowed() -> None:
    ev = event(query={"userId": "dev", "role": "viewer"})
    with pytest.raises(IdentityError) as refused:
        resolve_identity(ev, STRICT)
    assert refused.value.status == 401
    assert resolve_identity(ev, DEV) == Identity("dev", "viewer", "query")


def test_authorizer_wins_over_query_string() -> None:
    ev = event({"userId": "real", "role": "viewer"}, {"userId": "spoof", "role": "dispatcher"})
    assert resolve_identity(ev, DEV) == Identity("real", "viewer", "authorizer")


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
    item = connection_item("abc=", Identity("u1", "viewer", "authorizer"), 1795790400.7, 7200)
    assert item == {
        "pk": {"S": "CONN#abc="},
        "sk": {"S": "META#"},
        "userId": {"S": "u1"},
        "role": {"S": "viewer"},
        "connectedAt": {"S": "2026-11-27T14:40:00Z"},
        "expiresAt": {"N": str(1795790400 + 7200)},
    }


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
