"""``https`` against a loopback server with a self-signed certificate made here."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from pilothouse.runtime.http import HttpClient, TLSError

from .certificates import self_signed, server_context
from .raw_server import RawServer


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for ``127.0.0.1`` and ``localhost``, and its key."""
    return self_signed(tmp_path_factory.mktemp("tls"))


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
