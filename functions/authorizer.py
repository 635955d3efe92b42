"""WebSocket ``$connect`` REQUEST authorizer: verify a JWT, allow exactly this API's ``$connect``.

Handler string: ``authorizer.handler``. Environment (see functions/README.md):
``JWT_ISSUER``, ``JWT_AUDIENCE``, ``CONNECT_ROUTE_ARN`` (required); exactly one key source,
``JWKS_URL`` (an OIDC issuer's key set) or ``JWT_SECRET_PARAMETER`` (the name of an SSM
SecureString holding an HS256 secret: dev and the local stack); ``JWT_ALGORITHMS``,
``USER_ID_CLAIM``, ``ROLE_CLAIM``, ``ALLOWED_ROLES``, ``JWT_LEEWAY_SECONDS``,
``AUTH_CACHE_SECONDS``, ``LOG_LEVEL``, ``POWERTOOLS_SERVICE_NAME``.

Where the token travels (browsers cannot set headers on a WebSocket):

* ``wss://.../prod?token=<jwt>``: the ``token`` query-string parameter;
* ``new WebSocket(url, ["bearer", jwt])``: the ``Sec-WebSocket-Protocol`` header
  (``bearer, <jwt>``); ``$connect`` then answers with ``Sec-WebSocket-Protocol: bearer``.

Outcomes: a valid token whose role is allowed -> an Allow policy on ``CONNECT_ROUTE_ARN`` with
``userId`` and ``role`` in the context (``connection_manager.on_connect`` stores them); no token, a
token that fails any check -> ``Unauthorized`` (API Gateway answers 401); a valid token with a
role outside ``ALLOWED_ROLES`` -> a Deny policy (403); the key source unreachable (JWKS or SSM
down, nothing cached) -> an error (500): an outage never allows. The token is never logged.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
import time
import urllib.parse
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast

import boto3
import jwt
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from realtime_common import config
from realtime_common.connections import (
    TOKEN_SUBPROTOCOL,
    is_valid_user_id,
    offered_subprotocols,
)
from realtime_common.logs import loggable, make_logger

if TYPE_CHECKING:  # stubs are a dev-only dependency (boto3-stubs[ssm])
    from mypy_boto3_ssm import SSMClient

logger = make_logger()

DEFAULT_ALLOWED_ROLES = ("dispatcher", "responder", "supervisor", "viewer")
# Signature families. A key source accepts one family only, so an HS256 token can never be
# checked against an RSA public key taken as an HMAC secret (the HS/RS confusion), and "none"
# is in neither.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
# RFC 7518 section 3.2: an HS256 key is at least as long as the hash output (32 bytes).
MIN_SECRET_BYTES = 32
# A JWT from an OIDC provider is a few KB; anything far larger is refused before parsing.
MAX_TOKEN_CHARS = 8192
MAX_JWKS_BYTES = 512 * 1024
JWKS_TIMEOUT_SECONDS = 3.0
# An unknown kid triggers at most one JWKS fetch per minute (a stream of forged kids cannot turn
# the authorizer into a traffic generator against the issuer); until a first fetch succeeds the
# wait between attempts is shorter, so a cold start during a blip recovers quickly.
JWKS_REFRESH_SECONDS = 60.0
JWKS_RETRY_SECONDS = 5.0
# The HS256 secret is re-read this often, so a rotation reaches warm environments.
SECRET_REFRESH_SECONDS = 300.0
MAX_CACHED_DECISIONS = 4096
# API Gateway: "arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/$connect".
CONNECT_ROUTE_SUFFIX = "/$connect"


class UnauthorizedError(Exception):
    """The token is missing or fails a check. API Gateway turns exactly this message into 401."""

    def __init__(self, reason: str) -> None:
        super().__init__("Unauthorized")
        self.reason = reason


class ForbiddenRoleError(Exception):
    """The token is valid but maps to no allowed role: the answer is a Deny policy (403)."""

    def __init__(self, user_id: str, reason: str) -> None:
        super().__init__(reason)
        self.user_id = user_id
        self.reason = reason


class KeySourceError(RuntimeError):
    """The keys cannot be had (JWKS or SSM unreachable, unusable). Denies: never an Allow."""


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AuthorizerConfig:
    issuer: str
    audience: tuple[str, ...]
    algorithms: tuple[str, ...]
    jwks_url: str | None
    secret_parameter: str | None
    user_id_claim: str
    role_claim: str
    allowed_roles: frozenset[str]
    leeway_seconds: int
    cache_seconds: int
    connect_route_arn: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AuthorizerConfig:
        jwks_url = _optional(env, "JWKS_URL")
        secret_parameter = _optional(env, "JWT_SECRET_PARAMETER")
        if (jwks_url is None) == (secret_parameter is None):
            raise config.ConfigError(
                "set exactly one of JWKS_URL (an OIDC issuer's key set) and JWT_SECRET_PARAMETER "
                "(the SSM SecureString name of an HS256 secret)"
            )
        family = ASYMMETRIC_ALGORITHMS if jwks_url else HMAC_ALGORITHMS
        algorithms = _csv(env, "JWT_ALGORITHMS", ("RS256",) if jwks_url else ("HS256",))
        if not set(algorithms) <= family:
            source = "JWKS_URL" if jwks_url else "JWT_SECRET_PARAMETER"
            raise config.ConfigError(
                f"environment variable JWT_ALGORITHMS={','.join(algorithms)!r} does not fit "
                f"{source}: allowed {', '.join(sorted(family))} ('none' never is)"
            )
        if jwks_url is not None:
            _check_jwks_url(jwks_url)
        route_arn = config.required_str(env, "CONNECT_ROUTE_ARN")
        if not route_arn.startswith("arn:") or not route_arn.endswith(CONNECT_ROUTE_SUFFIX):
            raise config.ConfigError(
                f"environment variable CONNECT_ROUTE_ARN={route_arn!r} must be this API's $connect "
                "route, like arn:aws:execute-api:us-east-1:123456789012:abc123/prod/$connect"
            )
        return cls(
            issuer=config.required_str(env, "JWT_ISSUER"),
            audience=_csv(env, "JWT_AUDIENCE", ()),
            algorithms=algorithms,
            jwks_url=jwks_url,
            secret_parameter=secret_parameter,
            user_id_claim=config.optional_str(env, "USER_ID_CLAIM", "sub"),
            role_claim=config.optional_str(env, "ROLE_CLAIM", "role"),
            allowed_roles=config.csv_set(env, "ALLOWED_ROLES", DEFAULT_ALLOWED_ROLES),
            leeway_seconds=config.bounded_int(env, "JWT_LEEWAY_SECONDS", 30, 0, 300),
            cache_seconds=config.bounded_int(env, "AUTH_CACHE_SECONDS", 0, 0, 3600),
            connect_route_arn=route_arn,
        )


def _optional(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _csv(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """A case-sensitive comma-separated list (audiences and algorithm names are)."""
    raw = env.get(name, "").strip()
    items = tuple(part.strip() for part in raw.split(",") if part.strip()) if raw else default
    if not items:
        raise config.ConfigError(f"environment variable {name} must list at least one value")
    return items


def _check_jwks_url(url: str) -> None:
    parsed = urllib.parse.urlsplit(url)
    local = parsed.hostname in {"127.0.0.1", "localhost"}
    if parsed.scheme != "https" and not (parsed.scheme == "http" and local):
        raise config.ConfigError(
            f"environment variable JWKS_URL={url!r} must be an https:// URL "
            "(plain http only for 127.0.0.1 or localhost)"
        )


@functools.cache
def get_config() -> AuthorizerConfig:
    """Configuration, read and validated once per execution environment."""
    return AuthorizerConfig.from_env(os.environ)


# --------------------------------------------------------------------------------------------
# Token extraction
# --------------------------------------------------------------------------------------------
def extract_token(event: Mapping[str, Any]) -> str:
    """The bearer token: ``token`` query parameter or the subprotocol after ``bearer``.

    Two different tokens in one request are refused rather than one silently preferred.
    """
    query = event.get("queryStringParameters") or {}
    from_query = query.get("token") if isinstance(query, Mapping) else None
    protocols = offered_subprotocols(event.get("headers"))
    from_header = None
    if TOKEN_SUBPROTOCOL in protocols:
        position = protocols.index(TOKEN_SUBPROTOCOL)
        from_header = protocols[position + 1] if position + 1 < len(protocols) else None
    found = {t for t in (from_query, from_header) if isinstance(t, str) and t}
    if not found:
        raise UnauthorizedError("no token (query parameter 'token' or subprotocol 'bearer')")
    if len(found) > 1:
        raise UnauthorizedError("two different tokens in one request")
    token = found.pop()
    if len(token) > MAX_TOKEN_CHARS:
        raise UnauthorizedError(f"token longer than {MAX_TOKEN_CHARS} characters")
    return token


# --------------------------------------------------------------------------------------------
# Key sources
# --------------------------------------------------------------------------------------------
VerificationKey = jwt.PyJWK | bytes


class KeySource(Protocol):
    def key_for(self, header: Mapping[str, Any], now: float) -> VerificationKey:
        """The key that must have signed a token with this (unverified) header."""
        ...


Fetcher = Callable[[str], bytes]


def fetch_url(url: str) -> bytes:
    """GET ``url`` (https, checked at configuration) with a short timeout and a size cap."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 - scheme checked by _check_jwks_url
    with urllib.request.urlopen(request, timeout=JWKS_TIMEOUT_SECONDS) as response:  # noqa: S310
        body: bytes = response.read(MAX_JWKS_BYTES + 1)
    if len(body) > MAX_JWKS_BYTES:
        raise ValueError(f"JWKS document larger than {MAX_JWKS_BYTES} bytes")
    return body


@dataclass
class JwksKeys:
    """An OIDC issuer's signing keys, cached across invocations and refreshed on an unknown kid.

    A refresh is attempted at most once per ``refresh_seconds`` (``retry_seconds`` until one
    succeeds). A failed fetch keeps the keys already known; with none known it denies.
    """

    url: str
    fetch: Fetcher
    refresh_seconds: float = JWKS_REFRESH_SECONDS
    retry_seconds: float = JWKS_RETRY_SECONDS
    keys: dict[str, jwt.PyJWK] = field(default_factory=dict)
    last_attempt: float | None = None
    loaded: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def key_for(self, header: Mapping[str, Any], now: float) -> VerificationKey:
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise UnauthorizedError("token header has no kid")
        with self.lock:
            if kid not in self.keys and self._may_refresh(now):
                self._refresh(now)
            key = self.keys.get(kid)
        if key is None:
            if not self.loaded:
                raise KeySourceError("no JWKS keys: the issuer's key set could not be fetched")
            raise UnauthorizedError(f"unknown kid {loggable(kid, 32)!r}")
        return key

    def _may_refresh(self, now: float) -> bool:
        if self.last_attempt is None:
            return True
        wait = self.refresh_seconds if self.loaded else self.retry_seconds
        return now - self.last_attempt >= wait

    def _refresh(self, now: float) -> None:
        self.last_attempt = now
        try:
            document = json.loads(self.fetch(self.url))
            if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
                raise ValueError("JWKS document is not a JSON object with a keys list")
            # A key set is public by definition: a private key ("d") or a symmetric key ("oct")
            # published there is a mistake, or an HS/RS confusion in waiting, and is not used.
            public = [
                k
                for k in document["keys"]
                if isinstance(k, dict) and "d" not in k and k.get("kty") != "oct"
            ]
            key_set = jwt.PyJWKSet(public)
        except (OSError, ValueError, jwt.PyJWTError) as error:
            logger.warning("JWKS fetch failed", extra={"error": loggable(str(error), 200)})
            return
        keys = {k.key_id: k for k in key_set.keys if k.key_id and k.public_key_use in (None, "sig")}
        if not keys:
            logger.warning("JWKS holds no usable signing key with a kid")
            return
        self.keys = keys
        self.loaded = True
        logger.info("JWKS loaded", extra={"kids": sorted(loggable(k, 32) for k in keys)})


@dataclass
class SsmSecretKey:
    """An HS256 secret read from an SSM SecureString (WithDecryption), cached and re-read every
    ``refresh_seconds``. A failed re-read keeps the cached secret; with none cached it denies.
    """

    ssm: SSMClient
    name: str
    refresh_seconds: float = SECRET_REFRESH_SECONDS
    secret: bytes | None = None
    fetched_at: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def key_for(self, header: Mapping[str, Any], now: float) -> VerificationKey:
        with self.lock:
            if self.fetched_at is None or now - self.fetched_at >= self.refresh_seconds:
                self._refresh(now)
            if self.secret is None:
                raise KeySourceError(f"the secret in SSM parameter {self.name} is not available")
            return self.secret

    def _refresh(self, now: float) -> None:
        self.fetched_at = now
        try:
            parameter = self.ssm.get_parameter(Name=self.name, WithDecryption=True)["Parameter"]
        except (BotoCoreError, ClientError) as error:
            logger.warning(
                "SSM secret read failed",
                extra={"parameter": self.name, "error": loggable(str(error), 200)},
            )
            return
        value = parameter.get("Value", "").encode()
        if parameter.get("Type") != "SecureString":
            logger.error("secret parameter is not a SecureString", extra={"parameter": self.name})
            self.secret = None
        elif len(value) < MIN_SECRET_BYTES:
            logger.error(
                "secret parameter is too short for HS256",
                extra={"parameter": self.name, "minimum_bytes": MIN_SECRET_BYTES},
            )
            self.secret = None
        else:
            self.secret = value


# --------------------------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Principal:
    user_id: str
    role: str
    expires_at: float


def verify_token(token: str, cfg: AuthorizerConfig, keys: KeySource, now: float) -> Principal:
    """Signature, algorithm, kid, iss, aud, exp/nbf/iat (with leeway), user id and role.

    Raises UnauthorizedError for every token fault, ForbiddenRoleError for a valid token whose
    role is not allowed, KeySourceError when the keys cannot be had.
    """
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise UnauthorizedError(f"not a JWT: {loggable(str(error), 80)}") from None
    algorithm = header.get("alg")
    if algorithm not in cfg.algorithms:
        raise UnauthorizedError(f"algorithm {loggable(algorithm, 16)!r} is not allowed")
    key = keys.key_for(header, now)
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key,
            algorithms=list(cfg.algorithms),
            audience=list(cfg.audience),
            issuer=cfg.issuer,
            options={
                "require": ["exp", "iat", "iss", "aud"],
                # Times are checked below against the injected clock.
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "enforce_minimum_key_length": True,
            },
        )
    except jwt.PyJWTError as error:
        raise UnauthorizedError(f"{type(error).__name__}: {loggable(str(error), 80)}") from None
    expires_at = check_times(claims, now, cfg.leeway_seconds)
    user_id = claims.get(cfg.user_id_claim)
    if not is_valid_user_id(user_id):
        raise UnauthorizedError(f"claim {cfg.user_id_claim!r} is not a valid user id")
    role = role_from_claim(claims.get(cfg.role_claim), cfg.allowed_roles)
    if role is None:
        raise ForbiddenRoleError(
            cast("str", user_id),
            f"claim {cfg.role_claim!r} holds no allowed role: "
            f"{loggable(claims.get(cfg.role_claim), 48)}",
        )
    return Principal(user_id=cast("str", user_id), role=role, expires_at=expires_at)


def check_times(claims: Mapping[str, Any], now: float, leeway: int) -> float:
    """exp in the future, nbf and iat not in the future (each with ``leeway``); returns exp."""
    times = {}
    for name in ("exp", "nbf", "iat"):
        value = claims.get(name)
        if value is None and name == "nbf":
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UnauthorizedError(f"claim {name} is not a number")
        times[name] = float(value)
    if times["exp"] <= now - leeway:
        raise UnauthorizedError("token expired")
    if times.get("nbf", now) > now + leeway:
        raise UnauthorizedError("token not yet valid (nbf)")
    if times["iat"] > now + leeway:
        raise UnauthorizedError("token issued in the future (iat)")
    return times["exp"]


def role_from_claim(value: object, allowed: frozenset[str]) -> str | None:
    """The role a claim grants: a string, or the first allowed entry of a list
    (``cognito:groups``), compared lower-cased. None when nothing in it is allowed."""
    candidates = value if isinstance(value, list) else [value]
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip().lower() in allowed:
            return candidate.strip().lower()
    return None


# --------------------------------------------------------------------------------------------
# Decisions and policies
# --------------------------------------------------------------------------------------------
@dataclass
class DecisionCache:
    """Allowed principals by token digest for ``AUTH_CACHE_SECONDS`` (never past the token's exp).

    API Gateway caches authorizer results only for HTTP APIs, so a WebSocket API that wants
    caching gets it here, per execution environment. Only allows are cached; the token itself is
    not kept (its SHA-256 is the key). Off (0 s) by default.
    """

    seconds: int
    entries: OrderedDict[bytes, tuple[float, Principal]] = field(default_factory=OrderedDict)

    def get(self, token: str, now: float) -> Principal | None:
        if self.seconds <= 0:
            return None
        digest = hashlib.sha256(token.encode()).digest()
        entry = self.entries.get(digest)
        if entry is None:
            return None
        until, principal = entry
        if now >= until:
            del self.entries[digest]
            return None
        return principal

    def put(self, token: str, principal: Principal, now: float) -> None:
        if self.seconds <= 0:
            return
        until = min(now + self.seconds, principal.expires_at)
        self.entries[hashlib.sha256(token.encode()).digest()] = (until, principal)
        while len(self.entries) > MAX_CACHED_DECISIONS:
            self.entries.popitem(last=False)


def policy(
    principal_id: str, effect: str, route_arn: str, context: Mapping[str, str]
) -> dict[str, Any]:
    return {
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": route_arn}
            ],
        },
        "context": dict(context),
    }


def authorize(
    event: Mapping[str, Any],
    cfg: AuthorizerConfig,
    keys: KeySource,
    cache: DecisionCache,
    now: float,
) -> dict[str, Any]:
    """The authorizer's answer for ``event``; raises UnauthorizedError or KeySourceError."""
    request_context = event.get("requestContext")
    connection_id = (
        request_context.get("connectionId") if isinstance(request_context, Mapping) else None
    )
    if isinstance(connection_id, str):
        logger.set_correlation_id(connection_id)
    method_arn = event.get("methodArn")
    if method_arn != cfg.connect_route_arn:
        # Only the $connect route of the API in CONNECT_ROUTE_ARN is authorised here.
        logger.error(
            "authorizer invoked for another route or API",
            extra={"method_arn": loggable(method_arn, 200), "expected": cfg.connect_route_arn},
        )
        raise UnauthorizedError("methodArn is not this API's $connect")
    token = extract_token(event)
    principal = cache.get(token, now)
    cached = principal is not None
    if principal is None:
        try:
            principal = verify_token(token, cfg, keys, now)
        except ForbiddenRoleError as refused:
            logger.info(
                "connection denied",
                extra={"user_id": loggable(refused.user_id), "why": refused.reason},
            )
            return policy(refused.user_id, "Deny", cfg.connect_route_arn, {})
        cache.put(token, principal, now)
    logger.info(
        "connection allowed",
        extra={"user_id": loggable(principal.user_id), "role": principal.role, "cached": cached},
    )
    return policy(
        principal.user_id,
        "Allow",
        cfg.connect_route_arn,
        {"userId": principal.user_id, "role": principal.role},
    )


# --------------------------------------------------------------------------------------------
# Execution-environment state and the handler
# --------------------------------------------------------------------------------------------
@functools.cache
def ssm_client() -> SSMClient:
    return boto3.client(
        "ssm",
        config=Config(retries={"mode": "standard"}, connect_timeout=2, read_timeout=3),
    )


@functools.cache
def get_key_source() -> KeySource:
    """The configured key source, built once so its cache lives across invocations."""
    cfg = get_config()
    if cfg.jwks_url is not None:
        return JwksKeys(url=cfg.jwks_url, fetch=fetch_url)
    return SsmSecretKey(ssm=ssm_client(), name=cast("str", cfg.secret_parameter))


@functools.cache
def get_cache() -> DecisionCache:
    return DecisionCache(seconds=get_config().cache_seconds)


def reset() -> None:
    """Forget configuration, clients, keys and cached decisions (tests)."""
    for cached in (get_config, ssm_client, get_key_source, get_cache):
        cached.cache_clear()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        return authorize(event, get_config(), get_key_source(), get_cache(), time.time())
    except UnauthorizedError as refused:
        logger.info("connection refused", extra={"why": refused.reason})
        raise
    except KeySourceError as outage:
        logger.error("key source unavailable: connection refused", extra={"why": str(outage)})
        raise
