"""End-to-end: the stack's own $connect authorizer on the local stack, with real tokens.

The local stack runs functions/authorizer.py as every environment does, keyed by the HS256 secret
`make up` keeps in an SSM SecureString. A valid token connects and its claims make the Connections
row; each attack is refused at the handshake and leaves no row. The same token is also given to
the deployed authorizer function directly, in the event API Gateway sends it, to pin the answer
AWS turns into the status code: an ``Unauthorized`` error is 401, a Deny policy 403.

The emulator (ministack 1.5.33) answers a missing token with 401 and a Deny with 403, as AWS does,
but any error the authorizer raises (``Unauthorized`` included) with 500, where AWS answers 401
(ministack/services/apigateway.py, ``_authorize_ws_connect``: a failed invocation is ``(500, "")``).
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus

from testing.events import load_event
from tools.localenv import commands

pytestmark = pytest.mark.e2e

ROW_TIMEOUT_S = 15.0
HOUR = 3600
# What the emulator answers for an authorizer that raised "Unauthorized" (AWS: 401).
EMULATOR_UNAUTHORIZED = 500


def b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def alg_none(stack, user: str) -> str:
    """A valid token's claims, unsigned, with ``alg: none`` (RFC 7519 section 6.1)."""
    _, body, _ = stack.mint(user, "dispatcher").split(".")
    return f"{b64url({'alg': 'none', 'typ': 'JWT'})}.{body}."


# name -> (token for the user, or None for no token; the handshake's status on the emulator;
# what the authorizer answers: "Unauthorized" or "Deny")
Attack = Callable[[Any, str], str | None]
ATTACKS: dict[str, tuple[Attack, int, str]] = {
    "none": (lambda stack, user: None, 401, "Unauthorized"),
    "expired": (
        lambda stack, user: stack.mint(
            user, "dispatcher", iat=int(time.time()) - 2 * HOUR, exp=int(time.time()) - HOUR
        ),
        EMULATOR_UNAUTHORIZED,
        "Unauthorized",
    ),
    "not yet valid": (
        lambda stack, user: stack.mint(user, "dispatcher", nbf=int(time.time()) + HOUR),
        EMULATOR_UNAUTHORIZED,
        "Unauthorized",
    ),
    "wrong signature": (
        lambda stack, user: stack.mint(user, "dispatcher", secret=secrets.token_urlsafe(48)),
        EMULATOR_UNAUTHORIZED,
        "Unauthorized",
    ),
    "wrong issuer": (
        lambda stack, user: stack.mint(user, "dispatcher", iss="https://issuer.example.com"),
        EMULATOR_UNAUTHORIZED,
        "Unauthorized",
    ),
    "wrong audience": (
        lambda stack, user: stack.mint(user, "dispatcher", aud="some-other-app"),
        EMULATOR_UNAUTHORIZED,
        "Unauthorized",
    ),
    "alg none": (alg_none, EMULATOR_UNAUTHORIZED, "Unauthorized"),
    "role outside the list": (
        lambda stack, user: stack.mint(user, "intruder"),
        403,
        "Deny",
    ),
    "garbage": (lambda stack, user: "garbage." + secrets.token_urlsafe(24), 500, "Unauthorized"),
}


def authorizer_event(stack, token: str | None) -> dict[str, Any]:
    """events/authorizer-request.json for this stack's $connect, carrying ``token``."""
    event = load_event("authorizer-request.json")
    lam = stack.client("lambda")
    function = stack.outputs["function_names"]["authorizer"]
    env = lam.get_function_configuration(FunctionName=function)["Environment"]["Variables"]
    event["methodArn"] = env["CONNECT_ROUTE_ARN"]
    event["queryStringParameters"] = None if token is None else {"token": token}
    event["multiValueQueryStringParameters"] = None if token is None else {"token": [token]}
    return event


def test_a_valid_token_connects_and_its_claims_make_the_row(stack):
    user = stack.new_id("token-user")
    client = stack.connect_with(stack.mint(user, "dispatcher"))
    try:
        rows = stack.wait_until(
            lambda: stack.connection_rows(user), ROW_TIMEOUT_S, f"the Connections row of {user}"
        )
        assert len(rows) == 1
        assert rows[0]["role"]["S"] == "dispatcher"  # from the token's role claim, not the URL

        incident = stack.new_id()
        stack.write_incident(incident, urgency="low", status="open", title="token holder")
        client.wait_messages(incident)
    finally:
        client.close()


def test_make_token_prints_a_token_the_stack_accepts(stack):
    user = stack.new_id("cli-user")
    done = stack.cli("token", "--user", user, "--role", "viewer")
    token = done.stdout.strip()
    assert token.count(".") == 2

    client = stack.connect_with(token)
    try:
        [row] = stack.wait_until(
            lambda: stack.connection_rows(user), ROW_TIMEOUT_S, f"the Connections row of {user}"
        )
        assert row["role"]["S"] == "viewer"
    finally:
        client.close()


def test_the_secret_is_a_securestring_of_at_least_32_bytes(stack):
    ssm = stack.client("ssm")
    name = stack.issuer.secret_parameter
    described = ssm.get_parameter(Name=name)["Parameter"]
    assert described["Type"] == "SecureString"
    assert len(stack.secret().encode()) >= 32
    assert stack.secret() not in json.dumps(stack.state.authorizer)  # the state holds the name


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_attack_is_refused_and_leaves_no_row(stack, attack):
    make_token, emulator_status, verdict = ATTACKS[attack]
    user = stack.new_id("attacker")
    token = make_token(stack, user)

    with pytest.raises(InvalidStatus) as refused:
        stack.connect_with(token)
    assert refused.value.response.status_code == emulator_status

    # What AWS turns into the status: the deployed authorizer, invoked as API Gateway invokes it.
    result, _logs = commands.invoke(stack.state, "authorizer", authorizer_event(stack, token))
    if verdict == "Unauthorized":
        assert result.get("FunctionError"), result
        assert result["Payload"]["errorMessage"] == "Unauthorized"  # AWS: 401
    else:
        assert "FunctionError" not in result, result
        [statement] = result["Payload"]["policyDocument"]["Statement"]
        assert statement["Effect"] == "Deny"  # AWS: 403
        assert result["Payload"]["context"] == {}

    # Give a $connect that slipped through the time to write its row, then check there is none.
    time.sleep(1)
    assert stack.connection_rows(user) == []


def test_the_same_valid_token_is_allowed_by_the_function_directly(stack):
    """The control for the attacks above: the same invocation path allows a valid token."""
    user = stack.new_id("control")
    token = stack.mint(user, "supervisor")
    result, _logs = commands.invoke(stack.state, "authorizer", authorizer_event(stack, token))
    assert "FunctionError" not in result, result
    [statement] = result["Payload"]["policyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    # A token without the areas claim gets the stack's default (subscriptions.default_areas).
    assert result["Payload"]["context"] == {"userId": user, "role": "supervisor", "areas": '["*"]'}
