"""The ``http`` adapter: a tool that is one JSON endpoint.

A binding (:class:`~pilothouse.control.tool_contract.HttpBinding`) names a method and a
URL. When the adapter is built, ``${NAME}`` references in the URL are replaced by the
environment variable ``NAME`` (``${NAME:-default}`` falls back to ``default`` when
unset) and header values are resolved as secret references (``env:NAME``,
``file:PATH``), so a missing secret fails at start-up, not mid-run. Entries of the egress
allowlist may hold ``${NAME}`` references too (a prefix such as ``${API_URL}/v2/``). For
each call, ``{argument}`` fields in the URL are filled from the arguments
(URL-quoted, so an argument can never add a path segment or change the host) and those
arguments are removed; the rest go in the query string for GET and DELETE, and as the
JSON body otherwise. What the answer means is
:class:`~pilothouse.runtime.tools.http_transport.HttpTransport`'s business.
"""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import quote

from pilothouse.control.secrets import resolve_secret
from pilothouse.control.tool_contract import HttpBinding
from pilothouse.runtime.tools.base import ToolCall, ToolFailure
from pilothouse.runtime.tools.http_transport import HttpTransport, query_pairs, scalar_text

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_QUERY_METHODS = frozenset({"GET", "DELETE"})


def expand_environment(url: str) -> str:
    """``url`` with ``${NAME}`` replaced by the environment variable (unset: an error), or
    ``${NAME:-default}`` by the variable or, when it is unset, the default."""

    def value(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if default is not None:
            return os.environ.get(name, default)
        return resolve_secret(f"env:{name}")

    return _ENV_REFERENCE.sub(value, url)


def fill_url_fields(url: str, arguments: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``url`` with ``{name}`` filled from ``arguments`` (URL-quoted), and the arguments
    that were not used. A field without an argument is a non-retryable failure."""
    rest = dict(arguments)
    missing: list[str] = []

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in arguments or arguments[name] is None:
            missing.append(name)
            return match.group(0)
        rest.pop(name, None)
        return quote(scalar_text(arguments[name]), safe="")

    filled = _PLACEHOLDER.sub(fill, url)
    if missing:
        raise ToolFailure(
            f"Missing arguments for the URL: {', '.join(sorted(set(missing)))}.",
            retryable=False,
            code="invalid_arguments",
        )
    return filled, rest


class HttpAdapter:
    """Calls one JSON endpoint per the binding. See the module docstring.

    Raises:
        InvalidRequest: A ``${NAME}`` or a header's secret reference cannot be resolved.
    """

    def __init__(self, binding: HttpBinding) -> None:
        self._method = binding.method
        self._url = expand_environment(binding.url)
        headers = {name: resolve_secret(value) for name, value in binding.headers.items()}
        egress = [expand_environment(pattern) for pattern in binding.egress]
        self._transport = HttpTransport(headers=headers, egress=egress)

    async def invoke(self, call: ToolCall, timeout_s: float) -> Any:
        """One request for ``call``; the endpoint's JSON answer."""
        url, rest = fill_url_fields(self._url, call.arguments)
        if self._method in _QUERY_METHODS:
            return await self._transport.request(
                self._method, url, call, timeout_s, query=query_pairs(rest)
            )
        return await self._transport.request(
            self._method, url, call, timeout_s, body=rest, send_body=True
        )

    async def aclose(self) -> None:
        """Close the HTTP session."""
        await self._transport.aclose()
