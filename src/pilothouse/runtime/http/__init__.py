"""Pilothouse's HTTP/1.1 client for its outbound hot paths (model providers, HTTP tools).

:class:`HttpClient` is the entry point; :mod:`.client` says what it does and why it
exists, :mod:`.errors` draws its exception tree. Modules: ``client`` (requests, pools per
origin, deadlines), ``pool`` (keep-alive reuse under a limit), ``connection`` (the asyncio
protocol and ``httptools`` parsing), ``response`` (what comes back, body decoding).
"""

from pilothouse.runtime.http.client import HttpClient, StreamContext
from pilothouse.runtime.http.errors import (
    ConnectError,
    ConnectionClosed,
    HTTPClientError,
    InvalidURL,
    ProtocolError,
    TLSError,
)
from pilothouse.runtime.http.response import Response, StreamingResponse

__all__ = [
    "ConnectError",
    "ConnectionClosed",
    "HTTPClientError",
    "HttpClient",
    "InvalidURL",
    "ProtocolError",
    "Response",
    "StreamContext",
    "StreamingResponse",
    "TLSError",
]
