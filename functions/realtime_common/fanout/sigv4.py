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
import re
import time
from collections.abc import Callable, Iterable
from typing import NamedTuple
from urllib.parse import quote, urlsplit

_BLOCK = 64  # SHA-256's block size in bytes
_SHA256 = hashlib.sha256()  # copied, not constructed, per hash: no algorithm lookup each time


class _HmacSha256:
    """HMAC-SHA256 (RFC 2104) under one key, its padded inner and outer states hashed once.

    A post's signature is one HMAC under the day's signing key: copying the two prepared states
    costs less than half of ``hmac.digest``, which sets up OpenSSL's MAC afresh on every call.
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in key))
        self._outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in key))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


def _sha256_hex(data: bytes) -> str:
    digest = _SHA256.copy()
    digest.update(data)
    return digest.hexdigest()


ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "execute-api"


class FrozenCredentials(NamedTuple):
    """The shape of botocore's ``ReadOnlyCredentials``."""

    access_key: str
    secret_key: str
    token: str | None


CredentialsSource = Callable[[], FrozenCredentials]


class Signature(NamedTuple):
    """What one signed request carries: its date, session token and ``Authorization``."""

    amz_date: str
    token: str | None
    authorization: str


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


# API Gateway connection ids are base64-like ("L0SM9cOFvHcCIhw="): letters, digits and "=", and
# sometimes "-" or "_". For those, quoting is one str.replace; anything else takes urllib's path.
_PLAIN_ID = re.compile(r"[A-Za-z0-9_.~=-]+")


def connection_path(base_path: str, connection_id: str) -> str:
    """The request path of a post to ``connection_id`` (the id percent-encoded as a path label)."""
    if _PLAIN_ID.fullmatch(connection_id):
        return f"{base_path}/@connections/{connection_id.replace('=', '%3D')}"
    return f"{base_path}/@connections/{quote(connection_id, safe='')}"


def canonical_path(request_path: str) -> str:
    """SigV4 canonical URI of a request path: encoded once more (every service but S3)."""
    return quote(request_path, safe="/~")


class _CanonicalPaths:
    """``canonical_path`` of one endpoint's paths, with the common prefix encoded once."""

    def __init__(self) -> None:
        self._prefix = ""
        self._encoded_prefix = ""

    def __call__(self, request_path: str) -> str:
        prefix = self._prefix
        if prefix and request_path.startswith(prefix):
            rest = request_path[len(prefix) :]
            if _PLAIN_ID.fullmatch(rest.replace("%3D", "=")):
                # quote() of "%3D" is "%253D"; letters, digits and "_.~-" stay as they are.
                return self._encoded_prefix + rest.replace("%", "%25")
        head, marker, _ = request_path.rpartition("/@connections/")
        if marker:
            self._prefix = head + marker
            self._encoded_prefix = quote(self._prefix, safe="/~")
        return canonical_path(request_path)


class _Context(NamedTuple):
    """What every request signed in one second with one set of credentials shares."""

    second: int
    credentials: FrozenCredentials
    key: bytes
    mac: _HmacSha256  # HMAC under ``key``
    amz_date: str
    canonical_tail: str  # after the canonical URI, before the payload hash
    string_to_sign_head: str  # before the canonical request's hash
    authorization_head: str  # before the signature
    block_head: str  # the header block after the request path, before the signature


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
        self._key_for: tuple[str, str] = ("", "")  # (secret key, date) the cached key belongs to
        self._key = b""
        self._mac = _HmacSha256(b"")
        self._scope = ""
        self._canonical_path = _CanonicalPaths()
        self._context: _Context | None = None
        self._base_path: str | None = None  # the stage path post_head's prefixes belong to
        self._path_prefix = ""
        self._canonical_prefix = ""

    def _signing_key(self, secret: str, date: str) -> bytes:
        if self._key_for != (secret, date):
            key = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
            for part in (self._region, SERVICE, "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            self._key_for = (secret, date)
            self._key = key
            self._mac = _HmacSha256(key)
            self._scope = f"{date}/{self._region}/{SERVICE}/aws4_request"
        return self._key

    def _context_for(self, now: float | None) -> _Context:
        second = int(self._clock() if now is None else now)
        credentials = self._credentials()
        context = self._context
        if context is not None and context.second == second and context.credentials == credentials:
            return context
        amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second))
        key = self._signing_key(credentials.secret_key, amz_date[:8])
        token = credentials.token
        if token:
            signed = "host;x-amz-date;x-amz-security-token"
            header_lines = (
                f"host:{self.host}\nx-amz-date:{amz_date}\n"
                f"x-amz-security-token:{' '.join(token.split())}\n"
            )
            token_line = f"X-Amz-Security-Token: {token}\r\n"
        else:
            signed = "host;x-amz-date"
            header_lines = f"host:{self.host}\nx-amz-date:{amz_date}\n"
            token_line = ""
        authorization_head = (
            f"{ALGORITHM} Credential={credentials.access_key}/{self._scope}, "
            f"SignedHeaders={signed}, Signature="
        )
        context = self._context = _Context(
            second=second,
            credentials=credentials,
            key=key,
            mac=self._mac,
            amz_date=amz_date,
            canonical_tail=f"\n\n{header_lines}\n{signed}\n",
            string_to_sign_head=f"{ALGORITHM}\n{amz_date}\n{self._scope}\n",
            authorization_head=authorization_head,
            block_head=(
                f" HTTP/1.1\r\nHost: {self.host}\r\nX-Amz-Date: {amz_date}\r\n{token_line}"
                f"Authorization: {authorization_head}"
            ),
        )
        return context

    def _signature(self, context: _Context, request_path: str, body_hash: str) -> str:
        return self._sign_canonical(
            context, "POST\n" + self._canonical_path(request_path), body_hash
        )

    @staticmethod
    def _sign_canonical(context: _Context, canonical_head: str, body_hash: str) -> str:
        canonical = canonical_head + context.canonical_tail + body_hash
        string_to_sign = context.string_to_sign_head + _sha256_hex(canonical.encode())
        return context.mac.digest(string_to_sign.encode()).hex()

    def sign(self, request_path: str, body_hash: str, now: float | None = None) -> Signature:
        """The signed values for a ``POST`` of a body whose SHA-256 is ``body_hash``.

        ``request_path`` is the path as sent (``connection_path``); ``now`` (epoch seconds)
        defaults to the clock.
        """
        context = self._context_for(now)
        signature = self._signature(context, request_path, body_hash)
        return Signature(
            context.amz_date,
            context.credentials.token or None,
            context.authorization_head + signature,
        )

    def headers(
        self, request_path: str, body_hash: str, *, now: float | None = None
    ) -> dict[str, str]:
        """The headers to send with a ``POST`` of a body whose SHA-256 is ``body_hash``."""
        signature = self.sign(request_path, body_hash, now)
        headers = {
            "Host": self.host,
            "X-Amz-Date": signature.amz_date,
            "Authorization": signature.authorization,
        }
        if signature.token:
            headers["X-Amz-Security-Token"] = signature.token
        return headers

    def post_head(
        self,
        base_path: str,
        connection_id: str,
        body_hash: str,
        content_length: int,
        *,
        now: float | None = None,
    ) -> bytes:
        """The request line and headers of an HTTP/1.1 ``POST`` to ``connection_id`` under
        ``base_path`` (the stage's path): ``headers()``, as sent. The fan-out's hot path: the id
        is checked and escaped once for both the request path and the canonical URI, and the
        prefix of both is built once per stage.
        """
        return self._head(*self._to(base_path, connection_id, now), body_hash, content_length)

    def post_heads(
        self,
        base_path: str,
        connection_id: str,
        bodies: Iterable[tuple[str, int]],
        *,
        now: float | None = None,
    ) -> list[bytes]:
        """:meth:`post_head` for several bodies (hash, length) to one connection: the clock,
        the credentials and the id's escaping are read once for all of them."""
        to = self._to(base_path, connection_id, now)
        return [self._head(*to, body_hash, content_length) for body_hash, content_length in bodies]

    def _head(
        self,
        context: _Context,
        canonical_head: str,
        request_head: str,
        body_hash: str,
        content_length: int,
    ) -> bytes:
        signature = self._sign_canonical(context, canonical_head, body_hash)
        return (f"{request_head}{signature}\r\nContent-Length: {content_length}\r\n\r\n").encode(
            "latin-1"
        )

    def _to(
        self, base_path: str, connection_id: str, now: float | None
    ) -> tuple[_Context, str, str]:
        """What posts to ``connection_id`` now share: the signing context, the canonical
        request's method and URI, and the request line and headers up to the signature."""
        context = self._context_for(now)
        if base_path != self._base_path:
            prefix = f"{base_path}/@connections/"
            self._base_path = base_path
            self._path_prefix = prefix
            self._canonical_prefix = "POST\n" + canonical_path(prefix)
        if _PLAIN_ID.fullmatch(connection_id):
            label = connection_id.replace("=", "%3D")
            canonical_label = connection_id.replace("=", "%253D")
        else:
            label = quote(connection_id, safe="")
            canonical_label = canonical_path(label)
        return (
            context,
            self._canonical_prefix + canonical_label,
            f"POST {self._path_prefix}{label}{context.block_head}",
        )
