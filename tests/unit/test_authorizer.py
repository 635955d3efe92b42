"""$connect authorizer logic: every way a token is refused, key caching, policies. No AWS."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from authorizer import authorize
from realtime_common.auth.claims import role_from_claim
from realtime_common.auth.decisions import DecisionCache
from realtime_common.auth.errors import ForbiddenRoleError, KeySourceError, UnauthorizedError
from realtime_common.auth.jwks import JwksKeys
from realtime_common.auth.request import extract_token
from realtime_common.auth.settings import AuthorizerConfig
from realtime_common.auth.verify import verify_token
from realtime_common.config import ConfigError
from testing import terraform_defaults

pytestmark = pytest.mark.unit

NOW = 1_795_790_400.0
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example"
AUDIENCE = "client-123"
ROUTE_ARN = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/$connect"
ENV = {
    "JWT_ISSUER": ISSUER,
    "JWT_AUDIENCE": AUDIENCE,
    "JWKS_URL": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example/.well-known/jwks.json",
    "CONNECT_ROUTE_ARN": ROUTE_ARN,
    "JWT_ALGORITHMS": "RS256",
    "USER_ID_CLAIM": "sub",
    "ROLE_CLAIM": "role",
    "ALLOWED_ROLES": "dispatcher,viewer",
    "JWT_LEEWAY_SECONDS": "30",
    "AUTH_CACHE_SECONDS": "0",
    **terraform_defaults.AUTHORIZER_AREAS,
}
CFG = AuthorizerConfig.from_env(ENV)
HS_SECRET = b"s" * 32
HS_CFG = AuthorizerConfig.from_env(
    {k: v for k, v in ENV.items() if k != "JWKS_URL"}
    | {"JWT_SECRET_PARAMETER": "/rt/secret", "JWT_ALGORITHMS": "HS256"}
)

SIGNING_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(private: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**overrides: Any) -> dict[str, Any]:
    base = {
        "sub": "user-42",
        "role": "Dispatcher",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": int(NOW) - 10,
        "exp": int(NOW) + 600,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def rs256(payload: dict[str, Any], key: rsa.RSAPrivateKey = SIGNING_KEY, kid: str = "k1") -> str:
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


def handmade(
    header: dict[str, Any], payload: dict[str, Any], sign: Callable[[bytes], bytes]
) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64(sign(signing_input.encode()))}"


class Fetcher:
    """A JWKS endpoint stand-in that counts its calls and can be taken down."""

    def __init__(self, *keys: dict[str, Any]) -> None:
        self.document: dict[str, Any] = {"keys": list(keys)}
        self.calls = 0
        self.down = False

    def __call__(self, url: str) -> bytes:
        self.calls += 1
        if self.down:
            raise OSError("connection refused")
        return json.dumps(self.document).encode()


@pytest.fixture
def fetcher() -> Fetcher:
    return Fetcher(public_jwk(SIGNING_KEY, "k1"))


@pytest.fixture
def keys(fetcher: Fetcher) -> JwksKeys:
    return JwksKeys(url=ENV["JWKS_URL"], fetch=fetcher)


class FixedSecret:
    def key_for(self, header: Any, now: float) -> bytes:
        return HS_SECRET


def test_a_valid_token_maps_sub_and_role(keys: JwksKeys) -> None:
    principal = verify_token(rs256(claims()), CFG, keys, NOW)
    assert (principal.user_id, principal.role, principal.expires_at) == (
        "user-42",
        "dispatcher",
        NOW + 600,
    )


# Every attack: the token is refused (401), never allowed.
ATTACKS: dict[str, Callable[[], str]] = {
    "expired": lambda: rs256(claims(exp=int(NOW) - 31, iat=int(NOW) - 700)),
    "not yet valid (nbf)": lambda: rs256(claims(nbf=int(NOW) + 31)),
    "issued in the future (iat)": lambda: rs256(claims(iat=int(NOW) + 31)),
    "wrong signature": lambda: rs256(claims(), key=OTHER_KEY),
    "wrong issuer": lambda: rs256(claims(iss="https://evil.example.com")),
    "wrong audience": lambda: rs256(claims(aud="another-client")),
    "no audience": lambda: rs256(claims(aud=None)),
    "no exp": lambda: rs256(claims(exp=None)),
    "no iat": lambda: rs256(claims(iat=None)),
    "exp not a number": lambda: rs256(claims(exp="tomorrow")),
    "alg none": lambda: handmade(
        {"alg": "none", "kid": "k1", "typ": "JWT"}, claims(), lambda _: b""
    ),
    "alg None spelled differently": lambda: handmade(
        {"alg": "None", "kid": "k1"}, claims(), lambda _: b""
    ),
    # HS/RS confusion: HS256 "signed" with the issuer's public key as the HMAC secret.
    "HS256 with the RSA public key as secret": lambda: handmade(
        {"alg": "HS256", "kid": "k1"},
        claims(),
        lambda data: hmac.new(
            SIGNING_KEY.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
            data,
            hashlib.sha256,
        ).digest(),
    ),
    "unknown kid": lambda: rs256(claims(), kid="k-unknown"),
    "no kid": lambda: jwt.encode(claims(), SIGNING_KEY, algorithm="RS256"),
    "RS384 against an RS256 key": lambda: jwt.encode(
        claims(), SIGNING_KEY, algorithm="RS384", headers={"kid": "k1"}
    ),
    "sub with a C1 control": lambda: rs256(claims(sub="user\x85-42")),
    "sub with a bidi override": lambda: rs256(claims(sub="user\u202e24")),
    "sub not a string": lambda: rs256(claims(sub=42)),
    "garbage": lambda: "garbage",
    "three garbage parts": lambda: "a.b.c",
    "header not JSON": lambda: f"{b64(b'not json')}.{b64(b'{}')}.{b64(b'x')}",
    "payload not JSON": lambda: handmade({"alg": "RS256", "kid": "k1"}, {}, lambda _: b"x").replace(
        b64(b"{}"), b64(b"not json")
    ),
}


# Why each attack is refused (the start of UnauthorizedError.reason, which is logged).
REASONS = {
    "expired": "token expired",
    "not yet valid (nbf)": "token not yet valid",
    "issued in the future (iat)": "token issued in the future",
    "wrong signature": "InvalidSignatureError",
    "wrong issuer": "InvalidIssuerError",
    "wrong audience": "InvalidAudienceError",
    "no audience": "MissingRequiredClaimError",
    "no exp": "MissingRequiredClaimError",
    "no iat": "MissingRequiredClaimError",
    "exp not a number": "claim exp is not a number",
    "alg none": "algorithm 'none' is not allowed",
    "alg None spelled differently": "algorithm 'None' is not allowed",
    "HS256 with the RSA public key as secret": "algorithm 'HS256' is not allowed",
    "unknown kid": "unknown kid",
    "no kid": "token header has no kid",
    "RS384 against an RS256 key": "algorithm 'RS384' is not allowed",
    "sub with a C1 control": "claim 'sub' is not a valid user id",
    "sub with a bidi override": "claim 'sub' is not a valid user id",
    "sub not a string": "InvalidSubjectError",
    "garbage": "not a JWT",
    "three garbage parts": "not a JWT",
    "header not JSON": "not a JWT",
    "payload not JSON": "InvalidSignatureError",  # the signature is checked before the payload
}


@pytest.mark.parametrize("attack", ATTACKS, ids=list(ATTACKS))
def test_attacks_are_refused(attack: str, keys: JwksKeys) -> None:
    with pytest.raises(UnauthorizedError) as refused:
        verify_token(ATTACKS[attack](), CFG, keys, NOW)
    assert refused.value.reason.startswith(REASONS[attack]), refused.value.reason
    assert str(refused.value) == "Unauthorized"  # the one message API Gateway maps to 401


def test_leeway_accepts_small_clock_skew(keys: JwksKeys) -> None:
    skewed = claims(exp=int(NOW) - 29, iat=int(NOW) + 29, nbf=int(NOW) + 29)
    assert verify_token(rs256(skewed), CFG, keys, NOW).user_id == "user-42"


def test_hmac_mode_refuses_rs256_and_a_wrong_secret() -> None:
    good = jwt.encode(claims(), HS_SECRET, algorithm="HS256")
    assert verify_token(good, HS_CFG, FixedSecret(), NOW).role == "dispatcher"
    with pytest.raises(UnauthorizedError) as refused:
        verify_token(rs256(claims()), HS_CFG, FixedSecret(), NOW)
    assert refused.value.reason == "algorithm 'RS256' is not allowed"
    wrong = jwt.encode(claims(), b"t" * 32, algorithm="HS256")
    with pytest.raises(UnauthorizedError) as refused:
        verify_token(wrong, HS_CFG, FixedSecret(), NOW)
    assert refused.value.reason.startswith("InvalidSignatureError")


def test_role_outside_the_list_is_forbidden(keys: JwksKeys) -> None:
    with pytest.raises(ForbiddenRoleError) as refused:
        verify_token(rs256(claims(role="admin")), CFG, keys, NOW)
    assert refused.value.user_id == "user-42"
    with pytest.raises(ForbiddenRoleError):
        verify_token(rs256(claims(role=None)), CFG, keys, NOW)


@pytest.mark.parametrize(
    ("value", "role"),
    [
        (["admins", "Viewer", "dispatcher"], "viewer"),  # cognito:groups: first allowed
        ("DISPATCHER", "dispatcher"),
        (["admins"], None),
        ([], None),
        ([7, None], None),
        ({"role": "viewer"}, None),
        (None, None),
    ],
)
def test_role_from_claim(value: object, role: str | None) -> None:
    assert role_from_claim(value, frozenset({"dispatcher", "viewer"})) == role


def test_cognito_groups_claim(keys: JwksKeys) -> None:
    cfg = AuthorizerConfig.from_env(
        ENV | {"ROLE_CLAIM": "cognito:groups", "USER_ID_CLAIM": "email"}
    )
    token = rs256(claims(**{"cognito:groups": ["ops", "viewer"], "email": "a@example.com"}))
    principal = verify_token(token, cfg, keys, NOW)
    assert (principal.user_id, principal.role) == ("a@example.com", "viewer")


# ---------------------------------------------------------------------------------------------
# JWKS caching
# ---------------------------------------------------------------------------------------------
def test_keys_are_fetched_once_and_reused(keys: JwksKeys, fetcher: Fetcher) -> None:
    for offset in range(3):
        verify_token(rs256(claims()), CFG, keys, NOW + offset)
    assert fetcher.calls == 1


def test_unknown_kid_refreshes_at_most_once_a_minute(keys: JwksKeys, fetcher: Fetcher) -> None:
    verify_token(rs256(claims()), CFG, keys, NOW)
    assert fetcher.calls == 1
    k2 = rs256(claims(), kid="k2", key=OTHER_KEY)
    # The issuer rotates in k2 just after the first load: forged or new kids within the minute
    # are refused without a fetch each.
    fetcher.document["keys"].append(public_jwk(OTHER_KEY, "k2"))
    for offset in (1, 30, 59):
        with pytest.raises(UnauthorizedError) as refused:
            verify_token(k2, CFG, keys, NOW + offset)
        assert refused.value.reason == "unknown kid 'k2'"
    assert fetcher.calls == 1
    # A minute after the last fetch, the unknown kid triggers one refresh that finds it.
    assert verify_token(k2, CFG, keys, NOW + 60).user_id == "user-42"
    assert fetcher.calls == 2
    with pytest.raises(UnauthorizedError):
        verify_token(rs256(claims(), kid="k3"), CFG, keys, NOW + 61)
    assert fetcher.calls == 2
    # Both keys stay usable.
    assert verify_token(rs256(claims()), CFG, keys, NOW + 62).user_id == "user-42"


def test_jwks_outage_denies_and_keeps_known_keys(keys: JwksKeys, fetcher: Fetcher) -> None:
    fetcher.down = True
    with pytest.raises(KeySourceError):
        verify_token(rs256(claims()), CFG, keys, NOW)
    with pytest.raises(KeySourceError):  # retried only after JWKS_RETRY_SECONDS
        verify_token(rs256(claims()), CFG, keys, NOW + 1)
    assert fetcher.calls == 1
    fetcher.down = False
    assert verify_token(rs256(claims()), CFG, keys, NOW + 5).user_id == "user-42"
    fetcher.down = True
    # Known keys keep working through an outage; an unknown kid is refused.
    assert verify_token(rs256(claims()), CFG, keys, NOW + 120).user_id == "user-42"
    with pytest.raises(UnauthorizedError):
        verify_token(rs256(claims(), kid="k9"), CFG, keys, NOW + 121)


@pytest.mark.parametrize(
    "document",
    [b"<html>502</html>", b'{"keys": []}', b'{"keys": "x"}', b"[]"],
)
def test_an_unusable_jwks_document_denies(document: bytes) -> None:
    keys = JwksKeys(url="https://issuer.example.com/jwks", fetch=lambda _: document)
    with pytest.raises(KeySourceError):
        verify_token(rs256(claims()), CFG, keys, NOW)


def test_private_and_symmetric_keys_in_a_jwks_are_not_used() -> None:
    private = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(SIGNING_KEY))
    oct_key = json.loads(jwt.algorithms.HMACAlgorithm.to_jwk(HS_SECRET))
    okp_private = json.loads(
        jwt.algorithms.OKPAlgorithm.to_jwk(ed25519.Ed25519PrivateKey.generate())
    )
    fetcher = Fetcher(
        {**private, "kid": "k1"}, {**oct_key, "kid": "k1-hs"}, {**okp_private, "kid": "k1-ed"}
    )
    keys = JwksKeys(url="https://issuer.example.com/jwks", fetch=fetcher)
    with pytest.raises(KeySourceError):
        verify_token(rs256(claims()), CFG, keys, NOW)


# ---------------------------------------------------------------------------------------------
# Token extraction, configuration, cache and policy
# ---------------------------------------------------------------------------------------------
def request(query: dict[str, str] | None = None, protocol: str | None = None) -> dict[str, Any]:
    headers = {"Host": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"}
    if protocol is not None:
        headers["sec-websocket-protocol"] = protocol
    return {
        "type": "REQUEST",
        "methodArn": ROUTE_ARN,
        "headers": headers,
        "queryStringParameters": query,
        "requestContext": {"connectionId": "Q0nLdeAaIAMCJ1A=", "routeKey": "$connect"},
    }


def test_token_from_query_or_subprotocol() -> None:
    assert extract_token(request({"token": "abc"})) == "abc"
    assert extract_token(request(protocol="bearer, abc")) == "abc"
    assert extract_token(request({"token": "abc"}, "bearer, abc")) == "abc"
    for refused in (
        request(),
        request({"token": ""}),
        request(protocol="bearer"),
        request(protocol="chat, abc"),
        request({"token": "abc"}, "bearer, xyz"),
        request({"token": "x" * 8193}),
    ):
        with pytest.raises(UnauthorizedError):
            extract_token(refused)


@pytest.mark.parametrize(
    "env",
    [
        {"JWT_ALGORITHMS": "none"},
        {"JWT_ALGORITHMS": "RS256,HS256"},
        {"JWT_SECRET_PARAMETER": "/both/sources"},
        {"JWKS_URL": "http://issuer.example.com/jwks"},
        {"JWKS_URL": ""},
        {"JWT_ISSUER": ""},
        {"JWT_AUDIENCE": " , "},
        {"CONNECT_ROUTE_ARN": "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/*"},
        {"JWT_ALGORITHMS": ""},
        {"ALLOWED_ROLES": ""},
        {"USER_ID_CLAIM": " "},
        # Terraform owns the ranges (authorizer.tftest.hcl); here a value must parse.
        {"JWT_LEEWAY_SECONDS": "30s"},
        {"AUTH_CACHE_SECONDS": ""},
    ],
)
def test_configuration_errors(env: dict[str, str]) -> None:
    [name] = env
    with pytest.raises(ConfigError, match=name):
        AuthorizerConfig.from_env(ENV | env)


@pytest.mark.parametrize("name", [n for n in ENV if n != "JWKS_URL"])
def test_every_variable_terraform_sets_is_required(name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        AuthorizerConfig.from_env({k: v for k, v in ENV.items() if k != name})


def test_http_jwks_only_on_loopback() -> None:
    cfg = AuthorizerConfig.from_env(ENV | {"JWKS_URL": "http://127.0.0.1:8080/jwks"})
    assert cfg.jwks_url == "http://127.0.0.1:8080/jwks"


def test_policy_allows_exactly_this_connect_route(keys: JwksKeys) -> None:
    answer = authorize(request({"token": rs256(claims())}), CFG, keys, DecisionCache(0), NOW)
    assert answer == {
        "principalId": "user-42",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": ROUTE_ARN}
            ],
        },
        "context": {"userId": "user-42", "role": "dispatcher", "areas": '["*"]'},
    }


def test_forbidden_role_gets_a_deny_policy(keys: JwksKeys) -> None:
    answer = authorize(
        request({"token": rs256(claims(role="admin"))}), CFG, keys, DecisionCache(0), NOW
    )
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert answer["context"] == {}


def test_another_route_or_api_is_refused(keys: JwksKeys) -> None:
    event = request({"token": rs256(claims())})
    for arn in (ROUTE_ARN.replace("a1b2c3d4e5", "zzzzzzzzzz"), ROUTE_ARN.replace("$connect", "*")):
        with pytest.raises(UnauthorizedError):
            authorize({**event, "methodArn": arn}, CFG, keys, DecisionCache(0), NOW)


class CountingKeys:
    def __init__(self, inner: JwksKeys) -> None:
        self.inner, self.calls = inner, 0

    def key_for(self, header: Any, now: float) -> Any:
        self.calls += 1
        return self.inner.key_for(header, now)


def test_decision_cache_is_off_by_default_and_bounded_by_exp(keys: JwksKeys) -> None:
    counting = CountingKeys(keys)
    event = request({"token": rs256(claims(exp=int(NOW) + 100))})
    for _ in range(2):
        authorize(event, CFG, counting, DecisionCache(0), NOW)
    assert counting.calls == 2

    cache = DecisionCache(seconds=300)
    counting.calls = 0
    authorize(event, CFG, counting, cache, NOW)
    authorize(event, CFG, counting, cache, NOW + 50)
    assert counting.calls == 1
    # The cache never outlives the token: at exp the token is verified again, and refused.
    with pytest.raises(UnauthorizedError) as refused:
        authorize(event, CFG, counting, cache, NOW + 131)
    assert refused.value.reason == "token expired"
    assert counting.calls == 2
    assert all(len(digest) == 32 for digest in cache.entries)  # digests, not tokens


def test_denials_are_not_cached(keys: JwksKeys) -> None:
    cache = DecisionCache(seconds=300)
    with pytest.raises(UnauthorizedError):
        authorize(request({"token": rs256(claims(), key=OTHER_KEY)}), CFG, keys, cache, NOW)
    authorize(request({"token": rs256(claims(role="admin"))}), CFG, keys, cache, NOW)
    assert not cache.entries


def test_an_ec_issuer_with_es256() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    keys = JwksKeys(url="https://issuer.example.com/jwks", fetch=Fetcher({**jwk, "kid": "e1"}))
    cfg = AuthorizerConfig.from_env(ENV | {"JWT_ALGORITHMS": "ES256"})
    token = jwt.encode(claims(), key, algorithm="ES256", headers={"kid": "e1"})
    assert verify_token(token, cfg, keys, NOW).user_id == "user-42"
    with pytest.raises(UnauthorizedError):  # RS256 is not in this authorizer's list
        verify_token(rs256(claims(), kid="e1"), cfg, keys, NOW)


# ---------------------------------------------------------------------------------------------
# The areas claim (subscriptions): into the context, default without it, refused when unusable
# ---------------------------------------------------------------------------------------------
def allowed_context(keys: JwksKeys, cfg: AuthorizerConfig = CFG, **claim: Any) -> dict[str, str]:
    answer = authorize(request({"token": rs256(claims(**claim))}), cfg, keys, DecisionCache(0), NOW)
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow", answer
    context: dict[str, str] = answer["context"]
    return context


@pytest.mark.parametrize(
    ("value", "areas"),
    [
        (["north", "harbour"], '["harbour","north"]'),
        ("north, harbour", '["harbour","north"]'),
        ('["north/*","north/east"]', '["north/*"]'),
        ("*", '["*"]'),
        ([], "[]"),
    ],
)
def test_areas_claim_travels_canonical_in_the_context(
    keys: JwksKeys, value: object, areas: str
) -> None:
    assert allowed_context(keys, areas=value)["areas"] == areas


def test_configurable_claim_name_and_default(keys: JwksKeys) -> None:
    cognito = AuthorizerConfig.from_env(
        ENV | {"AREAS_CLAIM": "custom:areas", "DEFAULT_AREAS": "[]"}
    )
    assert allowed_context(keys, cognito, **{"custom:areas": "north"})["areas"] == '["north"]'
    # The claim under another name is not read; a token without it gets DEFAULT_AREAS.
    assert allowed_context(keys, cognito, areas="*")["areas"] == "[]"
    assert allowed_context(keys)["areas"] == '["*"]'


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (42, "not a list or comma-separated string"),
        (["north", 7], "other than strings"),
        ("no*rth", "malformed"),
        ([f"district-{n:04}" for n in range(20)], "over the limit of 200"),
    ],
)
def test_unusable_areas_claim_is_denied_saying_why(
    keys: JwksKeys, value: object, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    limits = {"values_per_field": 20, "max_bytes": 2048, "areas_max_bytes": 200}
    cfg = AuthorizerConfig.from_env(ENV | {"FILTER_LIMITS": json.dumps(limits)})
    token = rs256(claims(areas=value))
    answer = authorize(request({"token": token}), cfg, keys, DecisionCache(0), NOW)
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert answer["context"] == {}
    logged = "\n".join(json.dumps(vars(r), default=str) for r in caplog.records)
    assert "connection denied" in logged and why in logged and "'areas'" in logged


def test_the_largest_allowed_areas_keep_the_answer_under_8_kb(keys: JwksKeys) -> None:
    # Up to FILTER_LIMITS.areas_max_bytes of areas, with the longest user id connection_manager
    # accepts: API Gateway refuses an authorizer answer over 8 KB.
    limit = json.loads(ENV["FILTER_LIMITS"])["areas_max_bytes"]
    areas = [f"d{n:05}" for n in range(limit // 10)]
    assert len(json.dumps(areas, separators=(",", ":"))) <= limit
    answer = authorize(
        request({"token": rs256(claims(areas=areas, sub="u" * 256))}),
        CFG,
        keys,
        DecisionCache(0),
        NOW,
    )
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert len(json.dumps(answer).encode()) < 8192
