"""SigV4 signing of management API posts with the signing key derived once per day.

botocore's ``SigV4Auth`` derives the signing key (four HMACs) and builds an ``AWSRequest`` on
every call; for a fan-out of thousands of posts that is most of the CPU a post costs. This signer
produces the same ``Authorization`` header (tests/unit/test_fanout_sigv4.py proves it byte for
byte against botocore with random inputs, with and without a session token, across a UTC midnight
and a credential refresh) while deriving the key only when the date, region or secret changes,
hashing each frame's body once for all connections, and reading the credentials from botocore's
own provider chain (so the Lambda role's session token is used, and refreshed credentials are
picked up on the next post).

Specification: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from typing import NamedTuple
from urllib.parse import quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "execute-api"


class FrozenCredentials(NamedTuple):
    """The shape of botocore's ``ReadOnlyCredentials``."""

    access_key: str
    secret_key: str
    token: str | None


CredentialsSource = Callable[[], FrozenCredentials]


def payload_hash(body: bytes) -> str:
    """The hex SHA-256 of a body; compute it once per frame, not once per connection."""
    return hashlib.sha256(body).hexdigest()


def canonical_host(url: str) -> str:
    """The ``host`` header value botocore signs for ``url`` (default ports dropped)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    default = {"http": 80, "https": 443}.get(parts.scheme)
    if parts.port is not None and parts.port != default:
        return f"{host}:{parts.port}"
    return host


def connection_path(base_path: str, connection_id: str) -> str:
    """The request path of a post to ``connection_id`` (the id percent-encoded as a path label)."""
    return f"{base_path}/@connections/{quote(connection_id, safe='')}"


def canonical_path(request_path: str) -> str:
    """SigV4 canonical URI of a request path: encoded once more (every service but S3)."""
    return quote(request_path, safe="/~")


class Signer:
    """Signs ``POST`` requests to one host for ``execute-api`` in one region."""

    def __init__(
        self,
        credentials: CredentialsSource,
        region: str,
        host: str,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._credentials = credentials
        self._region = region
        self.host = host
        self._clock = clock
        self._second = -1
        self._amz_date = ""
        self._key_for: tuple[str, str] = ("", "")  # (secret key, date) the cached key belongs to
        self._key = b""
        self._scope = ""

    def _signing_key(self, secret: str, date: str) -> bytes:
        if self._key_for != (secret, date):
            key = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
            for part in (self._region, SERVICE, "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            self._key_for = (secret, date)
            self._key = key
            self._scope = f"{date}/{self._region}/{SERVICE}/aws4_request"
        return self._key

    def headers(
        self, request_path: str, body_hash: str, *, now: float | None = None
    ) -> dict[str, str]:
        """The headers to send with a ``POST`` of a body whose SHA-256 is ``body_hash``.

        ``request_path`` is the path as sent (``connection_path``); ``now`` (epoch seconds)
        defaults to the clock.
        """
        second = int(self._clock() if now is None else now)
        if second != self._second:
            self._second = second
            self._amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second))
        amz_date = self._amz_date
        credentials = self._credentials()
        key = self._signing_key(credentials.secret_key, amz_date[:8])
        token = credentials.token
        if token:
            signed = "host;x-amz-date;x-amz-security-token"
            header_lines = (
                f"host:{self.host}\nx-amz-date:{amz_date}\n"
                f"x-amz-security-token:{' '.join(token.split())}\n"
            )
        else:
            signed = "host;x-amz-date"
            header_lines = f"host:{self.host}\nx-amz-date:{amz_date}\n"
        canonical = f"POST\n{canonical_path(request_path)}\n\n{header_lines}\n{signed}\n{body_hash}"
        string_to_sign = (
            f"{ALGORITHM}\n{amz_date}\n{self._scope}\n"
            f"{hashlib.sha256(canonical.encode()).hexdigest()}"
        )
        signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        headers = {
            "Host": self.host,
            "X-Amz-Date": amz_date,
            "Authorization": (
                f"{ALGORITHM} Credential={credentials.access_key}/{self._scope}, "
                f"SignedHeaders={signed}, Signature={signature}"
            ),
        }
        if token:
            headers["X-Amz-Security-Token"] = token
        return headers
