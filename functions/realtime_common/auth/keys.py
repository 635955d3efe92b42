"""What a key source is: the verification key for a token's (unverified) header.

The two sources: ``jwks`` (an OIDC issuer's public keys) and ``ssm_secret`` (an HS256 secret).
A test hands ``verify_token`` any object with this method (a fixed key, a counting wrapper).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import jwt

VerificationKey = jwt.PyJWK | bytes


class KeySource(Protocol):
    def key_for(self, header: Mapping[str, Any], now: float) -> VerificationKey:
        """The key that must have signed a token with this (unverified) header.

        Raises ``UnauthorizedError`` when the header names no usable key, ``KeySourceError``
        when the keys cannot be had.
        """
        ...
