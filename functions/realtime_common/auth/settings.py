"""The authorizer's environment, read and checked once (functions/README.md lists it).

Terraform (``var.authorizer``, ``var.allowed_roles``) owns every default and range and always
sets these variables; the readers require them and check that they parse. Two rules are the
authorizer's own and are checked here whatever sets the environment: exactly one key source,
and algorithms from that source's family only.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

from realtime_common import config
from realtime_common.auth.claims import ClaimRules

# Signature families. A key source accepts one family only, so an HS256 token can never be
# checked against an RSA public key taken as an HMAC secret (the HS/RS confusion), and "none"
# is in neither.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
# API Gateway: "arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/$connect".
CONNECT_ROUTE_SUFFIX = "/$connect"


@dataclass(frozen=True)
class AuthorizerConfig:
    issuer: str
    audience: tuple[str, ...]
    algorithms: tuple[str, ...]
    jwks_url: str | None
    secret_parameter: str | None
    claims: ClaimRules
    leeway_seconds: int
    cache_seconds: int
    connect_route_arn: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AuthorizerConfig:
        jwks_url = config.optional(env, "JWKS_URL")
        secret_parameter = config.optional(env, "JWT_SECRET_PARAMETER")
        if (jwks_url is None) == (secret_parameter is None):
            raise config.ConfigError(
                "set exactly one of JWKS_URL (an OIDC issuer's key set) and JWT_SECRET_PARAMETER "
                "(the SSM SecureString name of an HS256 secret)"
            )
        family = ASYMMETRIC_ALGORITHMS if jwks_url else HMAC_ALGORITHMS
        algorithms = config.csv_list(env, "JWT_ALGORITHMS")
        if not set(algorithms) <= family:
            source = "JWKS_URL" if jwks_url else "JWT_SECRET_PARAMETER"
            raise config.ConfigError(
                f"environment variable JWT_ALGORITHMS={','.join(algorithms)!r} does not fit "
                f"{source}: allowed {', '.join(sorted(family))} ('none' never is)"
            )
        if jwks_url is not None:
            check_jwks_url(jwks_url)
        route_arn = config.required_str(env, "CONNECT_ROUTE_ARN")
        if not route_arn.startswith("arn:") or not route_arn.endswith(CONNECT_ROUTE_SUFFIX):
            raise config.ConfigError(
                f"environment variable CONNECT_ROUTE_ARN={route_arn!r} must be this API's $connect "
                "route, like arn:aws:execute-api:us-east-1:123456789012:abc123/prod/$connect"
            )
        return cls(
            issuer=config.required_str(env, "JWT_ISSUER"),
            audience=config.csv_list(env, "JWT_AUDIENCE"),
            algorithms=algorithms,
            jwks_url=jwks_url,
            secret_parameter=secret_parameter,
            claims=ClaimRules.from_env(env),
            leeway_seconds=config.required_int(env, "JWT_LEEWAY_SECONDS"),
            cache_seconds=config.required_int(env, "AUTH_CACHE_SECONDS"),
            connect_route_arn=route_arn,
        )


def check_jwks_url(url: str) -> None:
    """https only (plain http for 127.0.0.1 or localhost: tests and local tools)."""
    parsed = urllib.parse.urlsplit(url)
    local = parsed.hostname in {"127.0.0.1", "localhost"}
    if parsed.scheme != "https" and not (parsed.scheme == "http" and local):
        raise config.ConfigError(
            f"environment variable JWKS_URL={url!r} must be an https:// URL "
            "(plain http only for 127.0.0.1 or localhost)"
        )
