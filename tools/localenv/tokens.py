"""Tokens for the local stack: the HS256 secret `up` keeps in SSM and the JWTs `make token` signs.

The local stack runs the same ``$connect`` authorizer as every other environment
(functions/authorizer.py), with its key source an SSM SecureString (``envs/local.tfvars``:
``authorizer.secret_parameter_name``). `up` reads what the deployed authorizer checks (issuer,
audience, claim names, the parameter's name) from the function's own configuration, so the tokens
minted here match whatever the tfvars say, and stores a random secret in that parameter. The
secret stays in the emulator: the local state records the parameter's name only.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_ssm import SSMClient

# RFC 7518 section 3.2: an HS256 key is at least 32 bytes; 48 random bytes, 64 characters.
SECRET_BYTES = 48
DEFAULT_TTL_S = 3600
MAX_TTL_S = 7 * 24 * 3600
# The algorithm an SSM key source takes unless authorizer.algorithms says otherwise (authorizer.tf).
ALGORITHM = "HS256"


class TokenError(RuntimeError):
    """A token the local stack cannot issue; the message says what to do instead."""


@dataclass(frozen=True)
class Issuer:
    """What the deployed authorizer checks, as its environment says."""

    issuer: str
    audience: str
    secret_parameter: str
    user_id_claim: str = "sub"
    role_claim: str = "role"
    # The claim holding the areas a user may see (Terraform: subscriptions.areas_claim).
    areas_claim: str = "areas"
    algorithm: str = ALGORITHM

    @classmethod
    def from_function_env(cls, env: Mapping[str, str]) -> Issuer | None:
        """The issuer for an authorizer keyed by an SSM secret; None for any other key source."""
        parameter = env.get("JWT_SECRET_PARAMETER", "").strip()
        if not parameter:
            return None
        audiences = [a.strip() for a in env.get("JWT_AUDIENCE", "").split(",") if a.strip()]
        algorithms = [a.strip() for a in env.get("JWT_ALGORITHMS", "").split(",") if a.strip()]
        return cls(
            issuer=env.get("JWT_ISSUER", ""),
            audience=audiences[0] if audiences else "",
            secret_parameter=parameter,
            user_id_claim=env.get("USER_ID_CLAIM") or "sub",
            role_claim=env.get("ROLE_CLAIM") or "role",
            areas_claim=env.get("AREAS_CLAIM") or "areas",
            algorithm=algorithms[0] if algorithms else ALGORITHM,
        )

    @classmethod
    def from_state(cls, recorded: Mapping[str, str]) -> Issuer | None:
        return cls(**recorded) if recorded else None

    def to_state(self) -> dict[str, str]:
        return asdict(self)


def deployed_issuer(lam: LambdaClient, function_name: str) -> Issuer | None:
    """The deployed authorizer's settings, read from its configuration."""
    config = lam.get_function_configuration(FunctionName=function_name)
    env = (config.get("Environment") or {}).get("Variables") or {}
    return Issuer.from_function_env(env)


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def ensure_secret(ssm: SSMClient, name: str, created: list[str]) -> bool:
    """Put a new random secret in the SecureString ``name`` unless it holds one; True if put.

    An existing secret is kept, so tokens minted before a converging `up` stay valid.
    """
    from botocore.exceptions import ClientError  # noqa: PLC0415

    try:
        ssm.get_parameter(Name=name, WithDecryption=True)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ParameterNotFound":
            raise
    else:
        return False
    ssm.put_parameter(
        Name=name,
        Value=new_secret(),
        Type="SecureString",
        Description="HS256 secret of the local stack's $connect authorizer (make up)",
        Overwrite=True,
    )
    marker = f"secret:{name}"
    if marker not in created:
        created.append(marker)
    return True


def read_secret(ssm: SSMClient, name: str) -> str:
    from botocore.exceptions import ClientError  # noqa: PLC0415

    try:
        return ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    except ClientError as exc:
        raise TokenError(
            f"the authorizer's secret (SSM parameter {name}) cannot be read: {exc}; "
            "run 'make up' to put it back"
        ) from None


def mint(
    issuer: Issuer,
    secret: str,
    user: str,
    role: str,
    *,
    now: float,
    ttl_s: int = DEFAULT_TTL_S,
    areas: Sequence[str] | None = None,
    **overrides: Any,  # noqa: ANN401 - any JSON claim value
) -> str:
    """A signed JWT the local authorizer accepts for ``user`` in ``role``.

    ``areas`` (area patterns: ``*``, ``north``, ``north/*``) goes in the issuer's areas claim as
    a JSON list; None leaves the claim out (the stack's ``subscriptions.default_areas`` applies).
    The authorizer judges the patterns. ``overrides`` replace or add claims (a claim set to None
    is left out), for tests that need a token that fails one check.
    """
    import jwt  # noqa: PLC0415 - PyJWT: a dev dependency, needed only to sign

    if not 0 < ttl_s <= MAX_TTL_S:
        raise TokenError(f"TTL={ttl_s} must be between 1 and {MAX_TTL_S} seconds")
    issued = int(now)
    claims: dict[str, Any] = {
        "iss": issuer.issuer,
        "aud": issuer.audience,
        issuer.user_id_claim: user,
        issuer.role_claim: role,
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_s,
    }
    if areas is not None:
        claims[issuer.areas_claim] = list(areas)
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, secret.encode(), algorithm=issuer.algorithm)
