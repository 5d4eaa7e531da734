"""A provider for any upstream that speaks the Responses API over HTTP.

OpenAI, OpenAI-compatible servers and Azure OpenAI / Foundry differ only in where the
endpoint is and how requests authenticate, so one client serves all three; the
differences live in :mod:`pilothouse.runtime.providers.auth` and in the URL given here.
The HTTP client is :class:`~pilothouse.runtime.http.HttpClient` (see
:mod:`~pilothouse.runtime.providers.http_upstream` for why).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import orjson
from yarl import URL

from pilothouse.errors import UpstreamError
from pilothouse.protocol.resource import normalize_usage
from pilothouse.runtime.http import HTTPClientError
from pilothouse.runtime.providers.auth import Auth
from pilothouse.runtime.providers.base import ModelRequest, ModelResult, StreamEvent
from pilothouse.runtime.providers.http_upstream import HttpUpstream
from pilothouse.runtime.providers.sse import iter_sse

_LIFECYCLE = frozenset({"response.created", "response.in_progress", "response.queued"})
_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})


class ResponsesHTTPProvider(HttpUpstream):
    """Calls ``POST {url}`` with Responses bodies. See the module docstring.

    ``query`` is sent with every request (Azure's ``api-version``).
    """

    def __init__(
        self,
        name: str,
        url: str,
        auth: Auth,
        *,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        timeout_s: float = 600.0,
    ) -> None:
        super().__init__(name, url, auth, headers=headers, timeout_s=timeout_s)
        self.query = query or {}
        self._target = self.endpoint.extend_query(self.query)
        # The path grows by a segment; a query in the configured URL stays a query.
        tokens_path = self.endpoint.raw_path.rstrip("/") + "/input_tokens"
        tokens = self.endpoint.with_path(tokens_path, encoded=True, keep_query=True)
        self._tokens_target = tokens.extend_query(self.query)

    async def complete(self, request: ModelRequest) -> ModelResult:
        """One non-streaming call."""
        body = orjson.dumps(request.to_body(stream=False))
        payload = await self._post(self._target, body, await self._headers(request))
        return result_from_response(payload)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent | ModelResult]:
        """One streaming call, relaying item events and ending with the result."""
        body = orjson.dumps(request.to_body(stream=True))
        headers = {**await self._headers(request), "accept": "text/event-stream"}
        try:
            async with self._client().stream(
                "POST", self._target, headers=headers, body=body
            ) as resp:
                if resp.status >= 400:
                    raise _error_from(resp.status, await resp.read(), resp.headers)
                async for event in iter_sse(resp.iter_chunks()):
                    kind = event.get("type", "")
                    if kind in _LIFECYCLE:
                        continue
                    if kind in _TERMINAL:
                        yield result_from_response(event.get("response") or {})
                        return
                    if kind == "error":
                        raise _stream_error(event)
                    event.pop("sequence_number", None)
                    yield event
        except (HTTPClientError, TimeoutError) as exc:
            raise _connection_error(self.name, exc) from None
        except orjson.JSONDecodeError:
            raise UpstreamError(
                f"Upstream '{self.name}' sent a stream event that is not JSON.",
                code="upstream_bad_response",
            ) from None
        raise UpstreamError(
            f"Upstream '{self.name}' ended the stream without a terminal event.",
            code="upstream_stream_truncated",
        )

    async def count_input_tokens(self, request: ModelRequest) -> int:
        """Asks the upstream's ``/responses/input_tokens``."""
        body = request.to_body(stream=False)
        body.pop("store", None)
        payload = await self._post(
            self._tokens_target, orjson.dumps(body), await self._headers(request)
        )
        return int(payload.get("input_tokens", 0))

    async def _post(self, url: URL, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
        try:
            resp = await self._client().request("POST", url, headers=headers, body=body)
        except (HTTPClientError, TimeoutError) as exc:
            raise _connection_error(self.name, exc) from None
        raw = resp.body
        if resp.status >= 400:
            raise _error_from(resp.status, raw, resp.headers)
        try:
            payload = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise UpstreamError(
                f"Upstream '{self.name}' answered with invalid JSON.", code="upstream_bad_response"
            ) from None
        if not isinstance(payload, dict):
            raise UpstreamError(
                f"Upstream '{self.name}' answered with a non-object.", code="upstream_bad_response"
            )
        return payload


def result_from_response(payload: dict[str, Any]) -> ModelResult:
    """A ModelResult from an upstream Response object."""
    return ModelResult(
        output=list(payload.get("output") or []),
        usage=normalize_usage(payload.get("usage")),
        status=payload.get("status") or "completed",
        incomplete_details=payload.get("incomplete_details"),
        error=payload.get("error"),
        model=payload.get("model"),
    )


def _error_from(status: int, raw: bytes, headers: Mapping[str, str]) -> UpstreamError:
    """Map an upstream error response onto our envelope, keeping ``retry-after``."""
    try:
        error = orjson.loads(raw).get("error") or {}
    except (orjson.JSONDecodeError, AttributeError):
        error = {}
    if not isinstance(error, dict):
        error = {"message": str(error)}
    message = error.get("message") or f"Upstream returned HTTP {status}."
    return UpstreamError(
        message,
        status=status if status in (400, 401, 403, 404, 409, 422, 429) or status >= 500 else 502,
        type=error.get("type") or ("rate_limit_error" if status == 429 else None),
        param=error.get("param"),
        code=error.get("code") or ("rate_limit_exceeded" if status == 429 else "upstream_error"),
        retry_after=_retry_after(headers),
    )


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait, from ``retry-after-ms`` or else ``retry-after`` (delta-seconds or an
    HTTP date). Values that are not finite numbers or dates are ignored, never trusted:
    the API edge turns this into response headers."""
    seconds = _seconds(headers.get("retry-after-ms"))
    if seconds is not None:
        return seconds / 1000
    raw = headers.get("retry-after")
    seconds = _seconds(raw)
    if seconds is not None or raw is None:
        return seconds
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _seconds(raw: str | None) -> float | None:
    """A non-negative finite number from a header value, else None."""
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return max(0.0, value) if math.isfinite(value) else None


def _stream_error(event: dict[str, Any]) -> UpstreamError:
    """An ``error`` event, nested (OpenAI's wire form) or flat (the SDK's type)."""
    nested = event.get("error")
    error: dict[str, Any] = nested if isinstance(nested, dict) else event
    return UpstreamError(
        str(error.get("message") or "Upstream stream error."),
        code=error.get("code") or "upstream_error",
        param=error.get("param"),
    )


def _connection_error(name: str, exc: BaseException) -> UpstreamError:
    if isinstance(exc, TimeoutError):
        return UpstreamError(
            f"Upstream '{name}' timed out.", status=504, code="upstream_timeout", retry_after=1
        )
    return UpstreamError(
        f"Upstream '{name}' could not be reached: {type(exc).__name__}.",
        status=502,
        code="upstream_unreachable",
        retry_after=1,
    )
