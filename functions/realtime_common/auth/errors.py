"""How the authorizer refuses a connection: 401, 403, or an error when the keys are unavailable."""

from __future__ import annotations


class UnauthorizedError(Exception):
    """The token is missing or fails a check. API Gateway turns exactly this message into 401."""

    def __init__(self, reason: str) -> None:
        super().__init__("Unauthorized")
        self.reason = reason


class ForbiddenRoleError(Exception):
    """The token is valid but maps to no allowed role, or its areas claim is unusable
    (malformed, or over the size the authorizer's context may carry): a Deny policy (403)."""

    def __init__(self, user_id: str, reason: str) -> None:
        super().__init__(reason)
        self.user_id = user_id
        self.reason = reason


class KeySourceError(RuntimeError):
    """The keys cannot be had (JWKS or SSM unreachable, unusable). Denies: never an Allow."""
