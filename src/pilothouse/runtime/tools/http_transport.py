"""JSON over HTTP for tool adapters: one pooled HTTP client, and what its answers mean.

:class:`HttpTransport` is shared machinery of the ``http`` and ``openapi`` adapters. It
sends one request with the call's correlation headers and maps the answer:

========================================  =============================================
answer                                    result
========================================  =============================================
2xx with a JSON body (or no body)         the parsed JSON (``None`` when empty)
2xx with a body that is not JSON          non-retryable ``invalid_output``
429, 5xx                                  retryable ``http_<status>``, ``retry_after``
                                          from the ``retry-after`` header (seconds or
                                          HTTP date)
3xx                                       non-retryable ``http_<status>`` (redirects
                                          are not followed: they could leave the
                                          egress allowlist)
other 4xx                                 non-retryable ``http_<status>`` with the
                                          body's message
connection refused, reset, cut short      retryable ``connection_error``
transport timeout                         retryable ``timeout``
TLS failure                               non-retryable ``tls_error``
host outside the egress allowlist         non-retryable ``egress_denied``, not sent
========================================  =============================================

Headers sent: the binding's own (secret references resolved by the adapter when it is
built; their values are never logged), then the call's correlation headers
(``traceparent``, ``X-Pilothouse-Run-Id``), then ``Idempotency-Key`` — the same on every
attempt of a call, so the tool can apply a side effect once.

The client (:class:`~pilothouse.runtime.http.HttpClient`) is created lazily on the
running loop (a client is bound to its loop) and closed by :meth:`HttpTransport.aclose`.
"""

from __future__ import annotations

import email.utils
import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import orjson
from yarl import URL

from pilothouse.runtime.http import (
    ConnectError,
    ConnectionClosed,
    HttpClient,
    ProtocolError,
    TLSError,
)
from pilothouse.runtime.tools.base import ToolCall, ToolFailure

# The gateway's own timeout fires first; the transport's is a backstop.
_TRANSPORT_SLACK_S = 1.0
_MAX_MESSAGE = 500

QueryPairs = list[tuple[str, str]]


def scalar_text(value: Any) -> str:
    """A JSON scalar as it appears in a URL (booleans lower-case, objects as JSON)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def query_pairs(arguments: Mapping[str, Any]) -> QueryPairs:
    """Arguments as query pairs: lists repeat the key, ``None`` is left out."""
    pairs: QueryPairs = []
    for key, value in arguments.items():
        if value is None:
            continue
        items = value if isinstance(value, list) else [value]
        pairs.extend((key, scalar_text(item)) for item in items)
    return pairs


class HttpTransport:
    """Sends JSON requests for one tool binding. See the module docstring.

    Args:
        headers: Static headers, already resolved (they may hold credentials).
        egress: Host patterns (``api.example.com``, ``*.example.com``, ``host:port``)
            or URL prefixes (``https://api.example.com/v2/``) the adapter may reach;
            empty means anywhere.
    """

    def __init__(
        self, *, headers: Mapping[str, str] | None = None, egress: Sequence[str] = ()
    ) -> None:
        self._headers = dict(headers or {})
        self._egress = [_normalised(URL(p)) if "://" in p else p.lower() for p in egress]
        self._session: HttpClient | None = None

    def allowed(self, url: URL) -> bool:
        """Whether ``url`` matches the egress allowlist (always, when it is empty).

        A pattern with ``://`` is a URL prefix, compared with the normalised URL (scheme
        and host lower-case, default port dropped, ``..`` resolved), so
        ``https://api.example.com/v2/`` admits ``/v2/orders`` but neither ``/v20`` (when
        written with its trailing slash) nor ``/v2/../admin``. Any other pattern is a
        host glob (``*.example.com``, ``host:port``).
        """
        if not self._egress:
            return True
        host = (url.host or "").lower()
        candidates = (host, f"{host}:{url.port}")
        normalised = _normalised(url)
        return any(
            normalised.startswith(p) if "://" in p else fnmatch.fnmatchcase(c, p)
            for p in self._egress
            for c in candidates
        )

    async def request(
        self,
        method: str,
        url: str,
        call: ToolCall,
        timeout_s: float,
        *,
        query: QueryPairs | None = None,
        body: Any = None,
        send_body: bool = False,
    ) -> Any:
        """Send one request for ``call``; return the JSON answer or raise ToolFailure."""
        target = URL(url, encoded=True)
        if not self.allowed(target):
            raise ToolFailure(
                f"The tool's host '{target.host}' is not on its egress allowlist.",
                retryable=False,
                code="egress_denied",
            )
        try:
            response = await self._client().request(
                method,
                target,
                params=query or None,
                body=orjson.dumps(body) if send_body else None,
                headers=self._request_headers(call, send_body),
                timeout_s=timeout_s + _TRANSPORT_SLACK_S,
            )
        except TLSError as exc:
            raise ToolFailure(f"TLS failure: {exc}", retryable=False, code="tls_error") from None
        except TimeoutError:
            raise ToolFailure(
                f"The tool did not answer within {timeout_s:g} s.", retryable=True, code="timeout"
            ) from None
        except (ConnectError, ConnectionClosed, ProtocolError) as exc:
            raise ToolFailure(
                f"The connection to the tool failed ({type(exc).__name__}).",
                retryable=True,
                code="connection_error",
            ) from None
        return _interpret(response.status, response.headers, response.body)

    async def aclose(self) -> None:
        """Close the client (and its connections)."""
        if self._session is not None and not self._session.closed:
            await self._session.aclose()
        self._session = None

    def _client(self) -> HttpClient:
        if self._session is None or self._session.closed:
            self._session = HttpClient()
        return self._session

    def _request_headers(self, call: ToolCall, send_body: bool) -> dict[str, str]:
        headers = {"Accept": "application/json", **self._headers, **call.headers}
        if send_body:
            headers["Content-Type"] = "application/json"
        headers.setdefault("X-Pilothouse-Run-Id", call.run_id)
        headers["Idempotency-Key"] = call.idempotency_key
        return headers


def _interpret(status: int, headers: Mapping[str, str], raw: bytes) -> Any:
    if 200 <= status < 300:
        if not raw.strip():
            return None
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ToolFailure(
                f"The tool answered {status} with a body that is not JSON.",
                retryable=False,
                code="invalid_output",
            ) from None
    message = f"The tool answered {status}: {error_message(raw)}"
    if status == 429 or status >= 500:
        retry_after = parse_retry_after(headers.get("retry-after"))
        raise ToolFailure(message, retryable=True, code=f"http_{status}", retry_after=retry_after)
    raise ToolFailure(message, retryable=False, code=f"http_{status}")


def error_message(raw: bytes) -> str:
    """The human-readable message of an error body (JSON ``error.message``, ``message``,
    ``detail`` or ``error``; else the text), trimmed."""
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        payload = None
    if isinstance(payload, dict):
        for candidate in _message_candidates(payload):
            if isinstance(candidate, str) and candidate:
                return candidate[:_MAX_MESSAGE]
    text = raw.decode("utf-8", "replace").strip()
    return text[:_MAX_MESSAGE] or "(no body)"


def _message_candidates(payload: dict[str, Any]) -> Iterable[Any]:
    error = payload.get("error")
    if isinstance(error, dict):
        yield error.get("message")
    yield payload.get("message")
    yield payload.get("detail")
    yield error


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``retry-after`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _normalised(url: URL) -> str:
    """``url`` as allowlist prefixes are compared: scheme and host lower-case, a port only
    when it is not the scheme's default, the path percent-decoded with dot segments
    resolved (as a server would read it), no query or fragment."""
    scheme = url.scheme.lower()
    port = url.explicit_port
    shown = f":{port}" if port is not None and port != _DEFAULT_PORTS.get(scheme) else ""
    return f"{scheme}://{(url.host or '').lower()}{shown}{_resolved_path(url.raw_path)}"


def _resolved_path(raw_path: str) -> str:
    """The path decoded and without ``.`` and ``..`` segments (RFC 3986, 5.2.4)."""
    segments: list[str] = []
    parts = unquote(raw_path or "/").split("/")
    for part in parts[1:]:
        if part == "..":
            if segments:
                segments.pop()
        elif part != ".":
            segments.append(part)
    trailing = parts[-1] in (".", "..") and bool(segments)
    return "/" + "/".join(segments) + ("/" if trailing else "")


_DEFAULT_PORTS = {"http": 80, "https": 443}
