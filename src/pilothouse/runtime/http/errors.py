"""The errors of the HTTP client, drawn as a tree.

They describe the transport, not an answer: a status of 4xx or 5xx is a response, never
one of these. Callers translate them into their own terms (a provider into
:class:`~pilothouse.errors.UpstreamError`, a tool adapter into
:class:`~pilothouse.runtime.tools.base.ToolFailure`), so they stay outside
:class:`~pilothouse.errors.PilothouseError`: none of them reaches the API edge, and none
has an HTTP status of its own. A deadline is Python's own :class:`TimeoutError`, so that
one ``except TimeoutError`` catches the client's deadlines and any other.

::

    HTTPClientError              the root; carries ``origin`` (``scheme://host:port``)
    ├── ConnectError             no connection could be opened (refused, unreachable, DNS)
    │   └── TLSError             the TLS handshake failed (certificate, protocol)
    ├── ConnectionClosed         the peer closed or reset the connection before the whole
    │                            response arrived (never delivered as a short body)
    ├── ProtocolError            the bytes are not an HTTP/1.1 response we can read
    │                            (bad framing, an upgrade, an undecodable body)
    └── InvalidURL               not an absolute ``http``/``https`` URL (also a ValueError)
    TimeoutError (builtin)       the request's total or connect deadline passed
"""

from __future__ import annotations


class HTTPClientError(Exception):
    """Root of the client's errors.

    Attributes:
        origin: ``scheme://host:port`` of the request (never its path or query, which
            may carry secrets).
    """

    def __init__(self, message: str, *, origin: str = "") -> None:
        super().__init__(message)
        self.origin = origin


class ConnectError(HTTPClientError):
    """No connection could be opened to the origin."""


class TLSError(ConnectError):
    """The TLS handshake failed: an untrusted or mismatched certificate, or no common
    protocol. Not worth retrying, unlike the other connect failures."""


class ConnectionClosed(HTTPClientError):
    """The connection was closed or reset before the whole response arrived."""


class ProtocolError(HTTPClientError):
    """The peer's bytes are not a response this client can read."""


class InvalidURL(HTTPClientError, ValueError):
    """The URL is not an absolute ``http`` or ``https`` URL with a host; nothing was sent."""
