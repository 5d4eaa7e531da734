"""``https`` against a loopback server with a self-signed certificate made here."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pilothouse.runtime.http import HttpClient, TLSError

from .raw_server import RawServer


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for ``127.0.0.1`` and ``localhost``, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pilothouse test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


async def test_https_with_a_trusted_certificate_reuses_its_connection(
    certificate: tuple[Path, Path],
) -> None:
    trusting = ssl.create_default_context(cafile=str(certificate[0]))
    async with (
        RawServer(tls=server_context(certificate)) as server,
        HttpClient(ssl_context=trusting) as client,
    ):
        bodies = [(await client.request("GET", server.url + f"/{n}")).body for n in range(2)]
        localhost = server.url.replace("127.0.0.1", "localhost")
        assert (await client.request("GET", localhost + "/name")).status == 200
    assert bodies == [b"GET /0 HTTP/1.1", b"GET /1 HTTP/1.1"]
    assert server.connections == 2  # one per origin: 127.0.0.1 and localhost


async def test_an_untrusted_certificate_is_a_tls_error(certificate: tuple[Path, Path]) -> None:
    async with RawServer(tls=server_context(certificate)) as server, HttpClient() as client:
        with pytest.raises(TLSError, match=r"TLS with https://127\.0\.0\.1"):
            await client.request("GET", server.url)
