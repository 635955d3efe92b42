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

from realtime_common import config
from realtime_common.auth.errors import ForbiddenRoleError, UnauthorizedError
from realtime_common.connections import is_valid_user_id
from realtime_common.logs import loggable


@dataclass(frozen=True)
class Principal:
    """Who a valid token says is connecting, until when."""

    user_id: str
    role: str
    expires_at: float

    def context(self) -> dict[str, str]:
        """The authorizer context ``$connect`` receives (``requestContext.authorizer``, which
        ``connection_manager`` reads): flat strings, numbers or booleans, at most 8 KB."""
        return {"userId": self.user_id, "role": self.role}


@dataclass(frozen=True)
class ClaimRules:
    """Which claims name the user and the role, and the roles a connection may have."""

    user_id_claim: str
    role_claim: str
    allowed_roles: frozenset[str]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ClaimRules:
        return cls(
            user_id_claim=config.required_str(env, "USER_ID_CLAIM"),
            role_claim=config.required_str(env, "ROLE_CLAIM"),
            allowed_roles=config.csv_set(env, "ALLOWED_ROLES"),
        )

    def principal(self, claims: Mapping[str, Any], expires_at: float) -> Principal:
        """The principal of verified ``claims``: UnauthorizedError without a valid user id,
        ForbiddenRoleError (a Deny, 403) when the role claim holds no allowed role."""
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
        return Principal(user_id=user_id, role=role, expires_at=expires_at)


def role_from_claim(value: object, allowed: frozenset[str]) -> str | None:
    """The role a claim grants: a string, or the first allowed entry of a list
    (``cognito:groups``), compared lower-cased. None when nothing in it is allowed."""
    candidates = value if isinstance(value, list) else [value]
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip().lower() in allowed:
            return candidate.strip().lower()
    return None
