"""The $connect authorizer's handler: HS256 secret from SSM (moto) and JWKS from 127.0.0.1."""

from __future__ import annotations

import copy
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import boto3
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

import authorizer
from realtime_common.config import ConfigError
from testing import terraform_defaults

pytestmark = pytest.mark.handler

EVENT = json.loads(
    (Path(__file__).resolve().parents[2] / "events" / "authorizer-request.json").read_text()
)
ROUTE_ARN = EVENT["methodArn"]
PARAMETER = "/realtime/test/connect-authorizer/hs256-secret"
SECRET = "0123456789abcdef0123456789abcdef-test-only"
ISSUER = "realtime-test"
AUDIENCE = "realtime-test-clients"


def token(secret: str | bytes = SECRET, **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "sub": "user-42",
        "role": "viewer",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
    } | overrides
    key = secret.encode() if isinstance(secret, str) else secret
    return jwt.encode(claims, key, algorithm="HS256")


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Everything the invocation logged: messages and every extra field of every record."""
    return "\n".join(json.dumps(vars(r), default=str) for r in caplog.records)


def with_query_token(value: str) -> dict[str, Any]:
    event: dict[str, Any] = copy.deepcopy(EVENT)
    event["queryStringParameters"] = {"token": value}
    event["multiValueQueryStringParameters"] = {"token": [value]}
    return event


@pytest.fixture
def base_env(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "JWT_ISSUER": ISSUER,
        "JWT_AUDIENCE": AUDIENCE,
        "CONNECT_ROUTE_ARN": ROUTE_ARN,
        "JWT_ALGORITHMS": "HS256",
        "USER_ID_CLAIM": "sub",
        "ROLE_CLAIM": "role",
        "ALLOWED_ROLES": "dispatcher,viewer",
        "JWT_LEEWAY_SECONDS": "30",
        "AUTH_CACHE_SECONDS": "0",
        **terraform_defaults.AUTHORIZER_AREAS,
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def ssm_secret(base_env: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    ssm = boto3.client("ssm", region_name="us-east-1")
    ssm.put_parameter(Name=PARAMETER, Value=SECRET, Type="SecureString")
    monkeypatch.setenv("JWT_SECRET_PARAMETER", PARAMETER)
    return ssm


def test_valid_token_gets_an_allow_policy_and_is_never_logged(
    ssm_secret: Any, context: Any, caplog: pytest.LogCaptureFixture
) -> None:
    value = token()
    answer = authorizer.handler(with_query_token(value), context)
    assert answer["principalId"] == "user-42"
    assert answer["policyDocument"]["Statement"] == [
        {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": ROUTE_ARN}
    ]
    assert answer["context"] == {"userId": "user-42", "role": "viewer", "areas": '["*"]'}
    logs = logged(caplog)
    assert "connection allowed" in logs
    assert value not in logs and value.split(".")[2] not in logs


def test_token_in_the_subprotocol_header(ssm_secret: Any, context: Any) -> None:
    event = copy.deepcopy(EVENT)
    event["queryStringParameters"] = event["multiValueQueryStringParameters"] = None
    event["headers"]["Sec-WebSocket-Protocol"] = f"bearer, {token(role='dispatcher')}"
    assert authorizer.handler(event, context)["context"]["role"] == "dispatcher"


@pytest.mark.parametrize(
    "value",
    [
        token(secret="another-secret-of-thirty-two-bytes!!"),
        token(exp=int(time.time()) - 120),
        token(iss="someone-else"),
        token(aud="another-app"),
        "garbage",
    ],
    ids=["wrong secret", "expired", "wrong issuer", "wrong audience", "garbage"],
)
def test_bad_tokens_get_401_and_are_never_logged(
    value: str, ssm_secret: Any, context: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(authorizer.UnauthorizedError) as refused:
        authorizer.handler(with_query_token(value), context)
    assert str(refused.value) == "Unauthorized"
    logs = logged(caplog)
    assert "connection refused" in logs
    assert value not in logs and value.rsplit(".", maxsplit=1)[-1] not in logs


def test_role_outside_the_list_gets_a_deny_policy(ssm_secret: Any, context: Any) -> None:
    answer = authorizer.handler(with_query_token(token(role="admin")), context)
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert "userId" not in answer["context"]


def test_secret_is_read_once_per_environment(ssm_secret: Any, context: Any) -> None:
    authorizer.handler(with_query_token(token()), context)
    # Deleting the parameter does not matter while the cached secret is fresh.
    ssm_secret.delete_parameter(Name=PARAMETER)
    assert authorizer.handler(with_query_token(token()), context)["context"]["userId"] == "user-42"


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize(
    ("value", "kind"),
    [(None, "SecureString"), (SECRET, "String"), ("too-short", "SecureString")],
    ids=["missing parameter", "plain String parameter", "secret shorter than 32 bytes"],
)
def test_unusable_secret_denies(
    value: str | None,
    kind: Literal["SecureString", "String"],
    base_env: None,
    context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if value is not None:
        boto3.client("ssm", region_name="us-east-1").put_parameter(
            Name=PARAMETER, Value=value, Type=kind
        )
    monkeypatch.setenv("JWT_SECRET_PARAMETER", PARAMETER)
    with pytest.raises(authorizer.KeySourceError):
        authorizer.handler(with_query_token(token(secret=value or SECRET)), context)


def test_configuration_error_names_the_variable(base_env: None, context: Any) -> None:
    with pytest.raises(ConfigError, match="JWKS_URL"):
        authorizer.handler(with_query_token(token()), context)


# ---------------------------------------------------------------------------------------------
# JWKS served from 127.0.0.1
# ---------------------------------------------------------------------------------------------
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class JwksServer:
    def __init__(self) -> None:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key()))
        self.body = json.dumps({"keys": [{**jwk, "kid": "k1", "alg": "RS256", "use": "sig"}]})
        self.requests = 0
        self.up = True
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests += 1
                status = 200 if outer.up else 503
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(outer.body.encode() if outer.up else b"down")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def jwks(base_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[JwksServer]:
    server = JwksServer()
    monkeypatch.setenv("JWKS_URL", server.url)
    monkeypatch.setenv("JWT_ALGORITHMS", "RS256")
    try:
        yield server
    finally:
        server.close()


def rs256(kid: str = "k1", **overrides: Any) -> str:
    now = int(time.time())
    claims = {"sub": "oidc-7", "role": "dispatcher", "iss": ISSUER, "aud": AUDIENCE}
    claims |= {"iat": now, "exp": now + 300} | overrides
    return jwt.encode(claims, KEY, algorithm="RS256", headers={"kid": kid})


def test_jwks_keys_are_cached_across_invocations(jwks: JwksServer, context: Any) -> None:
    for _ in range(3):
        answer = authorizer.handler(with_query_token(rs256()), context)
        assert answer["context"] == {"userId": "oidc-7", "role": "dispatcher", "areas": '["*"]'}
    assert jwks.requests == 1
    with pytest.raises(authorizer.UnauthorizedError):
        authorizer.handler(with_query_token(rs256(kid="forged")), context)
    with pytest.raises(authorizer.UnauthorizedError):
        authorizer.handler(with_query_token(rs256(kid="forged-again")), context)
    assert jwks.requests == 1  # no refresh within a minute of the last fetch


def test_jwks_outage_denies(jwks: JwksServer, context: Any) -> None:
    jwks.up = False
    with pytest.raises(authorizer.KeySourceError):
        authorizer.handler(with_query_token(rs256()), context)
    assert jwks.requests == 1


def test_hs256_token_is_refused_by_a_jwks_authorizer(jwks: JwksServer, context: Any) -> None:
    with pytest.raises(authorizer.UnauthorizedError):
        authorizer.handler(with_query_token(token()), context)
    assert jwks.requests == 0  # refused on the algorithm, before any key is looked up
