"""A verified token's claims -> who is connecting: the one place that knows which claims matter.

``verify`` proves the claims are the issuer's and current, then hands them here. Reading one
more claim (an ``areas`` claim scoping a connection to some areas, say) is one more field of
:class:`ClaimRules` (the claim's name, from the environment) and of :class:`Principal`, read in
:meth:`ClaimRules.principal` and passed on by :meth:`Principal.context`: verification, the
decision cache and the policy stay as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from realtime_common import config, filters
from realtime_common.auth.errors import ForbiddenRoleError, UnauthorizedError
from realtime_common.connections import is_valid_user_id
from realtime_common.logs import loggable


@dataclass(frozen=True)
class Principal:
    """Who a valid token says is connecting, until when."""

    user_id: str
    role: str
    expires_at: float
    areas: filters.Permission

    def context(self) -> dict[str, str]:
        """The authorizer context ``$connect`` receives (``requestContext.authorizer``, which
        ``connection_manager`` reads): flat strings, numbers or booleans, at most 8 KB (the
        areas' canonical JSON is bounded by ``FILTER_LIMITS.areas_max_bytes``)."""
        return {"userId": self.user_id, "role": self.role, "areas": self.areas.to_json()}


@dataclass(frozen=True)
class ClaimRules:
    """Which claims name the user, the role and the areas, the roles a connection may have,
    what a token without the areas claim may see, and how big the areas may be."""

    user_id_claim: str
    role_claim: str
    allowed_roles: frozenset[str]
    areas_claim: str
    default_areas: filters.Permission
    areas_max_bytes: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ClaimRules:
        return cls(
            user_id_claim=config.required_str(env, "USER_ID_CLAIM"),
            role_claim=config.required_str(env, "ROLE_CLAIM"),
            allowed_roles=config.csv_set(env, "ALLOWED_ROLES"),
            areas_claim=config.required_str(env, "AREAS_CLAIM"),
            default_areas=filters.default_areas(env),
            areas_max_bytes=filters.filter_limits(env).areas_max_bytes,
        )

    def principal(self, claims: Mapping[str, Any], expires_at: float) -> Principal:
        """The principal of verified ``claims``: UnauthorizedError without a valid user id,
        ForbiddenRoleError (a Deny, 403) when the role claim holds no allowed role or the areas
        claim is malformed or too big to travel in the authorizer's context."""
        user_id = claims.get(self.user_id_claim)
        if not isinstance(user_id, str) or not is_valid_user_id(user_id):
            raise UnauthorizedError(f"claim {self.user_id_claim!r} is not a valid user id")
        role = role_from_claim(claims.get(self.role_claim), self.allowed_roles)
        if role is None:
            raise ForbiddenRoleError(
                user_id,
                f"claim {self.role_claim!r} holds no allowed role: "
                f"{loggable(claims.get(self.role_claim), 48)}",
            )
        try:
            areas = filters.parse_areas_claim(
                claims.get(self.areas_claim),
                default=self.default_areas,
                max_bytes=self.areas_max_bytes,
            )
        except filters.ClaimError as malformed:
            raise ForbiddenRoleError(user_id, f"claim {self.areas_claim!r}: {malformed}") from None
        return Principal(user_id=user_id, role=role, expires_at=expires_at, areas=areas)


def role_from_claim(value: object, allowed: frozenset[str]) -> str | None:
    """The role a claim grants: a string, or the first allowed entry of a list
    (``cognito:groups``), compared lower-cased. None when nothing in it is allowed."""
    candidates = value if isinstance(value, list) else [value]
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip().lower() in allowed:
            return candidate.strip().lower()
    return None
