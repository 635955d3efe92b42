"""`make token` and the local secret, without an emulator: the tokens pass the real authorizer."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from botocore.exceptions import ClientError

from realtime_common.auth.errors import UnauthorizedError
from realtime_common.auth.settings import AuthorizerConfig
from realtime_common.auth.verify import verify_token
from testing import terraform_defaults
from tools.localenv import board, commands, tokens

pytestmark = pytest.mark.unit

SECRET = "s" * 64
NOW = 1_800_000_000.0
FUNCTION_ENV = {
    "JWT_ISSUER": "realtime-local",
    "JWT_AUDIENCE": "realtime-local-clients",
    "JWT_SECRET_PARAMETER": "/realtime/local/connect-authorizer/hs256-secret",
    "CONNECT_ROUTE_ARN": "arn:aws:execute-api:us-east-1:000000000000:abc/prod/$connect",
    "JWT_ALGORITHMS": "HS256",
    "USER_ID_CLAIM": "sub",
    "ROLE_CLAIM": "role",
    "ALLOWED_ROLES": "dispatcher,responder,supervisor,viewer",
    "JWT_LEEWAY_SECONDS": "30",
    "AUTH_CACHE_SECONDS": "0",
    **terraform_defaults.AUTHORIZER_AREAS,
}


class StaticKey:
    def __init__(self, secret: str) -> None:
        self.secret = secret.encode()

    def key_for(self, header: Any, now: float) -> bytes:
        return self.secret


class FakeSsm:
    """get_parameter / put_parameter of one SSM namespace, SecureStrings included."""

    def __init__(self) -> None:
        self.parameters: dict[str, dict[str, str]] = {}

    def get_parameter(self, Name: str, WithDecryption: bool = False) -> dict[str, Any]:
        if Name not in self.parameters:
            error = {"Error": {"Code": "ParameterNotFound", "Message": Name}}
            raise ClientError(error, "GetParameter")  # type: ignore[arg-type]
        return {"Parameter": {"Name": Name, **self.parameters[Name]}}

    def put_parameter(self, Name: str, Value: str, Type: str, **_: Any) -> dict[str, Any]:
        self.parameters[Name] = {"Value": Value, "Type": Type}
        return {"Version": 1}


def issuer() -> tokens.Issuer:
    found = tokens.Issuer.from_function_env(FUNCTION_ENV)
    assert found is not None
    return found


def test_the_issuer_is_read_from_the_deployed_functions_environment():
    found = issuer()
    assert found.issuer == "realtime-local"
    assert found.audience == "realtime-local-clients"
    assert found.secret_parameter == FUNCTION_ENV["JWT_SECRET_PARAMETER"]
    assert (found.user_id_claim, found.role_claim, found.algorithm) == ("sub", "role", "HS256")
    assert tokens.Issuer.from_state(found.to_state()) == found
    jwks_only = {k: v for k, v in FUNCTION_ENV.items() if k != "JWT_SECRET_PARAMETER"}
    assert tokens.Issuer.from_function_env(jwks_only | {"JWKS_URL": "https://x"}) is None
    assert tokens.Issuer.from_state({}) is None


def test_a_minted_token_passes_the_stacks_own_authorizer():
    token = tokens.mint(issuer(), SECRET, "alice", "dispatcher", now=NOW, ttl_s=600)
    cfg = AuthorizerConfig.from_env(FUNCTION_ENV)

    principal = verify_token(token, cfg, StaticKey(SECRET), NOW + 1)

    assert (principal.user_id, principal.role) == ("alice", "dispatcher")
    assert principal.expires_at == NOW + 600
    with pytest.raises(UnauthorizedError) as refused:
        verify_token(token, cfg, StaticKey(SECRET), NOW + 600 + 31)  # past exp and the leeway
    assert refused.value.reason == "token expired"


def test_claim_overrides_make_the_tokens_the_attack_tests_need():
    cfg = AuthorizerConfig.from_env(FUNCTION_ENV)
    wrong_issuer = tokens.mint(issuer(), SECRET, "a", "viewer", now=NOW, iss="https://evil")
    with pytest.raises(UnauthorizedError) as refused:
        verify_token(wrong_issuer, cfg, StaticKey(SECRET), NOW)
    assert "Issuer" in refused.value.reason
    no_nbf = tokens.mint(issuer(), SECRET, "a", "viewer", now=NOW, nbf=None)
    assert verify_token(no_nbf, cfg, StaticKey(SECRET), NOW).user_id == "a"


@pytest.mark.parametrize("ttl", [0, -1, tokens.MAX_TTL_S + 1])
def test_a_ttl_out_of_bounds_is_refused(ttl):
    with pytest.raises(tokens.TokenError, match="TTL"):
        tokens.mint(issuer(), SECRET, "a", "viewer", now=NOW, ttl_s=ttl)


def test_up_puts_a_random_securestring_once_and_records_it():
    ssm = FakeSsm()
    created: list[str] = []
    name = issuer().secret_parameter

    assert tokens.ensure_secret(ssm, name, created) is True  # type: ignore[arg-type]
    first = ssm.parameters[name]
    assert first["Type"] == "SecureString"
    assert len(first["Value"].encode()) >= 32
    assert created == [f"secret:{name}"]

    assert tokens.ensure_secret(ssm, name, created) is False  # type: ignore[arg-type]
    assert ssm.parameters[name] == first  # kept: tokens minted earlier stay valid
    assert created == [f"secret:{name}"]
    assert tokens.new_secret() != tokens.new_secret()


def test_a_missing_secret_says_to_run_make_up():
    with pytest.raises(tokens.TokenError, match="make up"):
        tokens.read_secret(FakeSsm(), "/missing")  # type: ignore[arg-type]


def test_without_the_authorizer_clients_fall_back_to_query_identity(stack_state):
    state = stack_state(ws_url="ws://h:1/s")
    assert commands.identity(state, "al ice", "viewer") == (
        "ws://h:1/s?userId=al+ice&role=viewer",
        None,
    )
    with pytest.raises(commands.CommandError, match="without the \\$connect authorizer"):
        commands.token(state, "alice", "viewer")


def test_the_token_travels_as_a_query_parameter():
    assert commands.with_token("ws://h:1/s", "a.b.c") == "ws://h:1/s?token=a.b.c"
    assert commands.with_token("ws://h:1/s?x=1", "a.b.c") == "ws://h:1/s?x=1&token=a.b.c"
    assert commands.with_token("ws://h:1/s", None) == "ws://h:1/s"


def test_the_board_url_carries_the_token_beside_the_websocket_url():
    url = urlsplit(board.board_url("http://127.0.0.1:4580", "ws://h:1/s", "a.b-c_d"))
    assert parse_qs(url.query) == {"url": ["ws://h:1/s"], "token": ["a.b-c_d"]}
    assert "token" not in board.board_url("http://127.0.0.1:4580", "ws://h:1/s")


def test_areas_go_in_the_areas_claim_the_authorizer_is_configured_with():
    plain = jwt.decode(
        tokens.mint(issuer(), SECRET, "a", "viewer", now=NOW, areas=["north", "harbour/*"]),
        SECRET,
        algorithms=["HS256"],
        audience="realtime-local-clients",
        options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
    )
    assert plain["areas"] == ["north", "harbour/*"]
    cognito = tokens.Issuer.from_function_env(FUNCTION_ENV | {"AREAS_CLAIM": "custom:areas"})
    assert cognito is not None
    assert tokens.Issuer.from_state(cognito.to_state()) == cognito
    claims = jwt.decode(
        tokens.mint(cognito, SECRET, "a", "viewer", now=NOW, areas=["*"]),
        options={"verify_signature": False},
    )
    assert claims["custom:areas"] == ["*"]
    assert "areas" not in claims
    no_claim = jwt.decode(
        tokens.mint(issuer(), SECRET, "a", "viewer", now=NOW), options={"verify_signature": False}
    )
    assert "areas" not in no_claim


def test_areas_and_filter_from_make_variables():
    assert commands.parse_areas(" north, harbour ,,") == ["north", "harbour"]
    assert commands.parse_areas(" ") is None
    assert commands.parse_filter("") is None
    assert commands.parse_filter('{"area":["north"]}') == {"area": ["north"]}
    with pytest.raises(commands.CommandError, match="not JSON"):
        commands.parse_filter("area=north")
    with pytest.raises(commands.CommandError, match="list of strings"):
        commands.parse_filter('{"area":"north"}')


def test_the_filter_travels_in_the_connect_url(stack_state):
    state = stack_state(ws_url="ws://h:1/s")
    url = commands.connect_url(state, "alice", "viewer", subscription={"area": ["north"]})
    assert parse_qs(urlsplit(url).query) == {
        "userId": ["alice"],
        "role": ["viewer"],
        "filter": ['{"area":["north"]}'],
    }
    with pytest.raises(commands.CommandError, match="AREAS needs the \\$connect authorizer"):
        commands.connect_url(state, "alice", "viewer", areas=["north"])
