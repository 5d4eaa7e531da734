"""The ``openapi`` adapter: a tool that is one operation of an OpenAPI 3 document.

The binding (:class:`~pilothouse.control.tool_contract.OpenApiBinding`) names the document
(relative to the bundle root) and an ``operationId``. When the adapter is built it reads
the operation with :func:`~pilothouse.control.openapi_import.find_operation` — the same
reading that produced the contract's input schema, so the arguments the gateway validated
are exactly the ones this adapter knows where to put:

* path parameters fill the path template (URL-quoted);
* query parameters go in the query string (lists repeat the key; absent ones are left
  out);
* for an object request body, the arguments that are its properties form the JSON body;
  for any other body, the ``body`` argument is the body.

The request goes to ``base_url`` (the binding's, else the document's first server) through
the same :class:`~pilothouse.runtime.tools.http_transport.HttpTransport` as the ``http``
adapter, so headers, idempotency keys, status mapping, the egress allowlist (the
binding's ``egress``, or ``egress:`` in the ``tools/<x>.openapi.yaml`` source) and errors
are identical.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from pilothouse.control.openapi_import import (
    Operation,
    default_base_url,
    find_operation,
    load_openapi_document,
)
from pilothouse.control.secrets import resolve_secret
from pilothouse.control.tool_contract import OpenApiBinding
from pilothouse.runtime.tools.base import ToolCall, ToolFailure
from pilothouse.runtime.tools.http import expand_environment
from pilothouse.runtime.tools.http_transport import HttpTransport, query_pairs, scalar_text


class OpenApiAdapter:
    """Executes one OpenAPI operation over HTTP. See the module docstring."""

    def __init__(
        self,
        operation: Operation,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        egress: list[str] | None = None,
    ) -> None:
        self._operation = operation
        self._base_url = base_url.rstrip("/")
        self._transport = HttpTransport(headers=headers, egress=egress or ())

    @classmethod
    def from_binding(
        cls,
        binding: OpenApiBinding,
        bundle_root: Path,
        *,
        documents: dict[Path, dict[str, Any]] | None = None,
    ) -> OpenApiAdapter:
        """The adapter for an ``openapi`` binding; ``documents`` caches parsed documents.

        Raises:
            OpenApiImportError: The document or the operation cannot be read.
            ValueError: Neither the binding nor the document gives a base URL.
            InvalidRequest: A header's secret reference cannot be resolved.
        """
        path = (bundle_root / binding.document).resolve()
        cache = documents if documents is not None else {}
        if path not in cache:
            cache[path] = load_openapi_document(path)
        document = cache[path]
        base_url = binding.base_url or default_base_url(document)
        if not base_url or not base_url.startswith(("http://", "https://")):
            raise ValueError(
                f"operation '{binding.operation_id}' has no absolute base URL; "
                "set base_url in the binding"
            )
        headers = {name: resolve_secret(value) for name, value in binding.headers.items()}
        operation = find_operation(document, binding.operation_id)
        return cls(operation, expand_environment(base_url), headers=headers, egress=binding.egress)

    async def invoke(self, call: ToolCall, timeout_s: float) -> Any:
        """Send the operation's request built from ``call.arguments``."""
        operation = self._operation
        arguments = call.arguments
        url = self._base_url + self._fill_path(arguments)
        query = query_pairs(
            {p.name: arguments.get(p.name) for p in operation.parameters if p.location == "query"}
        )
        if operation.body_mode is None:
            return await self._transport.request(
                operation.method, url, call, timeout_s, query=query
            )
        if operation.body_mode == "whole":
            body = arguments.get("body")
        else:
            body = {k: arguments[k] for k in operation.body_properties if k in arguments}
        return await self._transport.request(
            operation.method, url, call, timeout_s, query=query, body=body, send_body=True
        )

    def _fill_path(self, arguments: dict[str, Any]) -> str:
        path = self._operation.path
        for parameter in self._operation.parameters:
            if parameter.location != "path":
                continue
            value = arguments.get(parameter.name)
            if value is None:
                raise ToolFailure(
                    f"Missing the path parameter '{parameter.name}'.",
                    retryable=False,
                    code="invalid_arguments",
                )
            path = path.replace("{" + parameter.name + "}", quote(scalar_text(value), safe=""))
        return path

    async def aclose(self) -> None:
        """Close the HTTP session."""
        await self._transport.aclose()
