"""Token verification: signature, algorithm, kid, iss, aud and times, then the claims' identity.

What the token's claims mean for the connection is ``claims``' business, so a new claim never
touches this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jwt

from realtime_common.auth.claims import Principal
from realtime_common.auth.errors import UnauthorizedError
from realtime_common.auth.keys import KeySource
from realtime_common.auth.settings import AuthorizerConfig
from realtime_common.logs import loggable


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
    return cfg.claims.principal(claims, expires_at)


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
