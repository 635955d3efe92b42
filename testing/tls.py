"""A throwaway CA and a certificate for 127.0.0.1, for serving HTTPS in tests and benchmarks.

The management API is HTTPS in AWS; the fakes serve it over TLS with this certificate when asked
(``testing/fake_management_api.py --tls-cert``), and a client trusts ``ca.pem`` (an
``ssl.SSLContext`` with ``cadata``, or ``SSL_CERT_FILE`` for OpenSSL's default trust store).
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LocalhostCertificate:
    server_pem: Path  # the certificate for 127.0.0.1 and its private key
    ca_pem: Path  # the CA that signed it: what a client trusts


def issue(folder: Path, *, hours: int = 24) -> LocalhostCertificate:
    """Write a new CA and a server certificate for 127.0.0.1 (and ``localhost``) into ``folder``."""
    from cryptography import x509  # noqa: PLC0415 (a test dependency, not a Lambda one)
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    now = datetime.datetime.now(datetime.UTC)

    def name(common_name: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    def builder(
        subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey
    ) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=hours))
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name("realtime-notifications test CA")
    ca = (
        builder(ca_name, ca_name, ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = (
        builder(name("127.0.0.1"), ca_name, server_key)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    issued = LocalhostCertificate(folder / "server.pem", folder / "ca.pem")
    issued.server_pem.write_bytes(
        server.public_bytes(serialization.Encoding.PEM)
        + server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    issued.ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return issued
