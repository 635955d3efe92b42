"""The cached-key SigV4 signer against botocore's SigV4Auth, byte for byte.

Random connection ids and bodies, with and without a session token, at random instants
(including the seconds around a UTC midnight, where the signing key must change) and across a
credential refresh (new keys mid-stream must be picked up on the next post).
"""

from __future__ import annotations

import datetime
from typing import Any
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from realtime_common.fanout.sigv4 import (
    FrozenCredentials,
    Signer,
    canonical_host,
    connection_path,
    payload_hash,
)

pytestmark = pytest.mark.unit

# API Gateway connection ids are base64-like ("L0SM9cOFvHcCIhw="); the property also covers the
# other characters a path label may need to escape.
CONNECTION_IDS = st.text(
    alphabet=st.sampled_from("ABCXYZabcxyz0189+/=-_~%@ é"), min_size=1, max_size=24
).filter(lambda s: s not in {".", ".."})
SECRETS = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=8)
ACCESS_KEYS = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", min_size=16, max_size=20)
TOKENS = st.none() | st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=16, max_size=64
)
MIDNIGHT = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC).timestamp()
INSTANTS = st.integers(min_value=-3, max_value=2).map(lambda d: MIDNIGHT + d) | st.integers(
    min_value=1_700_000_000, max_value=2_000_000_000
).map(float)
URLS = st.sampled_from(
    [
        "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod",
        "http://127.0.0.1:4510/_aws/execute-api/abc123/local",
        "https://example.execute-api.us-east-1.amazonaws.com:443/dev",
    ]
)


def botocore_authorization(
    creds: FrozenCredentials, region: str, url: str, body: bytes, instant: float
) -> tuple[str, dict[str, str]]:
    request = AWSRequest(method="POST", url=url, data=body)
    auth = SigV4Auth(
        Credentials(creds.access_key, creds.secret_key, creds.token), "execute-api", region
    )
    when = datetime.datetime.fromtimestamp(instant, datetime.UTC).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        auth.add_auth(request)
    return request.headers["Authorization"], dict(request.headers.items())


def ours(signer: Signer, url: str, connection_id: str, body: bytes, instant: float) -> Any:
    """Our signed headers, from both paths that sign: ``headers()`` (the aiohttp session
    transport) and ``post_head()`` (the wire client's request head, as sent); they must agree."""
    base_path = "/" + url.split("/", 3)[3]
    path = connection_path(base_path, connection_id)
    headers = signer.headers(path, payload_hash(body), now=instant)
    block = signer.post_head(
        base_path, connection_id, payload_hash(body), len(body), now=instant
    ).decode("latin-1")
    request_line, _, rest = block.partition("\r\n")
    assert request_line == f"POST {path} HTTP/1.1"
    assert rest.endswith("\r\n\r\n")
    sent = dict(line.split(": ", 1) for line in rest[:-4].split("\r\n"))
    assert sent == {**headers, "Content-Length": str(len(body))}
    return headers


@settings(max_examples=300, deadline=None)
@given(
    url=URLS,
    region=st.sampled_from(["eu-west-1", "us-east-1", "ap-southeast-2"]),
    access=ACCESS_KEYS,
    secret=SECRETS,
    token=TOKENS,
    posts=st.lists(
        st.tuples(CONNECTION_IDS, st.binary(max_size=512), INSTANTS), min_size=1, max_size=6
    ),
)
def test_authorization_is_botocores_byte_for_byte(
    url: str,
    region: str,
    access: str,
    secret: str,
    token: str | None,
    posts: list[tuple[str, bytes, float]],
) -> None:
    creds = FrozenCredentials(access, secret, token)
    signer = Signer(lambda: creds, region, canonical_host(url))
    # One signer for every post, like a warm Lambda: the cached key must follow the date.
    for connection_id, body, instant in sorted(posts, key=lambda p: p[2]):
        request_url = url + connection_path("", connection_id)
        expected, botocore_headers = botocore_authorization(
            creds, region, request_url, body, instant
        )
        headers = ours(signer, url, connection_id, body, instant)
        assert headers["Authorization"] == expected
        assert headers["X-Amz-Date"] == botocore_headers["X-Amz-Date"]
        assert headers.get("X-Amz-Security-Token") == botocore_headers.get("X-Amz-Security-Token")


@settings(max_examples=100, deadline=None)
@given(
    first=st.tuples(ACCESS_KEYS, SECRETS, TOKENS),
    second=st.tuples(ACCESS_KEYS, SECRETS, TOKENS),
    connection_id=CONNECTION_IDS,
    body=st.binary(max_size=256),
    instant=INSTANTS,
)
def test_a_credential_refresh_is_used_on_the_next_post(
    first: tuple[str, str, str | None],
    second: tuple[str, str, str | None],
    connection_id: str,
    body: bytes,
    instant: float,
) -> None:
    url = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod"
    current = [FrozenCredentials(*first)]
    signer = Signer(lambda: current[0], "eu-west-1", canonical_host(url))
    request_url = url + connection_path("", connection_id)
    for creds in (FrozenCredentials(*first), FrozenCredentials(*second)):
        current[0] = creds
        expected, _ = botocore_authorization(creds, "eu-west-1", request_url, body, instant)
        assert ours(signer, url, connection_id, body, instant)["Authorization"] == expected


def test_the_key_is_derived_once_per_day_not_per_post() -> None:
    creds = FrozenCredentials("AKIDEXAMPLE", "secret", None)
    signer = Signer(lambda: creds, "us-east-1", "h")
    with mock.patch("realtime_common.fanout.sigv4.hmac.new", wraps=__import__("hmac").new) as spy:
        signer.headers("/prod/@connections/a", payload_hash(b"x"), now=MIDNIGHT + 10)
        first = spy.call_count
        signer.headers("/prod/@connections/b", payload_hash(b"y"), now=MIDNIGHT + 11)
        assert spy.call_count == first  # the signature only (one-shot hmac.digest)
        signer.headers("/prod/@connections/b", payload_hash(b"y"), now=MIDNIGHT + 86_400)
        assert spy.call_count - first == 4  # a new day: four HMACs for the key


def test_canonical_host_drops_default_ports_only() -> None:
    assert canonical_host("https://x.example.com:443/prod") == "x.example.com"
    assert canonical_host("http://127.0.0.1:4510/prod") == "127.0.0.1:4510"
    assert canonical_host("http://127.0.0.1/prod") == "127.0.0.1"


@settings(max_examples=300, deadline=None)
@given(st.lists(CONNECTION_IDS, min_size=1, max_size=6))
def test_the_fast_paths_quote_exactly_like_urllib(connection_ids: list[str]) -> None:
    from urllib.parse import quote  # noqa: PLC0415

    from realtime_common.fanout.sigv4 import _CanonicalPaths  # noqa: PLC0415

    canonical = _CanonicalPaths()
    for connection_id in connection_ids:
        path = connection_path("/prod", connection_id)
        assert path == f"/prod/@connections/{quote(connection_id, safe='')}"
        assert canonical(path) == quote(path, safe="/~")


def test_the_post_head_sends_exactly_the_signed_headers() -> None:
    creds = FrozenCredentials("AKIDEXAMPLE", "secret", "token/with+chars=")
    signer = Signer(lambda: creds, "us-east-1", "abc.execute-api.us-east-1.amazonaws.com")
    block = signer.post_head(
        "/prod", "L0SM9cOFvHcCIhw=", payload_hash(b"{}"), 2, now=MIDNIGHT + 5
    ).decode()
    head, _, rest = block.partition("\r\n")
    assert head == "POST /prod/@connections/L0SM9cOFvHcCIhw%3D HTTP/1.1"
    assert rest.endswith("\r\n\r\n")
    sent = dict(line.split(": ", 1) for line in rest[:-4].split("\r\n"))
    path = connection_path("/prod", "L0SM9cOFvHcCIhw=")
    expected = signer.headers(path, payload_hash(b"{}"), now=MIDNIGHT + 5)
    assert sent == {**expected, "Content-Length": "2"}
    # Another stage through the same signer: the cached prefixes follow the base path.
    other = signer.post_head("/dev", "a=", payload_hash(b"{}"), 2, now=MIDNIGHT + 5).decode()
    assert other.startswith("POST /dev/@connections/a%3D HTTP/1.1\r\n")
    assert "Signature=" + ours_signature(signer, "/dev", "a=") in other


@pytest.mark.parametrize("connection_id", ["L0SM9cOFvHcCIhw=", "a b/c"])
def test_post_heads_are_the_post_head_of_each_body(connection_id: str) -> None:
    creds = FrozenCredentials("AKIDEXAMPLE", "secret", "token")
    signer = Signer(lambda: creds, "us-east-1", "abc.execute-api.us-east-1.amazonaws.com")
    bodies = [(payload_hash(body), len(body)) for body in (b"{}", b'{"a":1}', b"[" * 300)]
    heads = signer.post_heads("/prod", connection_id, bodies, now=MIDNIGHT + 5)
    assert heads == [
        signer.post_head("/prod", connection_id, digest, length, now=MIDNIGHT + 5)
        for digest, length in bodies
    ]
    assert len(set(heads)) == len(bodies)  # each body its own signature


def ours_signature(signer: Signer, base_path: str, connection_id: str) -> str:
    headers = signer.headers(
        connection_path(base_path, connection_id), payload_hash(b"{}"), now=MIDNIGHT + 5
    )
    return headers["Authorization"].rsplit("Signature=", 1)[1]


def test_hmac_from_prepared_states_is_the_standard_hmac() -> None:
    import hmac  # noqa: PLC0415

    from realtime_common.fanout.sigv4 import _HmacSha256  # noqa: PLC0415

    for key in (b"", b"k", bytes(range(32)), b"x" * 64, b"y" * 65, b"z" * 200):
        mac = _HmacSha256(key)
        for message in (b"", b"m", b"AWS4-HMAC-SHA256\n" * 20):
            assert mac.digest(message) == hmac.digest(key, message, "sha256")


# ---------------------------------------------------------------------------------------------
# Where the signer's credentials come from (realtime_common.aws.credentials_source)
# ---------------------------------------------------------------------------------------------
def test_static_credentials_are_read_once_and_refreshable_ones_on_every_post() -> None:
    import time  # noqa: PLC0415

    from botocore.credentials import RefreshableCredentials  # noqa: PLC0415

    from realtime_common import aws  # noqa: PLC0415

    static = Credentials("AKIDSTATIC", "static-secret", "static-token")
    session = mock.Mock(get_credentials=mock.Mock(return_value=static))
    with mock.patch.object(aws, "_botocore_session", return_value=session):
        current = aws.credentials_source()
        with mock.patch.object(static, "get_frozen_credentials") as reads:
            assert current() == FrozenCredentials("AKIDSTATIC", "static-secret", "static-token")
            assert current() is current()
            reads.assert_not_called()

    issued = iter(["one", "two", "three"])

    def refresh() -> dict[str, str]:
        name = next(issued)
        return {
            "access_key": f"AKID{name.upper()}",
            "secret_key": f"secret-{name}",
            "token": f"token-{name}",
            # Already inside botocore's mandatory refresh window: refreshed on the next read.
            "expiry_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60)),
        }

    refreshable = RefreshableCredentials.create_from_metadata(refresh(), refresh, "test")
    session = mock.Mock(get_credentials=mock.Mock(return_value=refreshable))
    with mock.patch.object(aws, "_botocore_session", return_value=session):
        current = aws.credentials_source()
        # Each read is inside the refresh window, so each post sees the role's newest keys.
        assert [current().access_key, current().access_key] == ["AKIDTWO", "AKIDTHREE"]


def test_missing_credentials_fail_with_botocores_error() -> None:
    from botocore.exceptions import NoCredentialsError  # noqa: PLC0415

    from realtime_common import aws  # noqa: PLC0415

    session = mock.Mock(get_credentials=mock.Mock(return_value=None))
    with mock.patch.object(aws, "_botocore_session", return_value=session):
        current = aws.credentials_source()
        with pytest.raises(NoCredentialsError):
            current()
