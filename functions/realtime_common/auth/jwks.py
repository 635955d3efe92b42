"""An OIDC issuer's signing keys (``JWKS_URL``), cached across invocations.

Why not PyJWT's ``PyJWKClient``: its cooldown on an unknown ``kid`` counts only successful
fetches, so while the issuer is down every unknown (or forged) kid is one more request to it;
its cached key set expires after ``lifespan`` and a failed re-fetch then refuses tokens signed
with keys it already knew; and it uses every key a set publishes, private (``d``) and symmetric
(``oct``) ones included. Here a refresh is attempted at most once a minute whatever its outcome,
known keys outlive an outage, only public keys are used, and the clock is a parameter.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt

from realtime_common.auth.errors import KeySourceError, UnauthorizedError
from realtime_common.auth.keys import VerificationKey
from realtime_common.logs import loggable, make_logger

logger = make_logger()

MAX_JWKS_BYTES = 512 * 1024
JWKS_TIMEOUT_SECONDS = 3.0
# An unknown kid triggers at most one JWKS fetch per minute (a stream of forged kids cannot turn
# the authorizer into a traffic generator against the issuer); until a first fetch succeeds the
# wait between attempts is shorter, so a cold start during a blip recovers quickly.
JWKS_REFRESH_SECONDS = 60.0
JWKS_RETRY_SECONDS = 5.0

Fetcher = Callable[[str], bytes]


def fetch_url(url: str) -> bytes:
    """GET ``url`` (https, checked at configuration) with a short timeout and a size cap."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 - scheme checked by settings.check_jwks_url
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
