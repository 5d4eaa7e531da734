"""A provider for upstreams that speak only Chat Completions (vLLM, llama.cpp, Ollama, LM Studio).

:class:`ChatCompletionsProvider` calls ``POST {url}`` (a ``…/chat/completions`` endpoint)
and makes it look like any other :class:`~.base.ModelProvider`: requests are mapped by
:mod:`.chat_mapping`, streamed chunks become canonical item events by :mod:`.chat_stream`,
and upstream errors become :class:`~pilothouse.errors.UpstreamError` exactly as the
Responses provider maps them (status, code, ``retry-after``), so that retries, breakers
and fallbacks treat both alike. The HTTP plumbing (the pooled client, error mapping,
chunked SSE reading) is the Responses provider's, reused rather than repeated.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from pilothouse.errors import UpstreamError
from pilothouse.runtime.http import HTTPClientError
from pilothouse.runtime.providers.base import ModelRequest, ModelResult, StreamEvent
from pilothouse.runtime.providers.chat_mapping import (
    chat_body,
    estimate_input_tokens,
    result_from_completion,
)
from pilothouse.runtime.providers.chat_stream import ChatStreamAssembler
from pilothouse.runtime.providers.http_upstream import HttpUpstream
from pilothouse.runtime.providers.responses_http import _connection_error, _error_from
from pilothouse.runtime.providers.sse import iter_sse


class ChatCompletionsProvider(HttpUpstream):
    """Calls ``POST {url}`` with Chat Completions bodies. See the module docstring.

    Args:
        name: The provider's name (in errors and routing).
        url: The full Chat Completions URL, e.g. ``http://localhost:8000/v1/chat/completions``.
        auth: How requests authenticate (``NoAuth`` for an open local server).
        headers: Extra headers for every request.
        timeout_s: Total time allowed for one call, streaming included.
    """

    async def complete(self, request: ModelRequest) -> ModelResult:
        """One non-streaming call."""
        body = orjson.dumps(chat_body(request, stream=False))
        headers = await self._headers(request)
        try:
            resp = await self._client().request("POST", self.endpoint, headers=headers, body=body)
        except (HTTPClientError, TimeoutError) as exc:
            raise _connection_error(self.name, exc) from None
        if resp.status >= 400:
            raise _error_from(resp.status, resp.body, resp.headers)
        return result_from_completion(self._decode(resp.body))

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent | ModelResult]:
        """One streaming call: item events as chunks arrive, then the result."""
        body = orjson.dumps(chat_body(request, stream=True))
        headers = {**await self._headers(request), "accept": "text/event-stream"}
        assembler = ChatStreamAssembler()
        try:
            async with self._client().stream(
                "POST", self.endpoint, headers=headers, body=body
            ) as resp:
                if resp.status >= 400:
                    raise _error_from(resp.status, await resp.read(), resp.headers)
                async for chunk in iter_sse(resp.iter_chunks()):
                    for event in assembler.feed(chunk):
                        yield event
        except (HTTPClientError, TimeoutError) as exc:
            raise _connection_error(self.name, exc) from None
        except orjson.JSONDecodeError:
            raise self._bad_response("sent a stream chunk that is not JSON") from None
        events, result = assembler.finish()
        for event in events:
            yield event
        yield result

    async def count_input_tokens(self, request: ModelRequest) -> int:
        """An estimate, made locally: Chat Completions has no token-counting endpoint.

        The count is :func:`~.chat_mapping.estimate_input_tokens` of the body that would
        be sent — about one token per three bytes, plus a flat amount per image — which
        over-counts on purpose, because it feeds limits and cost reservations.
        """
        return estimate_input_tokens(chat_body(request, stream=False))

    def _decode(self, raw: bytes) -> dict[str, Any]:
        try:
            payload = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise self._bad_response("answered with invalid JSON") from None
        if not isinstance(payload, dict):
            raise self._bad_response("answered with a non-object")
        return payload

    def _bad_response(self, what: str) -> UpstreamError:
        return UpstreamError(f"Upstream '{self.name}' {what}.", code="upstream_bad_response")
